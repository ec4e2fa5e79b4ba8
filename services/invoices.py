"""Invoices and the balance: issuing, status changes, balance entries with their cause, the indexed
search behind the invoice list, and the PDF (fpdf2 with DejaVu Sans for Cyrillic)."""
from datetime import date
from decimal import Decimal

import peewee as pw
from flask_babel import format_currency
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models import BalanceEntry, Invoice, InvoiceLine, Organization, User, db, utcnow, write_transaction

from . import audit, notifications

PER_PAGE = 20
# Where an invoice may go from each status; paid and cancelled are final.
NEXT_STATUSES = {"issued": ("paid", "overdue", "cancelled"), "overdue": ("paid", "cancelled"), "paid": (), "cancelled": ()}
STATUS_LABELS = {
    "issued": _l("Issued"),
    "paid": _l("Paid"),
    "overdue": _l("Overdue"),
    "cancelled": _l("Cancelled"),
}


class InvoiceError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def next_number(organization_id, issued_on):
    """The next free number of the year for this organization: 2026-0007 (numbers typed by hand are skipped)."""
    prefix = f"{issued_on.year}-"
    taken = {number for (number,) in Invoice.select(Invoice.number).where(
        Invoice.organization == organization_id, Invoice.number.startswith(prefix)).tuples()}
    n = len(taken) + 1
    while f"{prefix}{n:04d}" in taken:
        n += 1
    return f"{prefix}{n:04d}"


CONFIGURED = object()


def issue_invoice(organization, amount, period_start, period_end, issued_on=None, number=None, currency=None,
                  description="", actor=None, status="issued", vat_rate=CONFIGURED):
    """Create an invoice with one line (its description and amount); a given `number` must be new for the
    organization. The VAT rate is INVOICE_VAT_RATE unless given (None: no VAT), fixed from then on."""
    issued_on = issued_on or date.today()
    if vat_rate is CONFIGURED:
        from services.invoice_document import configured_vat_rate

        vat_rate = configured_vat_rate()
    if period_end < period_start:
        raise InvoiceError(_l("The period ends before it starts."))
    if Decimal(amount) <= 0:
        raise InvoiceError(_l("The amount must be more than zero."))
    try:
        # The organization's row locked first: two invoices issued at once get consecutive numbers.
        with write_transaction((Organization, organization.id)):
            number = number or next_number(organization.id, issued_on)
            if Invoice.select().where(Invoice.organization == organization.id, Invoice.number == number).exists():
                raise InvoiceError(_l("An invoice with this number already exists."))
            invoice = Invoice.create(
                organization=organization, number=number, issued_on=issued_on, period_start=period_start,
                period_end=period_end, amount=Decimal(amount), currency=currency or organization.currency,
                description=description, status="issued", vat_rate=vat_rate,
            )
            InvoiceLine.create(invoice=invoice, position=1, description=description, quantity=1, unit="service",
                               price=Decimal(amount), amount=Decimal(amount))
            audit.record("invoice.issued", actor=actor, organization=organization.id, target=number,
                         amount=str(amount))
            if status != "issued":
                set_status(invoice, status, actor=actor)
            announce(invoice, "issued")
    except pw.IntegrityError:
        # Another request took the same number between the check and the insert (the unique index held).
        raise InvoiceError(_l("An invoice with this number already exists.")) from None
    return invoice


def set_status(invoice, status, actor=None):
    """Move the invoice to `status`; paying it adds its amount to the organization's balance."""
    if status not in NEXT_STATUSES.get(invoice.status, ()):
        raise InvoiceError(_l("An invoice that is %(status)s cannot become %(new)s.",
                              status=STATUS_LABELS[invoice.status], new=STATUS_LABELS.get(status, status)))
    with db.atomic():
        changed = Invoice.update(status=status, paid_at=utcnow() if status == "paid" else None).where(
            Invoice.id == invoice.id, Invoice.status == invoice.status
        ).execute()
        if not changed:  # someone else changed it first
            raise InvoiceError(_l("The invoice was changed meanwhile. Reload the page."))
        invoice.status = status
        if status == "paid":
            change_balance(invoice.organization_id, invoice.amount, f"invoice:{invoice.number}", actor=actor,
                           invoice=invoice)
        audit.record("invoice.status", actor=actor, organization=invoice.organization_id, target=invoice.number,
                     status=status)
        if status == "paid":
            announce(invoice, "paid")
    return invoice


def change_balance(organization_id, change, cause, actor=None, invoice=None, at=None):
    """Add `change` (negative for a charge) to the balance and record why, in one transaction."""
    change = Decimal(change)
    with db.atomic():
        # Written as balance = balance + change so concurrent changes do not overwrite each other.
        Organization.update(balance=pw.fn.COALESCE(Organization.balance, 0) + change).where(
            Organization.id == organization_id
        ).execute()
        after, currency = Organization.select(Organization.balance, Organization.currency).where(
            Organization.id == organization_id).tuples().get()
        entry = BalanceEntry.create(
            organization=organization_id, change=change, balance_after=Decimal(after), cause=cause[:300],
            actor=actor, invoice=invoice, created_at=at or utcnow(),
        )
        # the low-balance alert fires (once) or re-arms in the same transaction
        notifications.balance_changed(organization_id, after, currency)
        return entry


def cause_text(entry):
    """A balance entry's cause for people: invoice payments are stored as a code and shown translated."""
    if entry.cause.startswith("invoice:"):
        return _("Payment of invoice %(number)s", number=entry.cause.split(":", 1)[1])
    return entry.cause


def balance_history(organization_id, before=None, per_page=PER_PAGE):
    """A page of balance entries, newest first, and the cursor of the next page: the id of the last entry
    shown. The page after it is keyset on (created_at, id), the list's order, over the organization's index."""
    query = BalanceEntry.select().where(BalanceEntry.organization == organization_id)
    if before:
        last = BalanceEntry.select(BalanceEntry.created_at).where(
            BalanceEntry.organization == organization_id, BalanceEntry.id == before).scalar()
        if last is not None:  # an id of another organization or a removed entry: the first page
            query = query.where(pw.Tuple(BalanceEntry.created_at, BalanceEntry.id) < pw.Tuple(last, before))
    rows = list(query.order_by(BalanceEntry.created_at.desc(), BalanceEntry.id.desc()).limit(per_page + 1))
    return rows[:per_page], (rows[per_page - 1].id if len(rows) > per_page else None)


def search_invoices(organization_id, number="", date_from=None, date_to=None, status="", amount_min=None,
                    amount_max=None, after=None, per_page=PER_PAGE):
    """A page of matching invoices, newest first, and the keyset cursor (issued_on, id) of the next page.

    Every query starts with the organization and walks the (organization, issued_on, id) index, so a page
    costs the same on the first and the hundredth page."""
    query = Invoice.select().where(Invoice.organization == organization_id)
    if number:
        query = query.where(Invoice.number.contains(number))
    if date_from:
        query = query.where(Invoice.issued_on >= date_from)
    if date_to:
        query = query.where(Invoice.issued_on <= date_to)
    if status:
        query = query.where(Invoice.status == status)
    if amount_min is not None:
        query = query.where(Invoice.amount >= amount_min)
    if amount_max is not None:
        query = query.where(Invoice.amount <= amount_max)
    if after:
        on, last_id = after
        # A row-value comparison walks the index from the cursor on both SQLite and PostgreSQL.
        query = query.where(pw.Tuple(Invoice.issued_on, Invoice.id) < pw.Tuple(on, last_id))
    rows = list(query.order_by(Invoice.issued_on.desc(), Invoice.id.desc()).limit(per_page + 1))
    page = rows[:per_page]
    cursor = f"{page[-1].issued_on.isoformat()}.{page[-1].id}" if len(rows) > per_page else None
    return page, cursor


def parse_cursor(value):
    """(date, id) from "2026-03-01.42", or None for anything else."""
    try:
        day, last_id = (value or "")[:40].split(".", 1)
        cursor = date.fromisoformat(day), int(last_id)
    except ValueError:
        return None
    return cursor if 0 < cursor[1] < 2**63 else None


def money(amount, currency):
    return format_currency(amount, currency)


def announce(invoice, event):
    """The "payments and invoices" notification to the organization's billing people.

    Called inside the transaction of the change, so the notification and the change commit together."""
    from services.notifications import notify

    data = {"kind": "payment" if event == "paid" else "invoice", "number": invoice.number,
            "amount": str(invoice.amount), "currency": invoice.currency}
    for user in billing_people(invoice.organization_id):
        notify(user, "billing", data, key=f"invoice:{invoice.id}:{event}:{user.id}")


def billing_people(organization_id):
    """Enabled members who may see invoices."""
    from services.permissions import has_permission

    people = User.select().where(User.organization == organization_id, User.status == "enabled")
    return [user for user in people if has_permission(user, "billing.view")]

"""POST /api/v1/balance/charges and /balance/credits: the product charges or credits the organization's
balance (services.invoices.change_balance: the entry in the balance history and the low-balance alert in
one transaction), once per Idempotency-Key (services/idempotency.py). A service key may do it; a
person's key needs its owner to hold billing.edit. Added to the JSON API's blueprint from blueprints/api.py."""
from decimal import Decimal

from flask import g
from flask import request as http_request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import DecimalField, IntegerField, StringField
from wtforms.validators import NumberRange, Optional, StopValidation

from models import Invoice, Organization
from services import idempotency, invoices
from services.permissions import has_permission

from blueprints.api.core import bp, error, once, scope
from blueprints.api.spec import error_fields, form_schema, operation
from blueprints.bounds import ID_MAX
from blueprints.forms import Form, max_length, plain_text, required

FIELDS = ("amount", "description", "invoice_id")
AMOUNT_MAX = 10**11


def finite(form, field):
    """A finite amount in kopecks at most (before NumberRange, which cannot compare NaN)."""
    if field.data is not None and (not field.data.is_finite() or field.data.as_tuple().exponent < -2):
        raise StopValidation(_l("Enter an amount like 1500.00."))


class BalanceChangeForm(Form):
    amount = DecimalField(_l("Amount"), places=2, validators=[
        required(_l("Enter an amount like 1500.00.")), finite, NumberRange(min=Decimal("0.01"), max=AMOUNT_MAX)])
    description = StringField(_l("Description"), validators=[required(_l("Say what the change is for.")),
                                                             max_length(300), plain_text])
    invoice_id = IntegerField(_l("Invoice"), validators=[Optional(), NumberRange(min=1, max=ID_MAX)])


ENTRY_SCHEMA = {
    "type": "object",
    "required": ["id", "change", "balance_after", "currency", "description", "invoice_id", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "change": {"type": "string", "description": "Decimal; negative for a charge, e.g. \"-150.00\""},
        "balance_after": {"type": "string"}, "currency": {"type": "string"},
        "description": {"type": "string"}, "invoice_id": {"type": ["integer", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
    },
}


def change_body():
    return form_schema((BalanceChangeForm,), FIELDS, required=("amount", "description"),
                       example={"amount": "150.00", "description": "SMS mailing 2026-03-01, 1500 messages"})


def entry_json(entry, currency):
    return {"id": entry.id, "change": str(Decimal(entry.change).quantize(Decimal("0.01"))),
            "balance_after": str(Decimal(entry.balance_after).quantize(Decimal("0.01"))), "currency": currency,
            "description": entry.cause, "invoice_id": entry.invoice_id, "created_at": entry.created_at.isoformat() + "Z"}


def change_balance(sign):
    """The shared body of both routes: check, validate, then change the balance once per key."""
    user = g.api_user
    if user is not None and not has_permission(user, "billing.edit"):
        return error(403, "forbidden", _("The key's owner may not change the balance (billing.edit)."))
    data = http_request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "bad_request", _("Send a JSON object."))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        return error(422, "unknown_field", _("These fields cannot be set: %(list)s.", list=", ".join(unknown)[:200]))
    if any(value is not None and (isinstance(value, bool) or not isinstance(value, (str, int, float)))
           for value in data.values()):
        return error(422, "invalid", _("Every value must be a string or a number."))
    form = BalanceChangeForm(formdata=MultiDict({k: str(v) for k, v in data.items() if v is not None}),
                             meta={"csrf": False})
    if not form.validate():
        return error_fields({k: [str(m) for m in v] for k, v in form.errors.items()})
    org_id = g.api_organization_id
    invoice = None
    if form.invoice_id.data:
        invoice = Invoice.get_or_none(Invoice.id == form.invoice_id.data, Invoice.organization == org_id)
        if invoice is None:
            return error_fields({"invoice_id": [_("There is no such invoice in your organization.")]})
    def act():
        entry = invoices.change_balance(org_id, sign * form.amount.data, form.description.data, actor=user,
                                        invoice=invoice)
        currency = Organization.select(Organization.currency).where(Organization.id == org_id).scalar()
        return 201, entry_json(entry, currency)

    return once(data, act)


DESCRIPTION = ("A service key may; a person's key needs billing.edit. Send an `Idempotency-Key` header: the same key "
               "again gives the stored answer (with `Idempotent-Replayed: true`) and no second change; the key with "
               "another body is refused (422). The low-balance alert goes out when a charge crosses a threshold.")


@bp.post("/balance/charges")
@scope("write", service=True)
@operation("Charge the organization's balance", ENTRY_SCHEMA, status=201, body=change_body,
           headers={idempotency.HEADER: idempotency.KEY_SCHEMA}, description=DESCRIPTION)
def balance_charge():
    return change_balance(-1)


@bp.post("/balance/credits")
@scope("write", service=True)
@operation("Credit the organization's balance", ENTRY_SCHEMA, status=201, body=change_body,
           headers={idempotency.HEADER: idempotency.KEY_SCHEMA}, description=DESCRIPTION)
def balance_credit():
    return change_balance(1)

"""An invoice as a document («Счёт на оплату»): the seller's requisites from configuration, the buyer's,
the lines, VAT and totals, the total in words, the payment purpose and the signature lines. `build()`
gathers it all once, worded in the current locale; the print view (templates/account/invoice.html) and
`render_pdf()` (fpdf2, DejaVu Sans for Cyrillic) both show that one structure.

The seller is the operator: INVOICE_SELLER_* settings, each checked with its check digits
(services.checksums) at startup (`seller_problems`, called by create_app) and again when used.
"""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import SimpleNamespace

from flask_babel import format_date, format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from services import checksums
from services.amount_words import amount_in_words

UNIT_LABELS = {"service": _l("service"), "month": _l("month"), "piece": _l("pcs")}
SELLER_FIELDS = ("name", "inn", "kpp", "address", "bank", "bic", "corr_account", "account", "director", "accountant")
REQUIRED = ("name", "inn", "address", "bank", "bic", "corr_account", "account")
CENT = Decimal("0.01")


# --- configuration ----------------------------------------------------------------------------------


def vat_rate_of(value):
    """INVOICE_VAT_RATE as a Decimal percentage, None for no VAT; ValueError for anything else."""
    value = (value or "").strip().rstrip("%").replace(",", ".")
    if value.lower() in ("", "none", "no"):
        return None
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ValueError(value) from None
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise ValueError(value)
    return rate


def configured_vat_rate(config=None):
    if config is None:
        from flask import current_app, has_app_context

        config = current_app.config if has_app_context() else {}
    try:
        return vat_rate_of(config.get("INVOICE_VAT_RATE"))
    except ValueError:
        return None  # refused at startup; never guessed


def seller_values(config):
    values = {f: str(config.get(f"INVOICE_SELLER_{f.upper()}") or "").strip() for f in SELLER_FIELDS}
    values["name"] = values["name"] or str(config.get("INVOICE_SELLER") or "").strip()
    return values


def seller_problems(config):
    """{setting name: what is wrong} for the INVOICE_SELLER_* values (and INVOICE_VAT_RATE) that are set
    but wrong. Unset values are not problems here; the invoice says the requisites are incomplete."""
    s = seller_values(config)
    checks = {
        "INVOICE_SELLER_INN": (s["inn"], checksums.valid_tin, "10 or 12 digits with valid check digits"),
        "INVOICE_SELLER_KPP": (s["kpp"], checksums.valid_kpp, "9 characters: 4 digits, 2 digits or letters, 3 digits"),
        "INVOICE_SELLER_BIC": (s["bic"], checksums.valid_bik, "9 digits starting with 04"),
        "INVOICE_SELLER_ACCOUNT": (s["account"], lambda v: checksums.valid_bank_account(s["bic"], v),
                                   "20 digits whose control key matches INVOICE_SELLER_BIC"),
        "INVOICE_SELLER_CORR_ACCOUNT": (s["corr_account"],
                                        lambda v: checksums.valid_correspondent_account(s["bic"], v),
                                        "20 digits starting with 301 whose control key matches INVOICE_SELLER_BIC"),
    }
    problems = {name: rule for name, (value, valid, rule) in checks.items() if value and not valid(value)}
    try:
        vat_rate_of(config.get("INVOICE_VAT_RATE"))
    except ValueError:
        problems["INVOICE_VAT_RATE"] = "a percentage from 0 to 100, or empty for no VAT"
    return problems


def check_seller(config):
    """At startup: refuse to run with requisites that would print a wrong invoice."""
    problems = seller_problems(config)
    if problems:
        raise ValueError("Invoice settings are wrong: " + "; ".join(f"{k}: {v}" for k, v in problems.items()))


# --- the document ---------------------------------------------------------------------------------


def amount_text(value):
    return format_decimal(value, "#,##0.00")


def quantity_text(value):
    return format_decimal(value, "#,##0.###")


def build(invoice, config):
    """Everything an invoice shows, worded in the current locale."""
    from models import BillingDetails, InvoiceLine

    language = str(get_locale() or "en")[:2]
    seller = seller_values(config)
    for name in seller_problems(config):  # a wrong value is left out rather than printed
        key = name.removeprefix("INVOICE_SELLER_").lower()
        if key in seller:
            seller[key] = ""
    org = invoice.organization
    billing = BillingDetails.of(org)
    default_text = _("Services for the period %(start)s – %(end)s", start=format_date(invoice.period_start, "short"),
                     end=format_date(invoice.period_end, "short"))
    stored = list(invoice.lines.order_by(InvoiceLine.position, InvoiceLine.id))
    if not stored:  # an invoice made without lines (the demo data): one line of its amount
        stored = [SimpleNamespace(position=1, description=invoice.description, quantity=Decimal(1), unit="service",
                                  price=invoice.amount, amount=invoice.amount)]
    lines = [SimpleNamespace(position=i, description=line.description or default_text,
                             quantity=quantity_text(line.quantity), unit=str(UNIT_LABELS.get(line.unit, line.unit)),
                             price=amount_text(line.price), amount=amount_text(line.amount))
             for i, line in enumerate(stored, 1)]
    total = Decimal(invoice.amount)
    rate = invoice.vat_rate
    if rate is None:
        vat_label, vat_amount = _("No VAT"), None
    else:
        vat_amount = (total * Decimal(rate) / (100 + Decimal(rate))).quantize(CENT, rounding=ROUND_HALF_UP)
        vat_label = _("Including VAT %(rate)s%%:", rate=format_decimal(rate, "0.##"))
    issued = format_date(invoice.issued_on, "long")
    currency_short = _("RUB") if invoice.currency == "RUB" else invoice.currency
    vat_note = _("VAT not charged.") if rate is None else _(
        "Including VAT %(rate)s%%: %(amount)s %(currency)s.", rate=format_decimal(rate, "0.##"),
        amount=amount_text(vat_amount), currency=currency_short)
    return SimpleNamespace(
        number=invoice.number,
        filename=_("invoice-%(number)s.pdf", number=invoice.number),
        title=_("Invoice No. %(number)s of %(date)s", number=invoice.number, date=issued),
        seller=SimpleNamespace(**seller),
        seller_incomplete=any(not seller[f] for f in REQUIRED),
        seller_line=", ".join(p for p in (
            seller["name"], seller["inn"] and _("TIN %(tin)s", tin=seller["inn"]),
            seller["kpp"] and _("KPP %(kpp)s", kpp=seller["kpp"]), seller["address"]) if p),
        buyer_line=", ".join(p for p in (
            org.name, org.tin and _("TIN %(tin)s", tin=org.tin), org.kpp and _("KPP %(kpp)s", kpp=org.kpp),
            org.legal_address or billing.postal_address) if p),
        lines=lines,
        total=amount_text(total),
        vat_label=vat_label,
        vat_amount=amount_text(vat_amount) if vat_amount is not None else "",
        count_line=_("Total items: %(n)s, amount %(amount)s %(currency)s", n=len(lines), amount=amount_text(total),
                     currency=currency_short),
        words=amount_in_words(total, invoice.currency, "ru" if language == "ru" else "en"),
        # "… от 1 ноября 2026 г." already ends with a full stop: never two.
        purpose=_("Payment for invoice No. %(number)s of %(date)s.", number=invoice.number, date=issued).rstrip(".")
        + ". " + vat_note,
        period=_("Period: %(start)s – %(end)s", start=format_date(invoice.period_start, "long"),
                 end=format_date(invoice.period_end, "long")),
    )


def render_pdf(doc):
    from services.invoice_pdf import render

    return render(doc)

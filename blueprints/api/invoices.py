"""POST /api/v1/invoices: the operator issues an invoice with an API key (scope write, and the key's
owner holds billing.edit). Added to the JSON API's blueprint from here; validated by the page's form."""
from flask import g, jsonify
from flask import request as http_request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from models import Organization
from services import invoices
from services.invoices import STATUS_LABELS
from services.permissions import has_permission

from blueprints.api.core import bp, error, scope
from blueprints.api.spec import error_fields
from blueprints.api.spec import form_schema, operation

FIELDS = ("number", "issued_on", "period_start", "period_end", "amount", "description", "status")


def invoice_json(invoice):
    return {
        "id": invoice.id,
        "number": invoice.number,
        "issued_on": invoice.issued_on.isoformat(),
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "amount": str(invoice.amount),
        "currency": invoice.currency,
        "status": invoice.status,
        "description": invoice.description,
    }


INVOICE_SCHEMA = {
    "type": "object",
    "required": ["id", "number", "issued_on", "period_start", "period_end", "amount", "currency", "status",
                 "description"],
    "properties": {
        "id": {"type": "integer"}, "number": {"type": "string"},
        "issued_on": {"type": "string", "format": "date"}, "period_start": {"type": "string", "format": "date"},
        "period_end": {"type": "string", "format": "date"},
        "amount": {"type": "string", "description": "Decimal, e.g. \"4900.00\""},
        "currency": {"type": "string"}, "status": {"type": "string", "enum": list(STATUS_LABELS)},
        "description": {"type": "string"},
    },
}


def invoice_body():
    from blueprints.organization.invoices import IssueInvoiceForm

    return form_schema((IssueInvoiceForm,), FIELDS, required=("issued_on", "period_start", "period_end", "amount"),
                       example={"issued_on": "2026-03-01", "period_start": "2026-03-01", "period_end": "2026-03-31",
                                "amount": "4900.00", "description": "Тариф «Стандарт»"})


@bp.post("/invoices")
@scope("write")
@operation("Issue an invoice to the key owner's organization", INVOICE_SCHEMA, status=201, body=invoice_body,
           description="The key's owner needs the billing.edit permission. The number is given automatically "
                       "(2026-0007) when left out; the period may not end before it starts.")
def create_invoice():
    from blueprints.organization.invoices import IssueInvoiceForm

    user = g.api_user
    if not has_permission(user, "billing.edit"):
        return error(403, "forbidden", _("The key's owner may not issue invoices (billing.edit)."))
    data = http_request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "bad_request", _("Send a JSON object."))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        return error(422, "unknown_field", _("These fields cannot be set: %(list)s.", list=", ".join(unknown)[:200]))
    if any(value is not None and not isinstance(value, (str, int, float)) for value in data.values()):
        return error(422, "invalid", _("Every value must be a string or a number."))
    values = {"status": "issued", **{k: str(v) for k, v in data.items() if v is not None}}
    form = IssueInvoiceForm(formdata=MultiDict(values), meta={"csrf": False})
    if not form.validate():
        return error_fields({k: [str(m) for m in v] for k, v in form.errors.items()})
    org = Organization.get_by_id(user.organization_id)
    try:
        invoice = invoices.issue_invoice(
            org, form.amount.data, form.period_start.data, form.period_end.data, issued_on=form.issued_on.data,
            number=form.number.data or None, description=form.description.data or "", actor=user,
            status=form.status.data,
        )
    except invoices.InvoiceError as exc:
        return error(422, "invalid", exc.message)
    response = jsonify(invoice_json(invoice))
    response.status_code = 201
    return response

"""The organization's invoices: the list with its search, one invoice as a page and a PDF, issuing one and changing its status."""
from datetime import date
from decimal import Decimal
from urllib.parse import quote

from flask import current_app, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import DateField, DecimalField, SelectField, StringField
from wtforms.validators import NumberRange, Optional, Regexp, ValidationError

from blueprints import render, see_other
from blueprints.forms import (
    Form,
    max_length,
)
from blueprints.organization.account import bp, entered, finite, me, options, own
from models import (
    Invoice,
    Organization,
)
from services import invoice_document, invoices
from services.permissions import has_permission, permission_required

NUMBER_PATTERN = r"^[\w\-/. ]*$"


class InvoiceSearchForm(Form):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Invoice number"), validators=[
        max_length(40), Regexp(NUMBER_PATTERN, message=_l("Invoice numbers have only letters, digits, - / and ."))])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    status = SelectField(_l("Status"), choices=options([("", _l("Any status"))] + list(invoices.STATUS_LABELS.items())),
                         validators=[Optional()])
    amount_min = DecimalField(_l("Amount from"), places=2,
                              validators=[Optional(), finite, NumberRange(min=0, max=10**12)])
    amount_max = DecimalField(_l("Amount to"), places=2,
                              validators=[Optional(), finite, NumberRange(min=0, max=10**12)])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


@bp.get("/invoices")
@permission_required("billing.view")
def invoice_list():
    form = InvoiceSearchForm(request.args)
    valid = form.validate()
    after = invoices.parse_cursor(request.args.get("after"))
    rows, cursor = ([], None)
    if valid:
        rows, cursor = invoices.search_invoices(
            current_user.organization_id, number=form.q.data or "", date_from=form.date_from.data,
            date_to=form.date_to.data, status=form.status.data or "", amount_min=form.amount_min.data,
            amount_max=form.amount_max.data, after=after,
        )
    args = {k: v for k, v in request.args.items() if k != "after" and v and len(v) <= 100}
    next_url = url_for("account.invoice_list", **args, after=cursor) if cursor else None
    first_url = url_for("account.invoice_list", **args) if after else None
    return render("account/invoices.html", block="invoice_results", status=200 if valid else 422, form=form,
                  rows=rows, next_url=next_url, first_url=first_url, money=invoices.money,
                  status_labels=invoices.STATUS_LABELS, may_edit=has_permission(current_user, "billing.edit"))


@bp.get("/invoices/<int:invoice_id>")
@permission_required("billing.view")
def invoice_page(invoice_id):
    invoice = own(Invoice, invoice_id)
    return render("account/invoice.html", invoice=invoice, doc=invoice_document.build(invoice, current_app.config),
                  status_labels=invoices.STATUS_LABELS, next_statuses=invoices.NEXT_STATUSES[invoice.status],
                  may_edit=has_permission(current_user, "billing.edit"))


@bp.get("/invoices/<int:invoice_id>.pdf")
@permission_required("billing.view")
def invoice_pdf(invoice_id):
    invoice = own(Invoice, invoice_id)
    doc = invoice_document.build(invoice, current_app.config)
    response = make_response(invoice_document.render_pdf(doc))
    response.headers["Content-Type"] = "application/pdf"
    # Named by the invoice number ("/" is not allowed in a file name); RFC 6266 for the translated word.
    name = doc.filename.replace("/", "-").replace("\\", "-")
    ascii_name = "invoice-" + invoice.number.replace("/", "-") + ".pdf"
    response.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return response


class IssueInvoiceForm(Form):
    number = StringField(_l("Number"), validators=[
        max_length(40), Regexp(NUMBER_PATTERN, message=_l("Invoice numbers have only letters, digits, - / and ."))])
    issued_on = DateField(_l("Date"), validators=[entered()])
    period_start = DateField(_l("Period from"), validators=[entered()])
    period_end = DateField(_l("Period to"), validators=[entered()])
    amount = DecimalField(_l("Amount"), places=2,
                          validators=[entered(), finite, NumberRange(min=Decimal("0.01"), max=10**11)])
    description = StringField(_l("Description"), validators=[max_length(300)])
    status = SelectField(_l("Status"), choices=options(list(invoices.STATUS_LABELS.items())[:2]))

    def validate_period_end(self, field):
        if field.data and self.period_start.data and field.data < self.period_start.data:
            raise ValidationError(_l("The period ends before it starts."))


@bp.route("/invoices/new", methods=["GET", "POST"])
@permission_required("billing.edit")
def issue_invoice():
    form = IssueInvoiceForm(data={"issued_on": date.today()} if request.method == "GET" else None)
    if form.validate_on_submit():
        org = Organization.get_by_id(current_user.organization_id)
        try:
            invoice = invoices.issue_invoice(
                org, form.amount.data, form.period_start.data, form.period_end.data, issued_on=form.issued_on.data,
                number=form.number.data or None, description=form.description.data or "", actor=me(),
                status=form.status.data,
            )
        except invoices.InvoiceError as exc:
            form.number.errors.append(exc.message)
        else:
            flash(_("Invoice %(number)s issued.", number=invoice.number), "success")
            return see_other(url_for("account.invoice_page", invoice_id=invoice.id))
    status = 422 if form.is_submitted() else 200
    return render("account/invoice_new.html", block="issue_form", status=status, form=form)


@bp.post("/invoices/<int:invoice_id>/status")
@permission_required("billing.edit")
def invoice_status(invoice_id):
    invoice = own(Invoice, invoice_id)
    form = Form()
    new = request.form.get("status", "")
    if not form.validate_on_submit() or new not in invoices.NEXT_STATUSES[invoice.status]:
        flash(_("This change is not possible for this invoice."), "error")
        return see_other(url_for("account.invoice_page", invoice_id=invoice.id))
    try:
        invoices.set_status(invoice, new, actor=me())
    except invoices.InvoiceError as exc:
        flash(str(exc.message), "error")
    else:
        flash(_("Invoice %(number)s is now %(status)s.", number=invoice.number,
                status=invoices.STATUS_LABELS[new]), "success")
    return see_other(url_for("account.invoice_page", invoice_id=invoice.id))

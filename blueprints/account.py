"""The organization account under /app/account: billing details, invoices and balance (billing.view /
billing.edit), the file manager (files.manage), processing agreements (gdpr.manage), and for every
person "Download my data" and "Delete my account"."""
from datetime import date
from decimal import Decimal
from urllib.parse import quote

import peewee as pw
from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from peewee import JOIN
from wtforms import BooleanField, DateField, DecimalField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional, Regexp, ValidationError

from models import (
    BillingDetails,
    DataExport,
    Invoice,
    Organization,
    ProcessingAgreement,
    StoredFile,
    db,
    utcnow,
)
from services import audit, deletion, export, files, invoice_document, invoices
from services.checksums import valid_bank_account, valid_bik, valid_correspondent_account
from services.permissions import has_permission, permission_required

from . import limit_upload, render, see_other, wants_fragment
from .forms import (
    EmailAddress,
    Form,
    kpp_check,
    max_length,
    ogrn_check,
    ogrnip_check,
    password_length,
    required,
    tin_check,
)
from .profile import LEGAL_FORMS, TARIFF_LABELS, balance_info
from .security import password_problem

bp = Blueprint("account", __name__, url_prefix="/app/account")

# Sections of the area in menu order: (key, permission or None for everyone, endpoint, label).
SECTIONS = (
    ("billing", "billing.view", "account.billing", _l("Settlements")),
    ("files", "files.manage", "account.file_list", _l("File manager")),
    ("gdpr", "gdpr.manage", "account.agreements", _l("GDPR")),
    ("privacy", None, "account.privacy", _l("My data")),
)
MAX_ID = 2**63  # ids in a URL beyond a 64-bit integer cannot exist (and SQLite would refuse to bind them)


@bp.before_request
@login_required
def require_login():
    """Every page of this area needs a signed-in person; permissions are checked per view."""


limit_upload(
    "account.upload_file",
    lambda config: config["FILES_MAX_BYTES"],
    lambda config: files.too_large_message(config),
)


@bp.context_processor
def account_frame():
    return {"account_sections": account_sections, "account_section": current_section()}


def current_section():
    """Which section of the menu the current page belongs to."""
    name = (request.endpoint or "").rpartition(".")[2]
    if "file" in name:
        return "files"
    if "agreement" in name:
        return "gdpr"
    if "invoice" in name or "billing" in name or name == "balance":
        return "billing"
    return "privacy"


def account_sections():
    """[(key, endpoint, label)] of the sections the signed-in person may open."""
    return [
        (key, endpoint, label)
        for key, permission, endpoint, label in SECTIONS
        if permission is None or has_permission(current_user, permission)
    ]


def finite(form, field):
    """NaN and Infinity parse as decimals but compare with nothing: refuse them before NumberRange does."""
    if field.data is not None and not field.data.is_finite():
        raise ValidationError(_l("Enter a number, like 1500.00."))


def entered():
    """Required, for typed fields (dates, amounts): keeps "Not a valid date value" for something unparsable."""
    return InputRequired(message=_l("This field is required."))


def options(pairs):
    return [SelectChoice(value, label) for value, label in pairs]


def me():
    return current_user._get_current_object()


def own(model, record_id):
    """The record of the current organization with this id, or 404 (SECURITY.md 19)."""
    if not 0 < record_id < MAX_ID:
        abort(404)
    record = model.get_or_none((model.id == record_id) & (model.organization == current_user.organization_id))
    if record is None:
        abort(404)
    return record


def client_meta():
    return {"ip": request.remote_addr or "", "user_agent": request.headers.get("User-Agent", "")[:300]}


@bp.get("/")
def index():
    return redirect(url_for(account_sections()[0][1]))


# --- billing details ---------------------------------------------------------------------------


class BillingForm(Form):
    name = StringField(_l("Legal name"), validators=[required(), max_length(300)])
    legal_form = SelectField(_l("Legal form"), choices=options(LEGAL_FORMS.items()))
    tin = StringField(_l("TIN"), validators=[required(), max_length(12), tin_check()])
    kpp = StringField(_l("KPP"), validators=[max_length(9), kpp_check()])
    ogrn = StringField(_l("OGRN"), validators=[max_length(13), ogrn_check()])
    ogrnip = StringField(_l("OGRNIP"), validators=[max_length(15), ogrnip_check()])
    okved = StringField(_l("OKVED"), validators=[max_length(200)])
    legal_address = StringField(_l("Legal address"), validators=[required(), max_length(500)])
    postal_address = StringField(_l("Postal address"), validators=[max_length(500)])
    bank_name = StringField(_l("Bank"), validators=[max_length(200)])
    bik = StringField(_l("BIC"), validators=[max_length(9)])
    account_number = StringField(_l("Settlement account"), validators=[max_length(20)])
    correspondent_account = StringField(_l("Correspondent account"), validators=[max_length(20)])
    billing_email = EmailField(_l("Billing e-mail"), validators=[Optional(), max_length(254), EmailAddress()])

    def is_entrepreneur(self):
        return self.legal_form.data == "ie"

    def validate_tin(self, field):
        if not field.data:
            return
        if self.is_entrepreneur() and len(field.data) != 12:
            raise ValidationError(_l("An individual entrepreneur has a 12-digit TIN."))
        if self.legal_form.data in ("llc", "jsc") and len(field.data) != 10:
            raise ValidationError(_l("A company has a 10-digit TIN."))

    def validate_kpp(self, field):
        if self.is_entrepreneur() and field.data:
            raise ValidationError(_l("Individual entrepreneurs have no KPP: leave it empty."))
        if self.tin.data and len(self.tin.data) == 10 and not field.data:
            raise ValidationError(_l("A company (10-digit TIN) needs a KPP."))

    def validate_ogrn(self, field):
        if self.is_entrepreneur() and field.data:
            raise ValidationError(_l("For an individual entrepreneur, fill in OGRNIP instead."))

    def validate_ogrnip(self, field):
        if field.data and not self.is_entrepreneur():
            raise ValidationError(_l("OGRNIP is only for individual entrepreneurs."))

    def validate_bik(self, field):
        if (field.data or self.account_number.data or self.correspondent_account.data) and not valid_bik(field.data):
            raise ValidationError(_l("Enter a valid BIC: 9 digits starting with 04."))

    def validate_account_number(self, field):
        if field.data and valid_bik(self.bik.data) and not valid_bank_account(self.bik.data, field.data):
            raise ValidationError(_l("This account number does not match the BIC: check both."))

    def validate_correspondent_account(self, field):
        if field.data and valid_bik(self.bik.data) and not valid_correspondent_account(self.bik.data, field.data):
            raise ValidationError(_l("This correspondent account does not match the BIC: check both."))


ORG_FIELDS = ("name", "legal_form", "tin", "kpp", "ogrn", "ogrnip", "okved", "legal_address")
BILLING_FIELDS = ("postal_address", "bank_name", "bik", "account_number", "correspondent_account", "billing_email")


def billing_page(form=None, status=200):
    org = Organization.get_by_id(current_user.organization_id)
    details = invoices.org_billing(org)
    may_edit = has_permission(current_user, "billing.edit")
    if form is None and may_edit:
        form = BillingForm(data={**{f: getattr(org, f) or "" for f in ORG_FIELDS},
                                 **{f: getattr(details, f) for f in BILLING_FIELDS}})
    latest = list(Invoice.select().where(Invoice.organization == org.id)
                  .order_by(Invoice.issued_on.desc(), Invoice.id.desc()).limit(5))
    return render("account/billing.html", block="billing_card", status=status, form=form, org=org,
                  details=details, may_edit=may_edit, latest=latest, money=invoices.money,
                  status_labels=invoices.STATUS_LABELS, balance=balance_info(org), legal_forms=LEGAL_FORMS)


@bp.get("/billing")
@permission_required("billing.view")
def billing():
    return billing_page()


@bp.post("/billing")
@permission_required("billing.edit")
def save_billing():
    form = BillingForm()
    if not form.validate():
        return billing_page(form, 422)
    org_id = current_user.organization_id
    with db.atomic():
        Organization.update(**{f: getattr(form, f).data or None for f in ORG_FIELDS if f not in ("name", "legal_form")},
                            name=form.name.data, legal_form=form.legal_form.data).where(
            Organization.id == org_id).execute()
        values = {f: getattr(form, f).data or "" for f in BILLING_FIELDS}
        updated = BillingDetails.update(**values, updated_at=utcnow()).where(
            BillingDetails.organization == org_id).execute()
        if not updated:
            BillingDetails.create(organization=org_id, **values)
        audit.record("billing.updated", actor=me(), target=form.tin.data, **client_meta())
    flash(_("Billing details saved."), "success")
    return see_other(url_for("account.billing"))


# --- invoices ------------------------------------------------------------------------------------


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


@bp.get("/balance")
@permission_required("billing.view")
def balance():
    before = request.args.get("before", type=int)
    before = before if before and 0 < before < MAX_ID else None
    org = Organization.get_by_id(current_user.organization_id)
    rows, cursor = invoices.balance_history(org.id, before=before)
    return render("account/balance.html", block="balance_rows", org=org, rows=rows, cause_text=invoices.cause_text,
                  balance=balance_info(org), tariff_label=TARIFF_LABELS.get(org.tariff, org.tariff),
                  next_url=url_for("account.balance", before=cursor) if cursor else None,
                  first_url=url_for("account.balance") if before else None, money=invoices.money)


# --- file manager ----------------------------------------------------------------------------------


class RenameForm(Form):
    name = StringField(_l("New name"), validators=[required(), max_length(files.NAME_MAX)])


FILES_PER_PAGE = 50


def files_page(error=None, status=200, renaming=None, rename_form=None, notice=None, before=None):
    """The list, newest first, FILES_PER_PAGE at a time (keyset on (created_at, id) after the file `before`).
    While a file is renamed the page starts at that file, so its form is always on screen."""
    cfg = current_app.config
    org_id = current_user.organization_id
    query = StoredFile.select().where(StoredFile.organization == org_id)
    start = renaming or before
    last = StoredFile.select(StoredFile.created_at).where(
        StoredFile.organization == org_id, StoredFile.id == start).scalar() if start and 0 < start < MAX_ID else None
    if last is not None:
        position = pw.Tuple(StoredFile.created_at, StoredFile.id)
        query = query.where(position <= pw.Tuple(last, start) if renaming else position < pw.Tuple(last, start))
    rows = list(query.order_by(StoredFile.created_at.desc(), StoredFile.id.desc()).limit(FILES_PER_PAGE + 1))
    next_url = url_for("account.file_list", before=rows[FILES_PER_PAGE - 1].id) if len(rows) > FILES_PER_PAGE else None
    return render("account/files.html", block="files", status=status, rows=rows[:FILES_PER_PAGE], error=error,
                  notice=notice, used=files.used_bytes(org_id), quota=cfg["FILES_QUOTA_BYTES"],
                  max_bytes=cfg["FILES_MAX_BYTES"], human_size=files.human_size, allowed=files.ALLOWED_LIST,
                  renaming=renaming, rename_form=rename_form or RenameForm(), form=Form(), next_url=next_url,
                  first_url=url_for("account.file_list") if before and last is not None else None)


def files_done(message):
    """After a change: htmx gets the refreshed list with the message in it; a plain form, redirect and flash."""
    if wants_fragment():
        return files_page(notice=message)
    flash(message, "success")
    return see_other(url_for("account.file_list"))


@bp.get("/files")
@permission_required("files.manage")
def file_list():
    return files_page(before=request.args.get("before", type=int))


@bp.post("/files")
@permission_required("files.manage")
def upload_file():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return files_page(_("Choose a file to upload."), 422)
    try:
        stored = files.save_upload(current_app.config, current_user.organization_id, me(), upload.stream,
                                   upload.filename)
    except files.FileRejected as exc:
        return files_page(str(exc.message), exc.status)
    audit.record("file.uploaded", actor=me(), target=stored.name, size=stored.size, **client_meta())
    return files_done(_("Uploaded %(name)s.", name=stored.name))


@bp.get("/files/<int:file_id>/download")
@permission_required("files.manage")
def download_file(file_id):
    stored = own(StoredFile, file_id)
    path = files.path_of(current_app.config, stored)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=files.MIME_TYPES[stored.kind], as_attachment=True, download_name=stored.name,
                     max_age=0)


@bp.route("/files/<int:file_id>/rename", methods=["GET", "POST"])
@permission_required("files.manage")
def rename_file(file_id):
    stored = own(StoredFile, file_id)
    form = RenameForm(data={"name": stored.name} if request.method == "GET" else None)
    if request.method == "GET":
        return files_page(renaming=stored.id, rename_form=form)
    if form.validate_on_submit():
        old = stored.name
        try:
            files.rename(stored, form.name.data)
        except files.FileRejected as exc:
            form.name.errors.append(exc.message)
        else:
            audit.record("file.renamed", actor=me(), target=stored.name, old=old, **client_meta())
            return files_done(_("Renamed to %(name)s.", name=stored.name))
    return files_page(renaming=stored.id, rename_form=form, status=422)


@bp.post("/files/<int:file_id>/delete")
@permission_required("files.manage")
def delete_file(file_id):
    stored = own(StoredFile, file_id)
    if not Form().validate_on_submit():
        abort(400)
    files.delete(current_app.config, stored)
    audit.record("file.deleted", actor=me(), target=stored.name, **client_meta())
    return files_done(_("Deleted %(name)s.", name=stored.name))


# --- GDPR: data processing agreements --------------------------------------------------------------


class AgreementForm(Form):
    processor = StringField(_l("Processor"), validators=[required(), max_length(200)])
    is_subprocessing = BooleanField(_l("Sub-entrustment (the processor passes the data on)"))
    purpose = StringField(_l("Purpose of processing"), validators=[required(), max_length(500)])
    data_categories = StringField(_l("Categories of personal data"), validators=[required(), max_length(500)])
    legal_basis = StringField(_l("Legal basis"), validators=[required(), max_length(300)])
    starts_on = DateField(_l("Start date"), validators=[entered()])
    ends_on = DateField(_l("End date"), validators=[Optional()])
    document = SelectField(_l("Document"), coerce=int, validators=[Optional()])

    def __init__(self, organization_id, *args, **kwargs):
        super().__init__(*args, **kwargs)
        docs = StoredFile.select(StoredFile.id, StoredFile.name).where(
            StoredFile.organization == organization_id).order_by(StoredFile.name).limit(500)
        self.document.choices = options([(0, _l("No document"))] + [(f.id, f.name) for f in docs])

    def validate_ends_on(self, field):
        if field.data and self.starts_on.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The end date is before the start date."))


AGREEMENT_FIELDS = ("processor", "is_subprocessing", "purpose", "data_categories", "legal_basis", "starts_on",
                    "ends_on")


@bp.get("/gdpr")
@permission_required("gdpr.manage")
def agreements():
    rows = list(
        ProcessingAgreement.select(ProcessingAgreement, StoredFile)
        .join(StoredFile, JOIN.LEFT_OUTER, on=(ProcessingAgreement.document == StoredFile.id))
        .where(ProcessingAgreement.organization == current_user.organization_id)
        .order_by(ProcessingAgreement.starts_on.desc(), ProcessingAgreement.id.desc())
        .limit(500)
    )
    return render("account/agreements.html", rows=rows, today=date.today(), form=Form())


@bp.route("/gdpr/new", methods=["GET", "POST"])
@bp.route("/gdpr/<int:agreement_id>/edit", methods=["GET", "POST"])
@permission_required("gdpr.manage")
def edit_agreement(agreement_id=None):
    org_id = current_user.organization_id
    record = own(ProcessingAgreement, agreement_id) if agreement_id else None
    if request.method == "GET":
        data = {f: getattr(record, f) for f in AGREEMENT_FIELDS} if record else {"starts_on": date.today()}
        data["document"] = record.document_id or 0 if record else 0
        form = AgreementForm(org_id, data=data)
    else:
        form = AgreementForm(org_id)
    if form.validate_on_submit():
        values = {f: getattr(form, f).data for f in AGREEMENT_FIELDS}
        values["document"] = form.document.data or None
        if record:
            ProcessingAgreement.update(**values).where(ProcessingAgreement.id == record.id).execute()
            action = "agreement.updated"
        else:
            record = ProcessingAgreement.create(organization=org_id, created_by=me(), **values)
            action = "agreement.created"
        audit.record(action, actor=me(), target=values["processor"], **client_meta())
        flash(_("Agreement with %(processor)s saved.", processor=values["processor"]), "success")
        return see_other(url_for("account.agreements"))
    status = 422 if form.is_submitted() else 200
    return render("account/agreement_form.html", block="agreement_form", status=status, form=form, record=record)


@bp.post("/gdpr/<int:agreement_id>/end")
@permission_required("gdpr.manage")
def end_agreement(agreement_id):
    record = own(ProcessingAgreement, agreement_id)
    if not Form().validate_on_submit():
        abort(400)
    today = date.today()
    if record.ends_on is None or record.ends_on > today:
        ProcessingAgreement.update(ends_on=max(today, record.starts_on)).where(
            ProcessingAgreement.id == record.id).execute()
        audit.record("agreement.ended", actor=me(), target=record.processor, **client_meta())
    flash(_("Agreement with %(processor)s ended.", processor=record.processor), "success")
    return see_other(url_for("account.agreements"))


# --- my data: export and deletion ----------------------------------------------------------------


class DeleteAccountForm(Form):
    password = PasswordField(_l("Current password"), validators=[required(), password_length])
    confirm = BooleanField(_l("I understand that my account and my data will be erased"))

    def validate_confirm(self, field):
        if not field.data:
            raise ValidationError(_l("Tick the box to confirm."))


def privacy_page(delete_form=None, status=200, block="delete_card"):
    user = me()
    exports = list(DataExport.select().where(DataExport.user == user.id).order_by(DataExport.created_at.desc())
                   .limit(5))
    return render("account/privacy.html", block=block, status=status, exports=exports, form=Form(),
                  delete_form=delete_form or DeleteAccountForm(), last_owner=deletion.is_last_owner(user),
                  days=current_app.config["ACCOUNT_DELETION_DAYS"], human_size=files.human_size)


@bp.get("/privacy")
def privacy():
    return privacy_page(block="export_list" if request.args.get("part") == "exports" else "delete_card")


@bp.post("/privacy/export")
def request_export():
    if not Form().validate_on_submit():
        abort(400)
    export.request_export(me())
    flash(_("We are preparing your data. It appears below and in your notifications when it is ready."), "success")
    return see_other(url_for("account.privacy"))


@bp.get("/privacy/export/<int:export_id>")
def download_export(export_id):
    record = DataExport.get_or_none(DataExport.id == export_id, DataExport.user == current_user.id) if (
        export_id < MAX_ID) else None
    if record is None or record.status != "done":
        abort(404)
    path = export.export_path(current_app.config, record)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=f"kabinet-my-data-{record.created_at:%Y-%m-%d}.zip", max_age=0)


@bp.post("/privacy/delete")
def delete_account():
    user = me()
    form = DeleteAccountForm()
    if not form.validate_on_submit():
        return privacy_page(form, 422)
    problem = password_problem(user, form.password.data)  # counted and throttled like every password check
    if problem:
        form.password.errors.append(problem)
        return privacy_page(form, 422 if problem == _("The password is not right.") else 429)
    days = current_app.config["ACCOUNT_DELETION_DAYS"]
    try:
        pending = deletion.request_deletion(user, days, **client_meta())
    except deletion.DeletionRefused as exc:
        form.form_errors.append(exc.message)
        return privacy_page(form, 409)
    logout_user()
    from flask import session

    language = session.get("lang") or user.language
    session.clear()
    if language:
        session["lang"] = language
    from flask_babel import format_date

    flash(_("Your account will be erased on %(date)s. Sign in before then to keep it.",
            date=format_date(pending.erase_after, "long")), "info")
    return see_other(url_for("auth.login"))



from . import api_invoices  # noqa: E402,F401  (POST /api/v1/invoices joins the JSON API's blueprint)

"""GDPR: data-processing agreements, "Download my data" and "Delete my account"."""
from datetime import date

from flask import abort, current_app, flash, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from peewee import JOIN
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField
from wtforms.validators import Optional, ValidationError

from blueprints import render, see_other
from blueprints.forms import (
    Form,
    max_length,
    password_length,
    required,
)
from blueprints.organization.account import (
    MAX_ID,
    bp,
    client_meta,
    entered,
    me,
    options,
    own,
)
from blueprints.person.security import password_problem
from models import (
    DataExport,
    ProcessingAgreement,
    StoredFile,
)
from services import audit, deletion, export, files
from services.permissions import permission_required


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

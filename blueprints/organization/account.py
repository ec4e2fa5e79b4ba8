"""The organization account under /app/account: billing details, invoices and balance (billing.view /
billing.edit), the file manager (files.manage), processing agreements (gdpr.manage), and for every
person "Download my data" and "Delete my account"."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Optional, ValidationError

from models import (
    BillingDetails,
    Invoice,
    Organization,
    db,
    utcnow,
)
from services import audit, files, invoices
from services.checksums import valid_bank_account, valid_bik, valid_correspondent_account
from services.permissions import has_permission, permission_required

from blueprints import render, see_other

from blueprints.uploads import limit_upload
from blueprints.forms import (
    EmailAddress,
    Form,
    kpp_check,
    max_length,
    ogrn_check,
    ogrnip_check,
    required,
    tin_check,
)
from blueprints.person.profile import LEGAL_FORMS, TARIFF_LABELS, balance_info

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
    billing_email = EmailField(_l("Billing e-mail"), validators=[
        Optional(), max_length(254), EmailAddress(stored=lambda form: form.stored_billing_email)])
    stored_billing_email = None  # the saved one is kept unchecked when it comes back unchanged

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
    details = BillingDetails.of(org)
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
    form.stored_billing_email = BillingDetails.select(BillingDetails.billing_email).where(
        BillingDetails.organization == current_user.organization_id).scalar()
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


# --- GDPR: data processing agreements --------------------------------------------------------------


# --- my data: export and deletion ----------------------------------------------------------------

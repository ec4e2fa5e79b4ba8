"""The organization's legal data (seed 000's company card) and its contact lock (seed 001), edited by
the operator's managers (`billing.edit`): everyone else sees the data read-only on their personal-data
page. TIN, OGRN, OGRNIP and KPP are checked with their check-digit rules (services.checksums)."""
from flask import flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import Optional
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from models import Organization
from services import audit
from services.permissions import permission_required

from blueprints import render, see_other
from blueprints.forms import EmailAddress, Form, kpp_check, max_length, ogrn_check, ogrnip_check, plain_text, required, tin_check
from blueprints.person.profile import LEGAL_FORMS
from blueprints.admin.core import bp, client_meta, me

COMPANIES = ("llc", "jsc")  # need KPP and OGRN, 10-digit TIN
ENTREPRENEUR = "ie"  # needs OGRNIP, 12-digit TIN
FIELDS = ("name", "legal_form", "tin", "legal_address", "ogrnip", "kpp", "ogrn", "okved", "contacts_locked",
          "support_email", "support_phone", "support_url")


class OrganizationForm(Form):
    name = StringField(_l("Organization name"), validators=[required(), max_length(300), plain_text])
    legal_form = SelectField(
        _l("Legal form"), choices=[SelectChoice(key, label) for key, label in LEGAL_FORMS.items()], default="llc"
    )
    tin = StringField(_l("TIN"), validators=[required(), max_length(12), tin_check()])
    legal_address = StringField(_l("Legal address"), validators=[required(), max_length(500), plain_text])
    ogrnip = StringField(_l("OGRNIP"), validators=[max_length(15), ogrnip_check()])
    kpp = StringField(_l("KPP"), validators=[max_length(9), kpp_check()])
    ogrn = StringField(_l("OGRN"), validators=[max_length(13), ogrn_check()])
    okved = StringField(_l("OKVED"), validators=[max_length(200), plain_text])
    contacts_locked = BooleanField(_l("Lock confirmed contacts"))
    support_email = EmailField(_l("Support e-mail"), validators=[Optional(), EmailAddress()])
    support_phone = StringField(_l("Support phone"), validators=[max_length(30)])
    support_url = StringField(_l("Support page"), validators=[max_length(300)])

    def validate_support_phone(self, field):
        from .users import normalize_phone

        field.data = normalize_phone(field.data) or ""

    def validate_support_url(self, field):
        from urllib.parse import urlsplit

        parts = urlsplit(field.data or "")
        if field.data and (parts.scheme not in ("https", "http") or not parts.netloc or " " in field.data):
            raise ValidationError(_l("Enter a web address starting with https://, like https://example.com/support."))

    def validate_tin(self, field):
        if self.legal_form.data == ENTREPRENEUR and len(field.data) != 12:
            raise ValidationError(_l("An individual entrepreneur's TIN has 12 digits."))
        if self.legal_form.data in COMPANIES and len(field.data) != 10:
            raise ValidationError(_l("A company's TIN has 10 digits."))

    def validate_ogrnip(self, field):
        if self.legal_form.data == ENTREPRENEUR and not field.data:
            raise ValidationError(_l("An individual entrepreneur needs an OGRNIP."))

    def validate_kpp(self, field):
        if self.legal_form.data in COMPANIES and not field.data:
            raise ValidationError(_l("A company (10-digit TIN) needs a KPP."))

    def validate_ogrn(self, field):
        if self.legal_form.data in COMPANIES and not field.data:
            raise ValidationError(_l("A company needs an OGRN."))


def values(form):
    """What to store: identifiers that do not apply to the legal form are cleared, empty ones are NULL."""
    data = {name: getattr(form, name).data for name in FIELDS}
    for name in ("ogrnip", "kpp", "ogrn", "okved"):
        data[name] = data[name] or None
    if data["legal_form"] == ENTREPRENEUR:
        data.update(kpp=None, ogrn=None, okved=None)
    elif data["legal_form"] in COMPANIES:
        data["ogrnip"] = None
    data["contacts_locked"] = bool(data["contacts_locked"])
    for name in ("support_email", "support_phone", "support_url"):
        data[name] = data[name] or ""
    return data


def organization_page(form, status=200):
    return render("admin/organization.html", block="organization_card", status=status, form=form)


@bp.get("/organization")
@permission_required("billing.edit")
def organization():
    org = Organization.get_by_id(me().organization_id)
    data = {name: getattr(org, name) for name in FIELDS}
    return organization_page(OrganizationForm(formdata=None, data={k: "" if v is None else v for k, v in data.items()}))


@bp.post("/organization")
@permission_required("billing.edit")
def save_organization():
    form = OrganizationForm()
    if not form.validate_on_submit():
        return organization_page(form, 422)
    org = Organization.get_by_id(me().organization_id)
    new = values(form)
    changed = sorted(name for name, value in new.items() if getattr(org, name) != value)
    if changed:
        Organization.update(**new).where(Organization.id == org.id).execute()
        audit.record("organization.updated", actor=me(), target=new["name"], changed=changed, **client_meta())
    flash(_("The organization's data is saved.") if changed else _("Nothing to save: no field was changed."),
          "success" if changed else "info")
    return see_other(url_for("admin.organization"))

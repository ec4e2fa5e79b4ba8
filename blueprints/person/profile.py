"""The personal-data page: profile and company cards, inline autosave, language and region,
e-mail and phone binding with codes, and the edit page with the confirmed password change."""
import re

from flask import Blueprint, abort, current_app, flash, make_response, request, url_for
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import PasswordInput

from extensions import locale_code, login_manager
from models import Prepared, User, db
from services import avatars, codes, email_change, region, webhooks
from services.permissions import has_permission

from blueprints import render, render_blocks, see_other, wants_fragment
from blueprints.forms import (
    EmailAddress,
    Form,
    StrongPassword,
    max_length,
    password_length,
    plain_text,
    required,
    shorten_choices,
)

bp = Blueprint("profile", __name__, url_prefix="/app")

PAGE = "profile/personal_data.html"
NAME_MAX = 200
PHONE_MAX = 32
PUBLIC_ENDPOINTS = {"profile.confirm_email"}  # the link in the mail works in any browser

ROLE_LABELS = {"owner": _l("Owner"), "admin": _l("Administrator"), "employee": _l("Employee")}
# models.core.TARIFFS, as the person reads them.
TARIFF_LABELS = {"standard": _l("Standard"), "prepaid": _l("Prepaid"), "corporate": _l("Corporate")}
LEGAL_FORMS = {
    "llc": _l("Limited liability company (LLC)"),
    "ie": _l("Individual entrepreneur"),
    "jsc": _l("Joint-stock company"),
    "other": _l("Other"),
}


@bp.app_template_global("support_contacts")
def support_contacts_for(organization=None):
    """The support contacts for `organization` (or the signed-in person's), for templates/_support.html."""
    from services.support import support_contacts

    if organization is None and current_user.is_authenticated:
        organization = current_user.organization
    return support_contacts(organization)


@bp.before_request
def require_login():
    """Every page of this area needs a signed-in person (the e-mail confirmation link excepted)."""
    if request.endpoint not in PUBLIC_ENDPOINTS and not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


# --- forms ------------------------------------------------------------------------------------


class FullNameForm(Form):
    full_name = StringField(
        _l("Full name"), validators=[required(_l("Enter your name.")), max_length(NAME_MAX), plain_text]
    )


class ShortInfoForm(Form):
    short_info = StringField(_l("Short info"), validators=[max_length(NAME_MAX), plain_text])


AUTOSAVE = {"full_name": FullNameForm, "short_info": ShortInfoForm}
# One UPDATE of one column per autosaved field, its SQL written once (it runs on every pause in typing).
SAVE_COLUMN = {
    name: Prepared(lambda value, user_id, column=getattr(User, name): User.update({column: value}).where(User.id == user_id))
    for name in AUTOSAVE
}


class RegionForm(Form):
    language = SelectField(_l("Language"), validate_choice=False)
    country = SelectField(_l("Country"), validate_choice=False)
    time_zone = SelectField(_l("Time zone"), validate_choice=False)

    def __init__(self, locale, *args, usual_countries=(), countries_part=None, zones=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [("", _("The browser's language")), ("en", "English"), ("ru", "Русский")]
        self.country.choices = [("", _("Not chosen"))] + list(region.countries(locale))
        # The organization's countries (and the chosen one), the others a part (?countries=2) at a time; someone
        # in an organization where nobody has a country yet sees them all.
        self.countries_parts = []
        if usual_countries or countries_part:
            self.countries_parts = shorten_choices(self.country, usual_countries, countries_part)
        # The chosen country's zones (a few instead of 400, which keeps the page small), or with ?zones=<area>
        # (?zones=all: the chosen zone's area) every zone of one area; any zone stays valid.
        country_zones = [] if zones else region.zones_of_country(self.country.data)
        self.zones_filtered = bool(country_zones)
        area = zones if zones in region.ZONE_AREAS else (self.time_zone.data or "").partition("/")[0]
        self.zone_area = None if country_zones or area not in region.ZONE_AREAS else area
        self.zone_areas = region.ZONE_AREAS
        self.zone_area_labels = [region.AREA_LABELS[area] for area in region.ZONE_AREAS]
        zones = country_zones or region.zones_of_area(self.zone_area)
        zones = {*zones, "UTC", self.time_zone.data} - {"", None}
        # «(UTC+03:00) Москва», by offset: a time zone as people know it, in their language (DESIGN.md).
        self.time_zone.choices = [("", _("From the country"))] + region.zone_choices(
            [z for z in zones if region.valid_time_zone(z)], locale)

    def validate_language(self, field):
        if field.data not in ("", *current_app.config["LANGUAGES"]):
            raise ValidationError(_l("Choose a language from the list."))

    def validate_country(self, field):
        if field.data and field.data not in dict(self.country.choices):
            raise ValidationError(_l("Choose a country from the list."))

    def validate_time_zone(self, field):
        if field.data and not region.valid_time_zone(field.data):
            raise ValidationError(_l("Choose a time zone from the list."))


class TimeZoneForm(Form):
    time_zone = StringField(validators=[max_length(64)])


def phone_field_check(country):
    """Validator: parse the number (the person's country as default region) and store it as E.164."""

    def check(form, field):
        try:
            field.data = region.parse_phone(field.data, country)
        except region.PhoneProblem as problem:
            if str(problem) == "unparsable":
                raise ValidationError(_l("Enter the number with its country code, like +7 912 345-67-89.")) from None
            raise ValidationError(_l("This number does not exist. Check the digits and the country code.")) from None

    return check


class EmailForm(Form):
    new_email = EmailField(_l("New e-mail"), validators=[EmailAddress()])
    password = PasswordField(_l("Current password"), validators=[required(), password_length])


class PhoneForm(Form):
    phone = StringField(_l("Phone number"), validators=[required(_l("Enter a phone number.")), max_length(PHONE_MAX)])
    password = PasswordField(_l("Current password"), validators=[password_length])

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.phone.validators = [*self.phone.validators, phone_field_check(user.country)]

    def validate_password(self, field):
        if self.user.phone_verified and not field.data:
            raise ValidationError(_l("Enter your current password to change a confirmed number."))


class CodeForm(Form):
    phone = HiddenField(validators=[max_length(PHONE_MAX)])
    code = StringField(_l("Code from the SMS"), validators=[required(_l("Enter the code."))])

    def validate_code(self, field):
        field.data = re.sub(r"[\s-]", "", field.data or "")
        if not re.fullmatch(r"\d{6}", field.data):
            raise ValidationError(_l("The code is 6 digits."))


class EditForm(Form):
    full_name = StringField(
        _l("Full name"), validators=[required(_l("Enter your name.")), max_length(NAME_MAX), plain_text]
    )
    email = EmailField(_l("E-mail"), validators=[EmailAddress(stored=lambda form: form.user.email)])
    phone = StringField(_l("Phone number"), validators=[required(_l("Enter a phone number.")), max_length(PHONE_MAX)])
    # The values are rendered back only on the confirmation step, to the person who typed them.
    new_password = PasswordField(
        _l("New password"),
        widget=PasswordInput(hide_value=False),
        validators=[Optional(), StrongPassword(lambda form: (form.email.data, form.full_name.data))],
    )
    repeat = PasswordField(_l("Repeat new password"), widget=PasswordInput(hide_value=False), validators=[password_length])
    current_password = PasswordField(_l("Current password"), validators=[password_length])

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.phone.validators = [*self.phone.validators, phone_field_check(user.country)]

    def validate_repeat(self, field):
        if (self.new_password.data or "") != (field.data or ""):
            raise ValidationError(_l("The passwords do not match."))

    def validate_email(self, field):
        if field.data != self.user.email:
            if contacts_locked(self.user, "email"):
                raise ValidationError(_l("Your confirmed e-mail can only be changed by support. Contact them."))
            if User.select().where(User.email == field.data, User.id != self.user.id).exists():
                raise ValidationError(_l("This address belongs to another account."))

    def validate_phone(self, field):
        if field.data != self.user.phone and contacts_locked(self.user, "phone"):
            raise ValidationError(_l("Your confirmed number can only be changed by support. Contact them."))


def add_error(field, message):
    field.errors = [*field.errors, message]


# --- page context -----------------------------------------------------------------------------


def balance_info(organization):
    """(formatted balance, None) or (None, reason why there is none to show)."""
    if organization.tariff == "corporate":
        return None, _("Your organization is on a corporate tariff: its balance is kept by your account manager.")
    if organization.tariff == "prepaid":
        return None, _("Your organization uses a prepaid plan, so there is no running balance.")
    if organization.balance is None:
        return None, _("The balance is not configured yet. Contact your account manager to set it up.")
    return region.format_money(organization.balance, organization.currency, locale_code()), None


def contacts_locked(user, kind):
    """Seed 001: with the organization's lock on, a confirmed contact changes only through support."""
    verified = user.email_verified if kind == "email" else user.phone_verified
    return bool(user.organization.contacts_locked and verified)


def page_context(user, **overrides):
    organization = user.organization
    balance, no_balance = balance_info(organization)
    context = {
        "user": user,
        "organization": organization,
        "balance": balance,
        "no_balance": no_balance,
        # The balance links to the settlements (the balance history) for those who may see them.
        "balance_url": url_for("account.balance") if has_permission(user, "billing.view") else None,
        "role_label": ROLE_LABELS.get(user.role, user.role),
        "legal_form_label": LEGAL_FORMS.get(organization.legal_form, organization.legal_form),
        "phone_display": region.format_phone(user.phone),
        "country_label": region.country_name(user.country, locale_code()),
        "zone_label": region.zone_label(user.time_zone or region.zone_for_country(user.country) or "UTC", locale_code()),
        "autosave_fields": [
            FullNameForm(formdata=None, data={"full_name": user.full_name}).full_name,
            ShortInfoForm(formdata=None, data={"short_info": user.short_info}).short_info,
        ],
        "saved": None,
        "pending_email": email_change.pending(user),
        "email_form": EmailForm(formdata=None),
        "email_locked": contacts_locked(user, "email"),
        "email_message": None,
        "phone_form": PhoneForm(user, formdata=None),
        "pending_phone": codes.pending_code(user, "phone"),
        "phone_locked": contacts_locked(user, "phone"),
        "popup": False,
        "detect_time_zone": user.time_zone is None,
    }
    context.update(overrides)
    # The code's form is shown only while a code is pending (forms built only to be shown cost the page).
    if "code_form" not in context:
        context["code_form"] = CodeForm(formdata=None) if context["pending_phone"] else None
    if "form" in context:  # a submitted autosave form keeps its input and error in the full page
        name = next(iter(context["form"]._fields.keys() - {"csrf_token"}))
        context["autosave_fields"] = [context["form"][name] if f.name == name else f for f in context["autosave_fields"]]
    return context


def me():
    return current_user._get_current_object()


@bp.get("/personal-data")
def personal_data():
    # A picture over the limit without JS comes back here (blueprints.person.pictures), told so at the field.
    too_large = request.args.get("picture") == "too-large"
    return render(PAGE, **page_context(me(), **({"picture_error": avatars.too_large_message()} if too_large else {})))


def profile_changed(user, fields):
    """The "profile.changed" webhook event (audited changes such as e-mail and phone emit theirs through
    services.audit); written in the caller's transaction."""
    webhooks.emit(user.organization_id, "profile.changed",
                  {"user": {"id": user.id, "email": user.email}, "fields": fields, "via": "page"})


# --- inline autosave ----------------------------------------------------------------------------


@bp.post("/personal-data/field/<name>")
def save_field(name):
    """Seed 001: save one column as the person types; htmx gets the field's state and the new top-bar label."""
    form_class = AUTOSAVE.get(name) or abort(404)
    if name not in request.form:  # an autosave carries its field: without it there is nothing to save
        abort(400)
    # CSRFProtect has already checked this POST (header or field) before the view ran; the form's own
    # check would verify the same token again and sign a fresh one on every keystroke's save.
    form = form_class(meta={"csrf": False})
    user = me()
    if not form.validate_on_submit():
        return render(PAGE, block="autosave_state", status=422, f=form[name], **page_context(user, form=form))
    value = form[name].data
    # Only this column is written, so two tabs saving different fields never overwrite each other.
    # The UPDATE goes first: on SQLite a transaction that reads before it writes cannot wait for the
    # write lock (SQLITE_BUSY at once when another save committed meanwhile).
    with db.atomic():
        SAVE_COLUMN[name].execute(value, user.id)
        profile_changed(user, [name])
    setattr(user, name, value)
    if wants_fragment():
        # One template context for the state line and both out-of-band parts (the state line ignores `oob`).
        html = render_blocks(PAGE, ["autosave_state", "topbar_label", "profile_title"], oob=True, f=form[name], saved=name, user=user)
        return make_response(html)
    flash(_("Saved."), "success")
    return see_other(url_for(".personal_data"))


# --- language and region ------------------------------------------------------------------------


def organization_countries(user):
    """The countries the person's organization lives in: the short list of the region form."""
    query = User.select(User.country).where(User.organization == user.organization_id, User.country.is_null(False)).distinct()
    return {person.country for person in query}


@bp.route("/personal-data/region", methods=["GET", "POST"])
def edit_region():
    user = me()
    # A GET with the form's fields is htmx asking for the zone list of a newly chosen country: nothing is saved.
    preview = {"formdata": request.args} if request.method == "GET" and "country" in request.args else {}
    form = RegionForm(
        locale_code(),
        usual_countries=organization_countries(user),
        countries_part=request.args.get("countries"),
        zones=request.args.get("zones"),
        **preview,
        data={
            "language": user.language or "",
            "country": user.country or "",
            "time_zone": user.time_zone or region.zone_for_country(user.country) or "",
        },
    )
    if preview and wants_fragment():
        return render("profile/region.html", block="zone_field", form=form, user=user)
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render("profile/region.html", block="region_form", status=status, form=form, user=user)
    country = form.country.data or None
    zone = form.time_zone.data or region.zone_for_country(country)
    with db.atomic():
        User.update(language=form.language.data or None, country=country, time_zone=zone).where(User.id == user.id).execute()
        profile_changed(user, ["language", "country", "time_zone"])
    language = form.language.data or None
    with force_locale(language or locale_code()):
        flash(_("Language and region saved."), "success")
    return see_other(url_for(".personal_data"))


@bp.post("/personal-data/time-zone")
def detect_time_zone():
    """The browser's zone, sent by app.js on the first visit; a zone the person chose is never replaced."""
    form = TimeZoneForm()
    if form.validate_on_submit() and region.valid_time_zone(form.time_zone.data):
        zone = form.time_zone.data
        User.update(time_zone=zone).where(User.id == me().id, User.time_zone.is_null()).execute()
        # Seed 002: the region we detect is the default too, until the person picks one.
        country = region.country_of_zone(zone)
        if country:
            User.update(country=country).where(User.id == me().id, User.country.is_null()).execute()
        return "", 204
    return "", 422


# --- e-mail change -------------------------------------------------------------------------------


# --- phone binding -------------------------------------------------------------------------------


# --- edit page -------------------------------------------------------------------------------------


@bp.app_template_filter("phone")
def phone_filter(number):
    """An E.164 number as people write it (+7 912 345-67-89)."""
    return region.format_phone(number)


@bp.app_template_filter("local_datetime")
def local_datetime(value):
    """A stored UTC time shown in the person's zone."""
    return format_datetime(value, "short") if value else ""

"""The personal-data page: profile and company cards, inline autosave, language and region,
e-mail and phone binding with codes, and the edit page with the confirmed password change."""
import re

from flask import Blueprint, abort, current_app, flash, g, make_response, request, url_for
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import PasswordInput

from extensions import count_attempt, language_for, locale_code, login_manager, seconds_until_allowed
from models import Prepared, User, db, utcnow
from services import audit, avatars, codes, email_change, passwords, region, sessions, webhooks
from services.mailer import MailError, send_app_mail
from services.sms import SmsError, send_sms

from . import render, render_blocks, see_other, wants_fragment
from .auth import client_meta, notify_password_changed, wait_message
from .forms import (
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
LEGAL_FORMS = {
    "llc": _l("Limited liability company (LLC)"),
    "ie": _l("Individual entrepreneur"),
    "jsc": _l("Joint-stock company"),
    "other": _l("Other"),
}


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
    # A picture over the limit without JS comes back here (blueprints.pictures), told so at the field.
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


def current_password_ok(field, user):
    """Check the current password in this POST (SECURITY.md 11); rate limited like sign-in."""
    limit = current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]
    wait = seconds_until_allowed(limit, "reauth", str(user.id))
    if wait:
        add_error(field, wait_message(wait))
        return 429
    if not passwords.verify_password(user.password_hash, field.data or ""):
        count_attempt(limit, "reauth", str(user.id))
        audit.record("reauth.failed", actor=user, target=user.email, **client_meta())
        add_error(field, _("The current password is not right."))
        return 422
    sessions.mark_reauthenticated(g.user_session)
    return None


def email_section(user, status, **context):
    return render(PAGE, block="email_section", status=status, **page_context(user, **context))


def send_email_change_link(user, new_email):
    """Issue the 24-hour link and mail it to the new address; False (link voided) when the mail fails."""
    secret = email_change.start(user, new_email)
    link = url_for(".confirm_email", token=secret, _external=True)
    with force_locale(language_for(user)):
        subject = _("Confirm your new Kabinet e-mail address")
        text = _(
            "Someone asked to use %(new)s as the sign-in address of a Kabinet account instead of %(old)s.\n\n"
            "To confirm, open this link within 24 hours (it works once):\n%(link)s\n\n"
            "If it was not you, ignore this message: nothing changes.",
            new=new_email,
            old=user.email,
            link=link,
        )
    try:
        send_app_mail(current_app.config, new_email, subject, text)
    except MailError:
        email_change.cancel(user)
        return False
    audit.record("email.change_requested", actor=user, target=new_email, **client_meta())
    return True


def email_send_wait(user):
    return seconds_until_allowed("5 per hour", "email-change", str(user.id))


@bp.post("/personal-data/email")
def change_email():
    user = me()
    form = EmailForm()
    if contacts_locked(user, "email"):
        add_error(form.new_email, _("Your confirmed e-mail can only be changed by support. Contact them."))
        return email_section(user, 403, email_form=form)
    if not form.validate_on_submit():
        return email_section(user, 422, email_form=form)
    new_email = form.new_email.data
    if new_email == user.email:
        add_error(form.new_email, _("This is already your address."))
        return email_section(user, 422, email_form=form)
    if User.select().where(User.email == new_email).exists():
        add_error(form.new_email, _("This address belongs to another account."))
        return email_section(user, 422, email_form=form)
    wait = email_send_wait(user)
    if wait:
        add_error(form.new_email, wait_message(wait))
        return email_section(user, 429, email_form=form)
    status = current_password_ok(form.password, user)
    if status:
        return email_section(user, status, email_form=form)
    count_attempt("5 per hour", "email-change", str(user.id))
    if not send_email_change_link(user, new_email):
        add_error(form.new_email, _("The confirmation link could not be sent. Try again later."))
        return email_section(user, 503, email_form=form)
    flash(_("We sent a confirmation link to %(email)s. Your address changes when you open it.", email=new_email), "success")
    return see_other(url_for(".personal_data"))


@bp.post("/personal-data/email/resend")
def resend_email_link():
    user = me()
    pending = email_change.pending(user)
    if pending is None:
        flash(_("There is no pending e-mail change."), "error")
        return see_other(url_for(".personal_data"))
    wait = email_send_wait(user)
    if wait:
        return email_section(user, 429, email_message=wait_message(wait))
    count_attempt("5 per hour", "email-change", str(user.id))
    if not send_email_change_link(user, pending.data):
        return email_section(user, 503, email_message=_("The confirmation link could not be sent. Try again later."))
    flash(_("We sent a new link to %(email)s.", email=pending.data), "success")
    return see_other(url_for(".personal_data"))


@bp.post("/personal-data/email/cancel")
def cancel_email_change():
    user = me()
    if email_change.cancel(user):
        audit.record("email.change_cancelled", actor=user, target=user.email, **client_meta())
        flash(_("The e-mail change was cancelled."), "info")
    return see_other(url_for(".personal_data"))


@bp.route("/personal-data/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token):
    """GET shows what will change; the POST applies it (mail scanners that prefetch links change nothing)."""
    record = email_change.find(token)
    if record is None:
        return render("profile/confirm_email.html", status=404, record=None, problem=_("This link is invalid, used or expired."))
    if request.method == "GET":
        return render("profile/confirm_email.html", record=record, problem=None)
    from flask_wtf.csrf import validate_csrf

    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(403)
    user = record.user
    try:
        old_email = email_change.confirm(record)
    except email_change.AddressTaken:
        return render("profile/confirm_email.html", status=409, record=None, problem=_("This address now belongs to another account."))
    if old_email is None:
        return render("profile/confirm_email.html", status=404, record=None, problem=_("This link is invalid, used or expired."))
    audit.record("email.changed", actor=user, target=record.data, old=old_email, **client_meta())
    notify_old_address(user, old_email, record.data)
    flash(_("Your e-mail address is now %(email)s.", email=record.data), "success")
    return see_other(url_for(".personal_data"))


def notify_old_address(user, old_email, new_email):
    """SECURITY.md 12: the old address hears of the change, with a way out if it was not the person."""
    with force_locale(language_for(user)):
        subject = _("Your Kabinet sign-in address was changed")
        text = _(
            "The sign-in address of your Kabinet account was changed from %(old)s to %(new)s.\n\n"
            "If this was not you, reset your password at %(link)s and tell your administrator at once.",
            old=old_email,
            new=new_email,
            link=url_for("auth.forgot_password", _external=True),
        )
    try:
        send_app_mail(current_app.config, old_email, subject, text)
    except MailError:
        pass  # logged by the mailer; the change itself stands


# --- phone binding -------------------------------------------------------------------------------


def phone_section(user, status, **context):
    return render(PAGE, block="phone_section", status=status, **page_context(user, **context))


def throttle_message(exc):
    minutes = max(1, (exc.seconds + 59) // 60)
    if exc.reason == "resend":
        return _("You can ask for a new code in %(seconds)d s.", seconds=exc.seconds)
    if exc.reason == "target":
        return _("Too many codes were sent to this number. Try again in %(minutes)d min.", minutes=minutes)
    return _("You asked for too many codes. Try again in %(minutes)d min.", minutes=minutes)


def send_phone_code(user, phone):
    """Send a code to `phone`; None when sent, else a translated reason and a status."""
    def deliver(code):
        with force_locale(language_for(user)):
            text = _("Kabinet code: %(code)s. It is valid for 10 minutes. Do not tell it to anyone.", code=code)
        send_sms(current_app.config, phone, text)

    try:
        codes.issue_code(user, "phone", phone, deliver)
    except codes.CodeThrottled as exc:
        return throttle_message(exc), 429
    except SmsError:
        return _("The code could not be sent. Try again later."), 503
    audit.record("phone.code_sent", actor=user, target=phone, **client_meta())
    return None


@bp.post("/personal-data/phone")
def change_phone():
    user = me()
    form = PhoneForm(user)
    if contacts_locked(user, "phone"):
        add_error(form.phone, _("Your confirmed number can only be changed by support. Contact them."))
        return phone_section(user, 403, phone_form=form)
    if not form.validate_on_submit():
        return phone_section(user, 422, phone_form=form)
    if form.phone.data == user.phone and user.phone_verified:
        add_error(form.phone, _("This number is already confirmed."))
        return phone_section(user, 422, phone_form=form)
    if user.phone_verified:
        status = current_password_ok(form.password, user)
        if status:
            return phone_section(user, status, phone_form=form)
    problem = send_phone_code(user, form.phone.data)
    if problem:
        add_error(form.phone, problem[0])
        return phone_section(user, problem[1], phone_form=form)
    return code_sent(user, form.phone.data)


def code_sent(user, phone):
    if wants_fragment():  # the popup itself says where the code went
        return phone_section(user, 200, popup=True)
    flash(_("We sent a code to %(phone)s.", phone=region.format_phone(phone)), "success")
    return see_other(url_for(".personal_data", _anchor="phone-section"))


@bp.post("/personal-data/phone/verify")
def verify_phone():
    user = me()
    form = CodeForm()
    pending = codes.pending_code(user, "phone")
    popup = wants_fragment()
    if contacts_locked(user, "phone"):
        add_error(form.code, _("Your confirmed number can only be changed by support. Contact them."))
        return phone_section(user, 403, code_form=form, popup=popup)
    if not form.validate_on_submit():
        return phone_section(user, 422, code_form=form, popup=popup and pending is not None)
    result = codes.check_code(user, "phone", form.phone.data, form.code.data)
    if result.status == "ok":
        User.update(phone=form.phone.data, phone_verified=True).where(User.id == user.id).execute()
        audit.record("phone.verified", actor=user, target=form.phone.data, old=user.phone or "", **client_meta())
        flash(_("Your phone number %(phone)s is confirmed.", phone=region.format_phone(form.phone.data)), "success")
        return see_other(url_for(".personal_data"))
    messages = {
        "wrong": _("Wrong code. Tries left: %(n)d.", n=result.tries_left),
        "expired": _("This code has expired. Ask for a new one."),
        "locked": _("Too many wrong codes. Enter your number again to get a new code."),
        "missing": _("No code is waiting. Enter your number to get one."),
        "other_target": _("This code was sent to another number."),
    }
    add_error(form.code, messages[result.status])
    audit.record("phone.code_failed", actor=user, target=form.phone.data or "", reason=result.status, **client_meta())
    still_pending = codes.pending_code(user, "phone")
    return phone_section(user, 422, code_form=form, pending_phone=still_pending, popup=popup and still_pending is not None)


@bp.post("/personal-data/phone/resend")
def resend_phone_code():
    user = me()
    pending = codes.pending_code(user, "phone")
    if pending is None:
        flash(_("No code is waiting. Enter your number to get one."), "error")
        return see_other(url_for(".personal_data"))
    problem = send_phone_code(user, pending.target)
    if problem:
        form = CodeForm(formdata=None, data={"phone": pending.target})
        add_error(form.code, problem[0])
        return phone_section(user, problem[1], code_form=form, popup=wants_fragment())
    return code_sent(user, pending.target)


@bp.post("/personal-data/phone/cancel")
def cancel_phone_code():
    codes.close_codes(me(), "phone")
    return see_other(url_for(".personal_data"))


# --- edit page -------------------------------------------------------------------------------------


@bp.route("/personal-data/edit", methods=["GET", "POST"])
def edit():
    """Seed 000: name, e-mail, phone and a new password; saving asks for the current password first."""
    user = me()
    form = EditForm(user, data={"full_name": user.full_name, "email": user.email, "phone": region.format_phone(user.phone)})

    def page(status, confirming=False):
        return render(
            "profile/edit.html", block="edit_form", status=status, form=form, user=user, confirming=confirming,
            popup=confirming and wants_fragment(), email_locked=contacts_locked(user, "email"),
            phone_locked=contacts_locked(user, "phone"),
        )

    if not form.validate_on_submit():
        return page(422 if form.is_submitted() else 200)
    changes = {
        "name": form.full_name.data != user.full_name,
        "email": form.email.data != user.email,
        "phone": form.phone.data != user.phone,
        "password": bool(form.new_password.data),
    }
    if not any(changes.values()):
        flash(_("Nothing to save: no field was changed."), "info")
        return see_other(url_for(".personal_data"))
    if not form.current_password.data:
        return page(200, confirming=True)
    status = current_password_ok(form.current_password, user)
    if status:
        return page(status, confirming=True)
    # Sending first: when a link or code cannot go out, nothing else is saved either.
    if changes["email"]:
        if email_send_wait(user):
            add_error(form.email, wait_message(email_send_wait(user)))
            return page(429)
        count_attempt("5 per hour", "email-change", str(user.id))
        if not send_email_change_link(user, form.email.data):
            add_error(form.email, _("The confirmation link could not be sent. Try again later."))
            return page(503)
    if changes["phone"]:
        problem = send_phone_code(user, form.phone.data)
        if problem:
            add_error(form.phone, problem[0])
            return page(problem[1])
    with db.atomic():
        if changes["name"]:
            User.update(full_name=form.full_name.data).where(User.id == user.id).execute()
            profile_changed(user, ["full_name"])
        if changes["password"]:
            User.update(password_hash=passwords.hash_password(form.new_password.data), password_changed_at=utcnow()).where(
                User.id == user.id
            ).execute()
            ended = sessions.end_sessions(user, keep=g.user_session)
            audit.record("password.changed", actor=user, target=user.email, other_sessions_ended=ended, **client_meta())
    if changes["password"]:
        notify_password_changed(user)
        flash(_("Your password has been changed. Other sessions were signed out."), "success")
    if changes["name"]:
        flash(_("Your name has been saved."), "success")
    if changes["email"]:
        flash(_("We sent a confirmation link to %(email)s. Your address changes when you open it.", email=form.email.data), "success")
    if changes["phone"]:
        flash(_("We sent a code to %(phone)s. Enter it below to confirm the number.", phone=region.format_phone(form.phone.data)), "success")
        return see_other(url_for(".personal_data", _anchor="phone-section"))
    return see_other(url_for(".personal_data"))


@bp.app_template_filter("phone")
def phone_filter(number):
    """An E.164 number as people write it (+7 912 345-67-89)."""
    return region.format_phone(number)


@bp.app_template_filter("local_datetime")
def local_datetime(value):
    """A stored UTC time shown in the person's zone."""
    return format_datetime(value, "short") if value else ""


from . import pictures  # noqa: E402,F401  (profile pictures: routes on this blueprint)

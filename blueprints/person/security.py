"""The security center (/app/security): two-factor authentication, recovery codes, re-authentication,
the organization's 2FA policy. Sessions, allowlists, API keys and webhooks build on the same rules."""
import time
from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import ValidationError

from extensions import count_attempt, language_for, seconds_until_allowed
from models import Passkey, UserSession, utcnow
from services import audit, ipallow, otp, passwords
from services.useragent import describe as describe_device
from services.mailer import MailError, send_app_mail
from services.tokens import digest, new_secret

from blueprints import is_htmx, render, safe_next, see_other
from blueprints.auth import client_meta, notify_security, wait_message
from blueprints.forms import Form, max_length, password_length, required

bp = Blueprint("security", __name__, url_prefix="/app/security")

SETUP_LIFETIME = 600  # seconds a TOTP secret waits in the session to be confirmed
ADMIN_ROLES = ("owner", "admin")
# Pages a member of a "require 2FA" organization may use before 2FA is on.
SETUP_ENDPOINTS = {
    "security.totp_setup", "security.email_setup_start", "security.email_setup", "security.recovery_codes",
    "security.recovery_codes_download", "security.reauth", "auth.logout", "auth.set_language", "static",
}


# --- forms ------------------------------------------------------------------------------------


def code_field(label=_l("Code")):
    return StringField(label, validators=[required(), max_length(20)])


class CodeFormMixin:
    def validate_code(self, field):
        field.data = otp.normalize_code(field.data)
        if not (otp.is_otp(field.data) or otp.is_recovery_code(field.data)):
            raise ValidationError(_l("Enter the 6-digit code, or one of your recovery codes."))


class PasswordForm(Form):
    password = PasswordField(_l("Password"), validators=[required(), password_length])


class ConfirmCodeForm(Form):
    code = code_field()

    def validate_code(self, field):
        field.data = otp.normalize_code(field.data)
        if not otp.is_otp(field.data):
            raise ValidationError(_l("Enter the 6 digits of the code."))


class ManageForm(CodeFormMixin, Form):
    """Switching 2FA off or making new recovery codes: the password and a current code (SECURITY.md 11)."""

    password = PasswordField(_l("Password"), validators=[required(), password_length])
    code = code_field(_l("Current code"))


class PolicyForm(Form):
    require_2fa = BooleanField(_l("Every member must use two-factor authentication"))


# --- access rules -----------------------------------------------------------------------------


def reauth_expired():
    record = g.get("user_session")
    limit = timedelta(minutes=current_app.config["REAUTH_MINUTES"])
    return record is None or utcnow() - record.reauth_at > limit


def go_to(url):
    """A redirect that also works for an htmx request (HX-Redirect, SECURITY.md 20)."""
    if is_htmx():
        response = Response("", 401 if request.method != "GET" else 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303 if request.method != "GET" else 302)


@bp.before_request
@login_required
def require_recent_password():
    """Every security page needs a password entered within REAUTH_MINUTES (SECURITY.md 11)."""
    # The password page asks for the current password in its own POST (SECURITY.md 11).
    if request.endpoint not in ("security.reauth", "security.password") and reauth_expired():
        back = request.full_path if request.method == "GET" else url_for("security.index")
        return go_to(url_for("security.reauth", next=back.rstrip("?")))


@bp.before_app_request
def enforce_2fa_policy():
    """Members of an organization that requires 2FA can do nothing else until it is on."""
    if request.endpoint in SETUP_ENDPOINTS or request.endpoint is None or request.blueprint == "auth":
        return None
    user = current_user._get_current_object()
    if not user.is_authenticated or user.two_factor != "off":
        return None
    if g.get("impersonator") is not None:  # "Sign in as": the security pages are closed anyway
        return None
    if request.blueprint == "api":
        return None
    if not user.organization.require_2fa:  # joined by the session lookup: no extra query
        return None
    if request.method == "GET" and not is_htmx():
        flash(_("Your organization requires two-factor authentication. Set it up to continue."), "info")
    return go_to(url_for("security.totp_setup"))


@bp.context_processor
def security_tabs():
    return {"security_endpoints": current_app.view_functions, "describe_device": describe_device}


MAX_ID = 2**63 - 1


def owned_or_404(model, row_id, *conditions):
    """The row with `row_id` that meets `conditions` (its owner), else 404 — also for ids beyond BIGINT."""
    row = model.get_or_none(model.id == row_id, *conditions) if 0 < row_id <= MAX_ID else None
    if row is None:
        abort(404)
    return row


def me():
    return current_user._get_current_object()


def password_problem(user, password):
    """None when `password` is the person's, else a translated reason; failures are throttled."""
    # Its own bucket: wrong passwords here must not lock the person out of signing in.
    limit = current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]
    wait = seconds_until_allowed(limit, "reauth-account", str(user.id))
    if wait:
        return wait_message(wait)
    if not passwords.verify_password(user.password_hash, password):
        count_attempt(limit, "reauth-account", str(user.id))
        audit.record("reauth.failed", actor=user, **client_meta())
        return _("The password is not right.")
    return None


def notify(user, subject, text):
    """SECURITY.md 13: tell the person by e-mail, in their language, about a security change."""
    try:
        send_app_mail(current_app.config, user.email, subject, text)
    except MailError:
        pass  # the change is made either way; the mailer has logged why


def notify_2fa_change(user, what):
    notify_security(user, "two_factor")
    with force_locale(language_for(user)):
        subjects = {
            "totp": _("Two-factor authentication is on (authenticator app)"),
            "email": _("Two-factor authentication is on (codes by e-mail)"),
            "off": _("Two-factor authentication was switched off"),
            "recovery": _("New recovery codes were made"),
            "changed_totp": _("Two-factor authentication now uses an authenticator app"),
            "changed_email": _("Two-factor authentication now uses codes by e-mail"),
            "passkey_added": _("A passkey was added"),
            "passkey_removed": _("A passkey was removed"),
        }
        text = _(
            "%(change)s for your Kabinet account %(email)s.\n\n"
            "If it was not you, change your password at once and tell your administrator.",
            change=subjects[what],
            email=user.email,
        )
        notify(user, subjects[what], text)


# --- re-authentication ------------------------------------------------------------------------


@bp.route("/reauth", methods=["GET", "POST"])
def reauth():
    form = PasswordForm()
    user = me()
    next_url = safe_next(request.args.get("next"), "security.index")
    if form.validate_on_submit():
        problem = password_problem(user, form.password.data)
        if problem is None:
            renew_session_id()
            audit.record("reauth", actor=user, **client_meta())
            return see_other(next_url)
        form.password.errors.append(problem)
    status = 422 if form.is_submitted() else 200
    return render("security/reauth.html", block="reauth_form", status=status, form=form, next_url=next_url)


def renew_session_id():
    """A re-authentication gets a new session id (SECURITY.md 14) and restarts the REAUTH clock."""
    record = g.user_session
    secret = new_secret()
    UserSession.update(token_hash=digest(secret), reauth_at=utcnow()).where(UserSession.id == record.id).execute()
    session["sid"] = secret


# --- overview ---------------------------------------------------------------------------------


def overview_context(user, **extra):
    organization = user.organization
    context = {
        "user": user,
        "organization": organization,
        "is_admin": user.role in ADMIN_ROLES,
        "codes_left": otp.recovery_codes_left(user) if user.two_factor != "off" else 0,
        "passkey_count": Passkey.select().where(Passkey.user == user).count(),
        "changing": user.two_factor != "off" and change_granted(user),
        "manage_form": ManageForm(formdata=None),
        "policy_form": PolicyForm(formdata=None, require_2fa=organization.require_2fa),
        "code_sent": bool(manage_challenge(user)),
        "user_form": AllowlistForm(formdata=None, prefix="user", entries=user.ip_allowlist),
        "org_form": AllowlistForm(formdata=None, prefix="org", entries=organization.ip_allowlist),
        "client_ip": request.remote_addr or "",
    }
    context.update(extra)
    return context


@bp.get("/")
def index():
    return render("security/index.html", **overview_context(me()))


# --- two-factor set-up ------------------------------------------------------------------------


CHANGE_LIFETIME = SETUP_LIFETIME  # seconds to set up the new method after password and code were checked


def change_granted(user):
    """True while this session may set up a new method: password and a current code were given lately."""
    grant = session.get("change_2fa")
    return (
        isinstance(grant, dict) and grant.get("user") == user.id
        and 0 <= time.time() - grant.get("at", 0) <= CHANGE_LIFETIME
    )


# --- recovery codes ---------------------------------------------------------------------------


# --- managing an active second factor ---------------------------------------------------------


def manage_challenge(user):
    challenge = otp.find_challenge(session.get("manage_2fa"), "manage")
    return challenge if challenge is not None and challenge.user_id == user.id else None


# --- organization policy ----------------------------------------------------------------------


# --- sessions and sign-in history -------------------------------------------------------------


# --- IP allowlists ----------------------------------------------------------------------------


class AllowlistForm(Form):
    entries = TextAreaField(
        _l("Allowed addresses"),
        validators=[max_length(ipallow.MAX_CHARS)],
        description=_l("One IPv4 or IPv6 address or range (CIDR, like 192.0.2.0/24) a line. Empty: anywhere."),
    )
    confirm = BooleanField(_l("Yes, save it even though it signs me out"))

    def validate_entries(self, field):
        _networks, problem = ipallow.parse(field.data)
        if problem:
            raise ValidationError(problem)




"""Signing in and out, forgotten passwords, the language switch for signed-out pages."""
import re

from flask import Blueprint, current_app, flash, g, redirect, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import ValidationError

from extensions import count_attempt, language_for, locale_code, remember_page_language, seconds_until_allowed
from models import Passkey, User, db, utcnow
from services import audit, deletion, ipallow, otp, passwords, sessions, tokens
from services.mailer import MailError, send_app_mail

from blueprints import render, safe_next, see_other
from blueprints.forms import Form, StrongPassword, lookup_email, max_length, password_length, required

bp = Blueprint("auth", __name__)


class LoginForm(Form):
    email = EmailField(_l("E-mail"), validators=[required(), max_length(254)])
    password = PasswordField(_l("Password"), validators=[required(), password_length])


class ForgotForm(Form):
    email = EmailField(_l("E-mail"), validators=[required(), max_length(254)])

    def validate_email(self, field):
        # Only the shape is checked: an address the validator refuses today (the old demo's `.local` ones) may
        # still be someone's, and the answer must not depend on it (SECURITY.md 4).
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", field.data or ""):
            raise ValidationError(_l("Enter a valid e-mail address, like name@example.com."))


class ResetForm(Form):
    password = PasswordField(
        _l("New password"),
        validators=[required(), StrongPassword(lambda form: (form.user.email, form.user.full_name))],
    )
    repeat = PasswordField(_l("Repeat new password"), validators=[required()])

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def validate_repeat(self, field):
        if field.data != self.password.data:
            raise ValidationError(_l("The passwords do not match."))


def client_meta():
    return {"ip": request.remote_addr or "", "user_agent": request.headers.get("User-Agent", "")[:300]}


def wait_message(seconds):
    minutes = max(1, (seconds + 59) // 60)
    return _("Too many attempts. Try again in %(minutes)d min.", minutes=minutes)


@bp.route("/")
def index():
    return redirect(url_for("profile.personal_data" if current_user.is_authenticated else "auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render("auth/login.html", block="login_form", status=status, form=form)

    cfg = current_app.config
    email = form.email.data.lower()
    ip = request.remote_addr or "unknown"
    wait = max(
        seconds_until_allowed(cfg["LOGIN_LIMIT_PER_IP"], "login-ip", ip),
        seconds_until_allowed(cfg["LOGIN_LIMIT_PER_ACCOUNT"], "login-account", email),
    )
    if wait:
        form.form_errors.append(wait_message(wait))
        return render("auth/login.html", block="login_form", status=429, form=form)

    user = User.get_or_none(User.email == email)
    if not passwords.verify_password(user.password_hash if user else None, form.password.data):
        count_attempt(cfg["LOGIN_LIMIT_PER_IP"], "login-ip", ip)
        count_attempt(cfg["LOGIN_LIMIT_PER_ACCOUNT"], "login-account", email)
        if user is not None:
            audit.record("signin.failed", actor=user, target=user.email, **client_meta())
        form.form_errors.append(_("Wrong e-mail or password."))
        return render("auth/login.html", block="login_form", status=422, form=form)
    if not user.is_active:
        form.form_errors.append(_("This account is disabled. Ask your administrator to enable it."))
        return render("auth/login.html", block="login_form", status=403, form=form, disabled_org=user.organization)
    if not ipallow.sign_in_allowed(user, request.remote_addr or ""):
        audit.record("signin.blocked", actor=user, target=user.email, **client_meta())
        form.form_errors.append(
            _("Signing in from your address (%(ip)s) is not allowed for this account. Ask your administrator.",
              ip=request.remote_addr or "?")
        )
        return render("auth/login.html", block="login_form", status=403, form=form)
    if passwords.needs_rehash(user.password_hash):
        User.update(password_hash=passwords.hash_password(form.password.data)).where(User.id == user.id).execute()
    if user.two_factor != "off":
        return begin_second_step(user, safe_next(request.args.get("next")))
    sign_in(user)
    return see_other(safe_next(request.args.get("next")))


def sign_in(user, method="password"):
    """Start a new server-side session with a fresh cookie (SECURITY.md 14). The one place a session starts."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    with db.atomic():  # the session and its audit event are written together or not at all
        secret = sessions.start_session(user, **client_meta())
        # signed in by themself: any invitation is accepted (users list, "Invitation pending")
        User.update(last_signin_at=utcnow(), invited_at=None).where(User.id == user.id).execute()
        audit.record("signin", actor=user, target=user.email, method=method, **client_meta())
        notify_security(user, "signin")
    session["sid"] = secret
    session.permanent = True
    login_user(user)
    remember_page_language(user)
    if deletion.cancel_on_sign_in(user, **client_meta()):
        flash(_("Welcome back: your account will not be deleted."), "success")


# --- the second step ----------------------------------------------------------------------------

SECOND_STEP_LIMIT = "10 per 10 minutes"  # wrong codes per account, on top of the 5 tries per challenge
RESEND_LIMIT = "3 per 10 minutes"


class CodeForm(Form):
    code = StringField(_l("Code"), validators=[required(), max_length(20)])

    def validate_code(self, field):
        field.data = otp.normalize_code(field.data)
        if not (otp.is_otp(field.data) or otp.is_recovery_code(field.data)):
            raise ValidationError(_l("Enter the 6-digit code, or one of your recovery codes."))


def begin_second_step(user, next_url):
    """Password accepted, 2FA on: keep only a pending marker in the session, not a sign-in."""
    secret, challenge = otp.start_challenge(user, "signin", data=next_url, target=user.email)
    remember_page_language(user)  # the code mail and later alerts go in the language of the page they see
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session["pending_2fa"] = secret
    if user.two_factor == "email":
        mail_code(user, challenge, "signin")
    return see_other(url_for("auth.login_code"))


def mail_code(user, challenge, purpose):
    """Send a fresh 6-digit code for `challenge` to the person's address, in their language."""
    code = otp.new_mailed_code(challenge)
    with force_locale(user.language or locale_code()):  # the person is looking at this page
        subject = _("Your Kabinet code: %(code)s", code=code)
        if purpose == "signin":
            text = _(
                "Your sign-in code is %(code)s. It is valid for 10 minutes.\n\n"
                "If you did not try to sign in, change your password: someone knows it.",
                code=code,
            )
        else:
            text = _(
                "Your confirmation code is %(code)s. It is valid for 10 minutes.\n\n"
                "If you did not ask for it, change your password and tell your administrator.",
                code=code,
            )
    try:
        send_app_mail(current_app.config, challenge.target or user.email, subject, text)
    except MailError:
        return False
    return True


def pending_challenge():
    return otp.find_challenge(session.get("pending_2fa"), "signin")


def restart_sign_in(message):
    session.pop("pending_2fa", None)
    flash(message, "error")
    return see_other(url_for("auth.login"))


def code_page(form, user, status=200):
    """The second step: the code form, and "Use a security key" when the person has a passkey."""
    has_passkey = Passkey.select().where(Passkey.user == user).exists()
    return render("auth/login_code.html", block="code_form", status=status, form=form, user=user,
                  has_passkey=has_passkey)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    challenge = pending_challenge()
    if challenge is None:
        return restart_sign_in(_("The sign-in has expired. Enter your e-mail and password again."))
    user = challenge.user
    form = CodeForm()
    if not form.validate_on_submit():
        return code_page(form, user, 422 if form.is_submitted() else 200)
    wait = seconds_until_allowed(SECOND_STEP_LIMIT, "2fa-user", str(user.id))
    if wait:
        form.form_errors.append(wait_message(wait))
        return code_page(form, user, 429)
    method = otp.check_second_factor(user, form.code.data, challenge)
    if method is None:
        count_attempt(SECOND_STEP_LIMIT, "2fa-user", str(user.id))
        audit.record("signin.failed", actor=user, target=user.email, step="code", **client_meta())
        if otp.count_wrong_code(challenge):
            return restart_sign_in(_("Too many wrong codes. Sign in again with your password."))
        form.code.errors.append(_("This code is not right, or it was already used."))
        return code_page(form, user, 422)
    otp.finish_challenge(challenge)
    next_url = safe_next(challenge.data)
    sign_in(user, method=method)
    if method == "recovery":
        left = otp.recovery_codes_left(user)
        notify_recovery_code_used(user, left)
        flash(_("You used a recovery code. %(n)d left.", n=left), "info")
    return see_other(next_url)


@bp.post("/login/code/resend")
def resend_code():
    challenge = pending_challenge()
    if challenge is None:
        return restart_sign_in(_("The sign-in has expired. Enter your e-mail and password again."))
    user = challenge.user
    if user.two_factor != "email":
        return see_other(url_for("auth.login_code"))
    wait = seconds_until_allowed(RESEND_LIMIT, "2fa-resend", str(user.id))
    if wait:
        flash(wait_message(wait), "error")
    else:
        count_attempt(RESEND_LIMIT, "2fa-resend", str(user.id))
        mail_code(user, challenge, "signin")
        flash(_("A new code was sent to %(email)s.", email=user.email), "success")
    return see_other(url_for("auth.login_code"))


def notify_recovery_code_used(user, left):
    """SECURITY.md 9: using a recovery code is told to the person."""
    notify_security(user, "two_factor")
    with force_locale(user.language or locale_code()):
        subject = _("A Kabinet recovery code was used")
        text = _(
            "Someone signed in to %(email)s with one of your recovery codes. %(n)d codes are left.\n\n"
            "If it was not you, change your password at once and make new recovery codes.",
            email=user.email,
            n=left,
        )
    try:
        send_app_mail(current_app.config, user.email, subject, text)
    except MailError:
        pass


@bp.post("/logout")
def logout():
    if current_user.is_authenticated and g.get("user_session") is not None:
        record = g.user_session
        sessions.end_session(record)
        audit.record("signout", actor=current_user._get_current_object(), **client_meta())
        if g.get("impersonator") is not None:  # signed in as someone else: the administrator's session ends too
            sessions.end_session_by_secret(session.get("admin_sid"))
    logout_user()
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    flash(_("You have signed out."), "info")
    return see_other(url_for("auth.login"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render("auth/forgot.html", block="forgot_form", status=status, form=form, sent=False)
    email = lookup_email(form.email.data)
    cfg = current_app.config
    # Throttled silently: the answer is the same whether or not a mail went out (SECURITY.md 4).
    allowed = not seconds_until_allowed("5 per hour", "reset-mail", email) and not seconds_until_allowed(
        "30 per hour", "reset-mail-ip", request.remote_addr or ""
    )
    user = User.get_or_none(User.email == email)
    if allowed:
        count_attempt("5 per hour", "reset-mail", email)
        count_attempt("30 per hour", "reset-mail-ip", request.remote_addr or "")
    if allowed and user is not None and user.is_active:
        send_reset_link(user, cfg)
    return render("auth/forgot.html", block="forgot_form", form=form, sent=True)


def send_reset_link(user, cfg):
    """Mail a one-hour, single-use reset link in the person's language."""
    secret = tokens.issue_token(user, "reset", tokens.RESET_LIFETIME)
    link = url_for("auth.reset_password", token=secret, _external=True)
    with force_locale(language_for(user)):
        subject = _("Reset your Kabinet password")
        text = _(
            "Someone asked to reset the password for %(email)s.\n\n"
            "To choose a new password, open this link within one hour:\n%(link)s\n\n"
            "If it was not you, ignore this message: your password stays the same.",
            email=user.email,
            link=link,
        )
    try:
        send_app_mail(cfg, user.email, subject, text)
    except MailError:
        pass  # logged by the mailer; the page answers the same either way
    audit.record("password.reset_requested", actor=user, target=user.email, **client_meta())


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    record = tokens.find_token(token, "reset")
    if record is None:
        return render("auth/reset_invalid.html", status=404)
    user = record.user
    form = ResetForm(user)
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render("auth/reset.html", block="reset_form", status=status, form=form, token=token)
    new_hash = passwords.hash_password(form.password.data)  # before the transaction: it holds the write lock
    with db.atomic():
        if not tokens.use_token(record):
            return render("auth/reset_invalid.html", status=404)
        User.update(password_hash=new_hash, password_changed_at=utcnow(), invited_at=None).where(
            User.id == user.id
        ).execute()
        sessions.end_sessions(user)
        audit.record("password.reset", actor=user, target=user.email, **client_meta())
    notify_password_changed(user)
    flash(_("Your password has been changed. Sign in with the new one."), "success")
    return see_other(url_for("auth.login"))


def notify_security(user, kind):
    """The "security" notification by the channels the person chose. For a password or 2FA change the
    e-mail is mandatory (SECURITY.md 13) and mailed directly by the caller, so e-mail is left out here."""
    from services.notifications import notify
    from services.useragent import describe

    meta = client_meta()
    browser, system = describe(meta["user_agent"])
    device = " / ".join(part for part in (browser, system) if part)
    notify(user, "security", {"kind": kind, "ip": meta["ip"], "device": device},
           exclude=() if kind == "signin" else ("email",))


def notify_password_changed(user):
    """SECURITY.md 13: tell the person, in their language, that their password changed."""
    notify_security(user, "password")
    with force_locale(language_for(user)):
        subject = _("Your Kabinet password was changed")
        text = _(
            "The password for %(email)s was changed. If it was not you, reset it now at %(link)s "
            "and tell your administrator.",
            email=user.email,
            link=url_for("auth.forgot_password", _external=True),
        )
    try:
        send_app_mail(current_app.config, user.email, subject, text)
    except MailError:
        pass


@bp.post("/language")
def set_language():
    """The language switch on signed-out pages (signed-in people choose theirs in their profile)."""
    language = request.form.get("lang", "")
    if language in current_app.config["LANGUAGES"]:
        session["lang"] = language
    return see_other(safe_next(request.form.get("next"), "auth.login"))

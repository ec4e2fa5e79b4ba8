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

from extensions import count_attempt, seconds_until_allowed
from models import AuditEvent, Organization, Passkey, User, UserSession, utcnow
from services import audit, ipallow, otp, passwords
from services import sessions as sessions_service
from services.useragent import describe as describe_device
from services.mailer import MailError, send_app_mail
from services.tokens import digest, new_secret

from . import is_htmx, render, safe_next, see_other
from .auth import client_meta, mail_code, notify_security, wait_message
from .forms import Form, max_length, password_length, required

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
    with force_locale(user.language or "en"):
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


def setup_secret():
    """The TOTP secret waiting for confirmation in this session (a new one after 10 minutes)."""
    pending = session.get("totp_setup")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > SETUP_LIFETIME:
        pending = {"secret": otp.new_totp_secret(), "at": int(time.time())}
        session["totp_setup"] = pending
    return pending["secret"]


CHANGE_LIFETIME = SETUP_LIFETIME  # seconds to set up the new method after password and code were checked


def change_granted(user):
    """True while this session may set up a new method: password and a current code were given lately."""
    grant = session.get("change_2fa")
    return (
        isinstance(grant, dict) and grant.get("user") == user.id
        and 0 <= time.time() - grant.get("at", 0) <= CHANGE_LIFETIME
    )


def setup_allowed(user):
    return user.two_factor == "off" or change_granted(user)


def already_on(user):
    flash(_("Two-factor authentication is already on. Switch it off first to change the method."), "info")
    return see_other(url_for("security.index"))


@bp.route("/2fa/totp", methods=["GET", "POST"])
def totp_setup():
    user = me()
    if not setup_allowed(user):
        return already_on(user)
    form = ConfirmCodeForm()
    secret = setup_secret()
    if form.validate_on_submit():
        step = otp.matching_step(secret, form.code.data)
        if step is not None:
            previous = user.two_factor
            otp.enable_totp(user, secret, step)
            session.pop("totp_setup", None)
            return finish_enabling(user, "totp", previous)
        form.code.errors.append(_("This code is not right. Check the time on your phone and try the newest code."))
    status = 422 if form.is_submitted() else 200
    uri = otp.totp_uri(secret, user.email)
    return render(
        "security/totp_setup.html", block="totp_form", status=status, form=form,
        secret=secret, qr=otp.qr_svg(uri), user=user,
    )


def finish_enabling(user, method, previous="off"):
    if previous != "off":  # a change of method: recovery codes and passkeys stay as they were
        session.pop("change_2fa", None)
        audit.record("2fa.method_changed", actor=user, target=user.email, method=method, previous=previous,
                     **client_meta())
        notify_2fa_change(user, f"changed_{method}")
        flash(_("Two-factor authentication now uses the new method. Your recovery codes and passkeys still work."),
              "success")
        return see_other(url_for("security.index"))
    codes = otp.new_recovery_codes(user)
    session["fresh_codes"] = codes
    audit.record("2fa.enabled", actor=user, target=user.email, method=method, **client_meta())
    notify_2fa_change(user, method)
    flash(_("Two-factor authentication is on. Save your recovery codes now."), "success")
    return see_other(url_for("security.recovery_codes"))


@bp.post("/2fa/email/start")
def email_setup_start():
    user = me()
    if not setup_allowed(user):
        return already_on(user)
    wait = seconds_until_allowed("3 per 10 minutes", "2fa-resend", str(user.id))
    if wait:
        flash(wait_message(wait), "error")
        return see_other(url_for("security.index"))
    count_attempt("3 per 10 minutes", "2fa-resend", str(user.id))
    secret, challenge = otp.start_challenge(user, "setup-email", target=user.email)
    session["setup_email"] = secret
    if mail_code(user, challenge, "setup"):
        flash(_("We sent a 6-digit code to %(email)s.", email=user.email), "success")
    else:
        flash(_("The code could not be sent. Try again in a few minutes."), "error")
    return see_other(url_for("security.email_setup"))


@bp.route("/2fa/email", methods=["GET", "POST"])
def email_setup():
    user = me()
    if not setup_allowed(user):
        return already_on(user)
    challenge = otp.find_challenge(session.get("setup_email"), "setup-email")
    if challenge is None or challenge.user_id != user.id:
        flash(_("The code has expired. Ask for a new one."), "error")
        return see_other(url_for("security.index"))
    form = ConfirmCodeForm()
    if form.validate_on_submit():
        if otp.check_mailed_code(challenge, form.code.data):
            previous = user.two_factor
            otp.enable_email(user)
            session.pop("setup_email", None)
            return finish_enabling(user, "email", previous)
        if otp.count_wrong_code(challenge):
            flash(_("Too many wrong codes. Ask for a new one."), "error")
            return see_other(url_for("security.index"))
        form.code.errors.append(_("This code is not right."))
    status = 422 if form.is_submitted() else 200
    return render("security/email_setup.html", block="email_form", status=status, form=form, user=user)


# --- recovery codes ---------------------------------------------------------------------------


@bp.get("/recovery-codes")
def recovery_codes():
    """New codes are shown once: they leave the session as they are shown."""
    user = me()
    codes = session.pop("fresh_codes", None)
    return render("security/recovery_codes.html", codes=codes or [], codes_left=otp.recovery_codes_left(user))


@bp.post("/recovery-codes/download")
def recovery_codes_download():
    """The codes just shown, echoed back as a text file (the server keeps only their hashes)."""
    codes = [otp.normalize_code(c) for c in request.form.getlist("code")[: otp.RECOVERY_COUNT]]
    codes = [c for c in codes if otp.is_recovery_code(c)]
    if not codes:
        return redirect(url_for("security.recovery_codes"), 303)
    header = _("Kabinet recovery codes for %(email)s. Each works once.", email=me().email)
    body = header + "\n\n" + "\n".join(codes) + "\n"
    response = Response(body, mimetype="text/plain")
    response.headers["Content-Disposition"] = 'attachment; filename="kabinet-recovery-codes.txt"'
    return response


# --- managing an active second factor ---------------------------------------------------------


def manage_challenge(user):
    challenge = otp.find_challenge(session.get("manage_2fa"), "manage")
    return challenge if challenge is not None and challenge.user_id == user.id else None


@bp.post("/2fa/code")
def send_manage_code():
    """E-mail 2FA: mail a code to confirm switching off or new recovery codes."""
    user = me()
    if user.two_factor != "email":
        return see_other(url_for("security.index"))
    wait = seconds_until_allowed("3 per 10 minutes", "2fa-resend", str(user.id))
    if wait:
        flash(wait_message(wait), "error")
        return see_other(url_for("security.index"))
    count_attempt("3 per 10 minutes", "2fa-resend", str(user.id))
    secret, challenge = otp.start_challenge(user, "manage", target=user.email)
    session["manage_2fa"] = secret
    if mail_code(user, challenge, "manage"):
        flash(_("We sent a 6-digit code to %(email)s.", email=user.email), "success")
    else:
        flash(_("The code could not be sent. Try again in a few minutes."), "error")
    return see_other(url_for("security.index"))


def checked_manage_form(user):
    """The ManageForm when password and code are right (the code is then used up), else None."""
    form = ManageForm()
    if not form.validate_on_submit():
        return form, False
    problem = password_problem(user, form.password.data)
    if problem:
        form.password.errors.append(problem)
        return form, False
    challenge = manage_challenge(user)
    if otp.check_second_factor(user, form.code.data, challenge) is None:
        if challenge is not None:
            otp.count_wrong_code(challenge)
        audit.record("2fa.code_failed", actor=user, **client_meta())
        form.code.errors.append(_("This code is not right, or it was already used."))
        return form, False
    return form, True


@bp.post("/2fa/disable")
def disable():
    user = me()
    if user.two_factor == "off":
        return see_other(url_for("security.index"))
    form, ok = checked_manage_form(user)
    if not ok:
        return render("security/index.html", block="manage_forms", status=422,
                      **overview_context(user, manage_form=form, action="disable"))
    method = user.two_factor
    otp.disable(user)
    session.pop("manage_2fa", None)
    audit.record("2fa.disabled", actor=user, target=user.email, method=method, **client_meta())
    notify_2fa_change(user, "off")
    flash(_("Two-factor authentication is off."), "success")
    return see_other(url_for("security.index"))


@bp.post("/2fa/change")
def change_method():
    """Changing the method, like switching off, needs the password and a current code (SECURITY.md 11);
    then the set-up pages open for 10 minutes and the current method stays on until the new one is confirmed."""
    user = me()
    if user.two_factor == "off":
        return see_other(url_for("security.index"))
    form, ok = checked_manage_form(user)
    if not ok:
        return render("security/index.html", block="manage_forms", status=422,
                      **overview_context(user, manage_form=form, action="change"))
    session["change_2fa"] = {"user": user.id, "at": int(time.time())}
    session.pop("manage_2fa", None)
    audit.record("2fa.change_started", actor=user, target=user.email, method=user.two_factor, **client_meta())
    flash(_("Choose the new method. The current one stays on until you confirm the new one."), "info")
    return see_other(url_for("security.index") + "#two-factor")


@bp.post("/recovery-codes/new")
def regenerate_codes():
    user = me()
    if user.two_factor == "off":
        return see_other(url_for("security.index"))
    form, ok = checked_manage_form(user)
    if not ok:
        return render("security/index.html", block="manage_forms", status=422,
                      **overview_context(user, manage_form=form, action="recovery"))
    session["fresh_codes"] = otp.new_recovery_codes(user)
    session.pop("manage_2fa", None)
    audit.record("2fa.recovery_regenerated", actor=user, target=user.email, **client_meta())
    notify_2fa_change(user, "recovery")
    flash(_("New recovery codes are ready; the old ones no longer work."), "success")
    return see_other(url_for("security.recovery_codes"))


# --- organization policy ----------------------------------------------------------------------


@bp.post("/organization/policy")
def organization_policy():
    user = me()
    if user.role not in ADMIN_ROLES:
        abort(403)
    form = PolicyForm()
    if not form.validate_on_submit():
        return render("security/index.html", block="policy_form", status=422, **overview_context(user, policy_form=form))
    required_now = bool(form.require_2fa.data)
    if required_now and user.two_factor == "off":
        form.require_2fa.errors.append(_("Turn on two-factor authentication for yourself first."))
        return render("security/index.html", block="policy_form", status=422, **overview_context(user, policy_form=form))
    Organization.update(require_2fa=required_now).where(Organization.id == user.organization_id).execute()
    audit.record("org.require_2fa", actor=user, target=user.organization.name, on=required_now, **client_meta())
    flash(_("Members must now use two-factor authentication.") if required_now
          else _("Two-factor authentication is now each member's choice."), "success")
    return see_other(url_for("security.index"))


# --- sessions and sign-in history -------------------------------------------------------------

HISTORY_ACTIONS = ("signin", "signin.failed", "signin.blocked")
HISTORY_PAGE = 20


def open_sessions(user):
    cfg = current_app.config
    now = utcnow()
    return list(
        UserSession.select()
        .where(
            UserSession.user == user,
            UserSession.ended_at.is_null(),
            UserSession.last_seen_at > now - timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]),
            UserSession.created_at > now - timedelta(hours=cfg["SESSION_ABSOLUTE_HOURS"]),
        )
        .order_by(UserSession.last_seen_at.desc())
    )


def sessions_page(user, status=200):
    return render("security/sessions.html", block="sessions_table", status=status,
                  sessions=open_sessions(user), current_id=g.user_session.id)


@bp.get("/sessions")
def sessions():
    return sessions_page(me())


@bp.post("/sessions/<int:session_id>/end")
def end_session(session_id):
    user = me()
    record = owned_or_404(UserSession, session_id, UserSession.user == user)
    if record.ended_at is not None:
        abort(404)
    sessions_service.end_session(record)
    audit.record("session.ended", actor=user, target=record.ip, session=record.id, **client_meta())
    if record.id == g.user_session.id:
        return see_other(url_for("auth.login"))
    flash(_("The session has ended."), "success")
    return see_other(url_for("security.sessions"))


@bp.post("/sessions/end-others")
def end_other_sessions():
    user = me()
    count = sessions_service.end_sessions(user, keep=g.user_session)
    audit.record("session.ended_others", actor=user, count=count, **client_meta())
    flash(_("All other sessions have ended."), "success")
    return see_other(url_for("security.sessions"))


@bp.get("/history")
def history():
    """Sign-in successes and failures, newest first, 20 a page by keyset (cost independent of depth)."""
    user = me()
    query = AuditEvent.select().where(AuditEvent.actor == user, AuditEvent.action.in_(HISTORY_ACTIONS))
    before = request.args.get("before", "")
    if before.isdigit() and len(before) < 19:
        query = query.where(AuditEvent.id < int(before))
    events = list(query.order_by(AuditEvent.id.desc()).limit(HISTORY_PAGE + 1))
    more = len(events) > HISTORY_PAGE
    events = events[:HISTORY_PAGE]
    return render("security/history.html", block="history_rows", events=events,
                  next_before=events[-1].id if more else None)


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


def save_allowlist(form, scope, block):
    """Save the person's or the organization's list; sessions from outside it end at once."""
    user = me()
    organization = user.organization
    if not form.validate_on_submit():
        return render("security/index.html", block=block, status=422, **overview_context(user, **{f"{scope}_form": form}))
    text = ipallow.normalized(form.entries.data)
    ip = request.remote_addr or ""
    new_lists = (text, None) if scope == "user" else (None, text)
    if not ipallow.sign_in_allowed(user, ip, *new_lists) and not form.confirm.data:
        form.confirm_needed = True
        form.form_errors.append(
            _("Your current address %(ip)s is not in this list: saving it signs you out and you cannot sign in "
              "again from here. Tick the box below to save it anyway.", ip=ip)
        )
        return render("security/index.html", block=block, status=409, **overview_context(user, **{f"{scope}_form": form}))
    if scope == "user":
        User.update(ip_allowlist=text).where(User.id == user.id).execute()
        people = [User.get_by_id(user.id)]
    else:
        Organization.update(ip_allowlist=text).where(Organization.id == organization.id).execute()
        people = list(User.select().where(User.organization == organization.id))
    ended = end_sessions_outside(people)
    audit.record("ip_allowlist.changed", actor=user, target=scope, entries=len(ipallow.entries(text)),
                 sessions_ended=ended, **client_meta())
    flash(_("The list of allowed addresses is saved."), "success")
    if g.user_session.id in ended:
        flash(_("Your address is not in the list, so you have been signed out."), "info")
        return see_other(url_for("auth.login"))
    return see_other(url_for("security.index"))


def end_sessions_outside(people):
    """End every open session of `people` whose address their lists no longer allow; returns the ids."""
    ended = []
    for person in people:
        for record in UserSession.select().where(UserSession.user == person.id, UserSession.ended_at.is_null()):
            if not ipallow.sign_in_allowed(person, record.ip):
                sessions_service.end_session(record)
                ended.append(record.id)
    return ended


@bp.post("/allowlist")
def user_allowlist():
    return save_allowlist(AllowlistForm(prefix="user"), "user", "user_allowlist_form")


@bp.post("/organization/allowlist")
def organization_allowlist():
    if me().role not in ADMIN_ROLES:
        abort(403)
    return save_allowlist(AllowlistForm(prefix="org"), "org", "org_allowlist_form")

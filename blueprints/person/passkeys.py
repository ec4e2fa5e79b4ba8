"""Passkeys (WebAuthn): register security keys and platform authenticators under /app/security/passkeys,
use one as the second sign-in step (/login/passkey), or alone: "Sign in with a passkey" on the sign-in
page (/login/passkey/discover, discoverable credentials with user verification).

The browser part is static/js/passkeys.js: it asks for options (a POST, which stores a single-use,
expiring challenge server-side), runs navigator.credentials.create()/get(), and posts the answer as JSON.
Without JavaScript the pages say so and the other second factors stay available.
"""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, jsonify, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from extensions import count_attempt, seconds_until_allowed
from models import Passkey, utcnow
from services import audit, ipallow, otp
from services import passkeys as webauthn
from services.passkeys import PasskeyError

from blueprints import render, safe_next, see_other
from blueprints.auth import SECOND_STEP_LIMIT, client_meta, pending_challenge, sign_in, wait_message
from blueprints.forms import Form, max_length, required
from blueprints.person.security import notify_2fa_change, owned_or_404, require_recent_password, security_tabs

bp = Blueprint("passkeys", __name__, url_prefix="/app/security/passkeys")
login_bp = Blueprint("passkey_login", __name__, url_prefix="/login/passkey")

# The same rules as the rest of the security center: signed in, password entered in the last minutes.
bp.before_request(require_recent_password)
bp.context_processor(security_tabs)


class NameForm(Form):
    name = StringField(
        _l("Name"),
        validators=[required(), max_length(webauthn.NAME_MAX)],
        description=_l("So you can tell your keys apart, like “YubiKey on my keyring” or “Work laptop”."),
    )


def relying_party():
    """The relying party this request speaks for: from config, or derived from the request's host."""
    cfg = current_app.config
    origin = cfg["PASSKEY_ORIGIN"] or request.host_url.rstrip("/")
    rp_id = cfg["PASSKEY_RP_ID"] or urlsplit(origin).hostname or ""
    return webauthn.RelyingParty(id=rp_id, origin=origin, name=cfg["PASSKEY_RP_NAME"])


def json_error(message, status, **extra):
    return jsonify(error=message, **extra), status


def json_payload():
    """The request's JSON object, or None (not JSON, malformed, or not an object)."""
    payload = request.get_json(silent=True) if request.is_json else None
    return payload if isinstance(payload, dict) else None


def name_form(payload):
    name = payload.get("name")
    return NameForm(formdata=MultiDict({"name": name if isinstance(name, str) else ""}))


def checking_failed():
    return _("The security key's answer could not be checked. Try again.")


def me():
    return current_user._get_current_object()


# --- the list -------------------------------------------------------------------------------------


def page(user, status=200, form=None, block=None, renaming=None, rename_form=None):
    return render(
        "passkeys/index.html", block=block, status=status, user=user, passkeys=webauthn.passkeys_of(user),
        form=form or NameForm(formdata=None), renaming=renaming, rename_form=rename_form,
        max_count=webauthn.MAX_PER_PERSON,
    )


@bp.get("/")
def index():
    return page(me())


def cannot_add(user):
    """A translated reason why `user` cannot add a passkey now, else None."""
    if user.two_factor == "off":
        return _("Turn on two-factor authentication first: a passkey is an extra way to confirm signing in.")
    if Passkey.select().where(Passkey.user == user).count() >= webauthn.MAX_PER_PERSON:
        return _("You have %(n)d passkeys, the most allowed. Remove one first.", n=webauthn.MAX_PER_PERSON)
    return None


# --- adding one -----------------------------------------------------------------------------------


@bp.post("/options")
def registration_options():
    """Step 1 of adding: a fresh challenge (kept server-side, single use, 5 minutes) and the options."""
    user = me()
    payload = json_payload()
    if payload is None:
        return json_error(_("Adding a passkey needs JavaScript."), 400)
    problem = cannot_add(user)
    if problem:
        return json_error(problem, 409)
    form = name_form(payload)
    if not form.validate():
        return json_error(form.name.errors[0], 422)
    options, challenge = webauthn.registration_options(
        relying_party(), user, webauthn.passkeys_of(user), current_app.config["SECRET_KEY"]
    )
    return options_answer(user, "passkey-add", options, challenge)


def options_answer(user, purpose, options, challenge):
    """Keep the challenge server-side (single use, 5 minutes; its secret in the session under the purpose's
    name, passkey_add or passkey_signin) and answer the options for navigator.credentials."""
    secret, _record = otp.start_challenge(user, purpose, data=challenge, lifetime=webauthn.CHALLENGE_LIFETIME)
    session[purpose.replace("-", "_")] = secret
    return current_app.response_class(f'{{"publicKey": {options}}}', mimetype="application/json")


@bp.post("/")
def add():
    """Step 2 of adding: check the authenticator's answer against the stored challenge and keep the key."""
    user = me()
    if not request.is_json:  # a plain form post: the browser has JavaScript off
        form = NameForm(formdata=request.form)
        form.form_errors.append(_("Adding a passkey needs JavaScript. Switch it on for this site, or keep using "
                                  "your authenticator app or e-mail codes."))
        return page(user, status=422, form=form)
    payload = json_payload()
    if payload is None:
        return json_error(checking_failed(), 400)
    problem = cannot_add(user)
    if problem:
        return json_error(problem, 409)
    form = name_form(payload)
    if not form.validate():
        return json_error(form.name.errors[0], 422)
    challenge = otp.find_challenge(session.pop("passkey_add", None), "passkey-add")
    if challenge is None or challenge.user_id != user.id or not otp.claim_challenge(challenge):
        return json_error(_("This request has expired. Try adding the passkey again."), 400)
    try:
        fields = webauthn.verify_new_passkey(relying_party(), challenge.data, payload.get("credential"))
        passkey = webauthn.add_passkey(user, form.name.data, fields)
    except PasskeyError as exc:
        audit.record("passkey.add_failed", actor=user, reason=exc.reason[:100], **client_meta())
        if exc.reason == "registered":
            return json_error(_("This security key is already registered."), 409)
        return json_error(checking_failed(), 400)
    audit.record("passkey.added", actor=user, target=passkey.name, passkey=passkey.id, **client_meta())
    notify_2fa_change(user, "passkey_added")
    flash(_("The passkey “%(name)s” is added. You can use it when you sign in.", name=passkey.name), "success")
    return jsonify(redirect=url_for("passkeys.index"))


# --- renaming and removing ------------------------------------------------------------------------


@bp.post("/<int:passkey_id>/rename")
def rename(passkey_id):
    user = me()
    passkey = owned_or_404(Passkey, passkey_id, Passkey.user == user)
    form = NameForm(prefix=f"rename-{passkey.id}")
    if not form.validate_on_submit():
        return page(user, status=422, block="passkey_table", renaming=passkey.id, rename_form=form)
    Passkey.update(name=form.name.data).where(Passkey.id == passkey.id).execute()
    audit.record("passkey.renamed", actor=user, target=form.name.data, passkey=passkey.id, **client_meta())
    if request.headers.get("HX-Request") == "true":
        return page(user, block="passkey_table")
    flash(_("The passkey is renamed."), "success")
    return see_other(url_for("passkeys.index"))


@bp.post("/<int:passkey_id>/remove")
def remove(passkey_id):
    user = me()
    passkey = owned_or_404(Passkey, passkey_id, Passkey.user == user)
    if not Form().validate_on_submit():
        return page(user, status=400)
    Passkey.delete().where(Passkey.id == passkey.id).execute()
    audit.record("passkey.removed", actor=user, target=passkey.name, passkey=passkey.id, **client_meta())
    notify_2fa_change(user, "passkey_removed")
    flash(_("The passkey “%(name)s” is removed.", name=passkey.name), "success")
    return see_other(url_for("passkeys.index"))


# --- the second sign-in step ----------------------------------------------------------------------


def sign_in_expired():
    return json_error(_("The sign-in has expired. Enter your e-mail and password again."), 401,
                      redirect=url_for("auth.login"))


@login_bp.post("/options")
def signin_options():
    """After the password: a challenge for one of the person's keys (single use, 5 minutes)."""
    pending = pending_challenge()
    if pending is None:
        return sign_in_expired()
    user = pending.user
    wait = seconds_until_allowed(SECOND_STEP_LIMIT, "2fa-user", str(user.id))
    if wait:
        return json_error(wait_message(wait), 429)
    passkeys = webauthn.passkeys_of(user)
    if not passkeys:
        return json_error(_("You have no passkey. Enter a code instead."), 404)
    options, challenge = webauthn.authentication_options(relying_party(), passkeys)
    return options_answer(user, "passkey-signin", options, challenge)


@login_bp.post("")
def signin():
    """The key's signature over our challenge finishes signing in, like a right code would."""
    pending = pending_challenge()
    if pending is None:
        return sign_in_expired()
    user = pending.user
    payload = json_payload()
    if payload is None:
        return json_error(_("Signing in with a security key needs JavaScript. Enter a code instead."), 400)
    wait = seconds_until_allowed(SECOND_STEP_LIMIT, "2fa-user", str(user.id))
    if wait:
        return json_error(wait_message(wait), 429)
    challenge = otp.find_challenge(session.pop("passkey_signin", None), "passkey-signin")
    if challenge is None or challenge.user_id != user.id or not otp.claim_challenge(challenge):
        return json_error(_("This request has expired. Try your security key again."), 400)
    try:
        webauthn.verify_assertion(
            relying_party(), challenge.data, payload.get("credential"), webauthn.passkeys_of(user)
        )
    except PasskeyError as exc:
        count_attempt(SECOND_STEP_LIMIT, "2fa-user", str(user.id))
        audit.record("signin.failed", actor=user, target=user.email, step="passkey", reason=exc.reason[:100],
                     **client_meta())
        if otp.count_wrong_code(pending):
            session.pop("pending_2fa", None)
            flash(_("Too many failed attempts. Sign in again with your password."), "error")
            return json_error(_("Too many failed attempts. Sign in again with your password."), 401,
                              redirect=url_for("auth.login"))
        return json_error(checking_failed(), 400)
    if not otp.claim_challenge(pending):
        return sign_in_expired()
    next_url = safe_next(pending.data)
    sign_in(user, method="passkey")
    return jsonify(redirect=next_url)


# --- signing in with a passkey alone ---------------------------------------------------------------
# A discoverable credential with user verification (PIN or biometric) is something the person has and
# knows or is: it stands for the password and the second factor together. The challenge waits in the
# session (no person is known yet) for CHALLENGE_LIFETIME; once an assertion over it succeeds, its
# digest is written as a used Challenge row (unique), so the same challenge never signs anyone in twice.

DISCOVER_KEY = "passkey_discover"


def discover_failed(message=None, status=400, user=None, reason=""):
    count_attempt(current_app.config["LOGIN_LIMIT_PER_IP"], "login-ip", request.remote_addr or "unknown")
    if user is not None:
        audit.record("signin.failed", actor=user, target=user.email, step="passkey-only", reason=reason[:100],
                     **client_meta())
    return json_error(message or checking_failed(), status)


def ip_wait():
    return seconds_until_allowed(current_app.config["LOGIN_LIMIT_PER_IP"], "login-ip", request.remote_addr or "unknown")


@login_bp.post("/discover/options")
def discover_options():
    """"Sign in with a passkey", step 1: options without a list of keys, and a challenge kept in the session."""
    wait = ip_wait()
    if wait:
        return json_error(wait_message(wait), 429)
    options, challenge = webauthn.discovery_options(relying_party())
    expires = int((utcnow() + webauthn.CHALLENGE_LIFETIME).timestamp())
    session[DISCOVER_KEY] = {"challenge": challenge, "expires": expires}
    return current_app.response_class(f'{{"publicKey": {options}}}', mimetype="application/json")


@login_bp.post("/discover")
def discover():
    """Step 2: the authenticator's signature, with the person verified, signs them in."""
    if not request.is_json:  # JavaScript off: WebAuthn cannot run; the password form is right there
        flash(_("Signing in with a passkey needs JavaScript. Sign in with your e-mail and password instead."), "error")
        return see_other(url_for("auth.login"))
    payload = json_payload()
    if payload is None:
        return json_error(checking_failed(), 400)
    wait = ip_wait()
    if wait:
        return json_error(wait_message(wait), 429)
    kept = session.pop(DISCOVER_KEY, None)
    if (not isinstance(kept, dict) or not isinstance(kept.get("challenge"), str)
            or not isinstance(kept.get("expires"), int) or kept["expires"] < utcnow().timestamp()):
        return json_error(_("This request has expired. Try your passkey again."), 400)
    try:
        passkey = webauthn.verify_discovered(relying_party(), kept["challenge"], payload.get("credential"),
                                             current_app.config["SECRET_KEY"])
    except PasskeyError as exc:
        known = Passkey.get_or_none(Passkey.credential_id == str((payload.get("credential") or {}).get("id", ""))[:1400]) \
            if isinstance(payload.get("credential"), dict) else None
        return discover_failed(user=known.user if known else None, reason=exc.reason)
    user = passkey.user
    if not otp.use_once(user, "passkey-login", kept["challenge"]):
        return discover_failed(user=user, reason="challenge reused")
    if not user.is_active:
        return json_error(_("This account is disabled. Ask your administrator to enable it."), 403)
    if not ipallow.sign_in_allowed(user, request.remote_addr or ""):
        audit.record("signin.blocked", actor=user, target=user.email, **client_meta())
        return json_error(_("Signing in from your address (%(ip)s) is not allowed for this account. Ask your "
                            "administrator.", ip=request.remote_addr or "?"), 403)
    sign_in(user, method="passkey-only")
    return jsonify(redirect=safe_next(request.args.get("next")))

"""'Sign in as' (impersonation): start and end it, keep sensitive pages closed meanwhile, and audit
every action under both names. The session rules themselves are in services/impersonation.py; the
request-by-request check is in app.load_user."""
from flask import abort, flash, g, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user

from models import User
from services import audit, impersonation
from services.permissions import permission_required

from blueprints import see_other
from blueprints.forms import Form
from blueprints.admin.core import bp, client_meta, me, own

# Pages that stay closed while an administrator acts as someone else: the whole security center
# (password, 2FA, passkeys, API keys, webhooks, sessions, allowlists) and whatever changes how the
# person signs in or removes them. Another area's page joins by adding its endpoint here.
CLOSED_BLUEPRINTS = {"security"}
CLOSED_PATH_PREFIXES = ("/app/security",)
CLOSED_ENDPOINTS = {
    "profile.edit",  # new password, e-mail and phone behind the current password
    "profile.change_email", "profile.resend_email", "profile.confirm_email",
    "profile.change_phone", "profile.verify_phone", "profile.resend_phone",
    "account.delete_account",
}
CLOSED_MESSAGE = _l("This page is closed while you are signed in as someone else. "
                    "Return to your own account to use it.")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def refuse(status, message):
    from blueprints.errors import error_response  # the app's error page (kept there for every blueprint)

    return error_response(status, str(message))


def impersonating():
    """True when this request runs under "Sign in as" (loads the signed-in person first)."""
    return "admin_sid" in session and current_user.is_authenticated and g.get("impersonator") is not None


def may_impersonate(admin, target):
    """Whether the "Sign in as" button makes sense for `target` (the POST checks again)."""
    if g.get("impersonator") is not None:
        return False
    try:
        impersonation.check_allowed(admin, target)
    except impersonation.Refused:
        return False
    return True


@bp.post("/users/<int:user_id>/impersonate")
@permission_required("users.impersonate")
def impersonate(user_id):
    target = own(User, user_id)
    if not Form().validate_on_submit():
        abort(400)
    if g.get("impersonator") is not None:
        return refuse(409, _("Return to your own account before signing in as someone else."))
    try:
        secret = impersonation.start(me(), g.user_session, target, **client_meta())
    except impersonation.Refused as exc:
        return refuse(exc.status, exc.message)
    session["admin_sid"] = session["sid"]  # the administrator's own session, to come back to
    session["_admin_id"] = me().id
    session["sid"] = secret
    login_user(target)
    flash(_("You are now signed in as %(name)s. Pages with passwords and security settings stay closed.",
            name=target.display_name), "info")
    return see_other(url_for("profile.personal_data"))


@bp.post("/impersonation/end")
def stop_impersonating():
    if not Form().validate_on_submit():
        abort(400)
    admin = g.get("impersonator")
    if admin is None:
        flash(_("You are signed in to your own account."), "info")
        return see_other(url_for("auth.index"))
    held = impersonation.of_session(g.user_session)
    impersonation.stop(held, g.user_session, **client_meta())
    g.impersonation_audited = True
    session["sid"] = session.pop("admin_sid")
    session.pop("_admin_id", None)
    login_user(admin)
    flash(_("You are back in your own account."), "success")
    return see_other(url_for("admin.users"))


@bp.before_app_request
def close_sensitive_pages():
    if "admin_sid" not in session or request.endpoint is None or not impersonating():
        return None
    if (request.blueprint in CLOSED_BLUEPRINTS or request.endpoint in CLOSED_ENDPOINTS
            or request.path.startswith(CLOSED_PATH_PREFIXES)):
        g.impersonation_refused = True
        return refuse(403, CLOSED_MESSAGE)
    return None


@bp.after_app_request
def audit_every_action(response):
    """Every state-changing request made as someone else leaves an event naming both people."""
    if (request.method in UNSAFE_METHODS and g.get("impersonator") is not None
            and not g.get("impersonation_audited") and not g.get("backend_down")):
        rule = request.url_rule.rule if request.url_rule else "?"  # the rule, never a token in the path
        # The person acted as: their session's owner (still known after a sign-out in this request).
        audit.record("impersonation.action", actor=g.user_session.user, target=rule,
                     method=request.method, status=response.status_code, **client_meta())
    return response

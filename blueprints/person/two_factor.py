"""Two-factor authentication: setting up the authenticator app or e-mail codes, recovery codes, switching off or changing the method, and the organization's 2FA policy."""
import time

from flask import Response, abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _

from blueprints import render, see_other
from blueprints.auth import client_meta, mail_code, wait_message
from blueprints.person.security import (
    ADMIN_ROLES,
    SETUP_LIFETIME,
    ConfirmCodeForm,
    ManageForm,
    PolicyForm,
    bp,
    change_granted,
    manage_challenge,
    me,
    notify_2fa_change,
    overview_context,
    password_problem,
)
from extensions import count_attempt, seconds_until_allowed
from models import Organization
from services import audit, otp


def setup_secret():
    """The TOTP secret waiting for confirmation in this session (a new one after 10 minutes)."""
    pending = session.get("totp_setup")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > SETUP_LIFETIME:
        pending = {"secret": otp.new_totp_secret(), "at": int(time.time())}
        session["totp_setup"] = pending
    return pending["secret"]


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


def mail_a_code(user, purpose, session_key, kind, then):
    """Mail a 6-digit code for `purpose` (at most 3 in 10 minutes), remembered in the session under
    `session_key`; then go to `then`."""
    wait = seconds_until_allowed("3 per 10 minutes", "2fa-resend", str(user.id))
    if wait:
        flash(wait_message(wait), "error")
        return see_other(url_for("security.index"))
    count_attempt("3 per 10 minutes", "2fa-resend", str(user.id))
    secret, challenge = otp.start_challenge(user, purpose, target=user.email)
    session[session_key] = secret
    if mail_code(user, challenge, kind):
        flash(_("We sent a 6-digit code to %(email)s.", email=user.email), "success")
    else:
        flash(_("The code could not be sent. Try again in a few minutes."), "error")
    return see_other(then)


@bp.post("/2fa/email/start")
def email_setup_start():
    user = me()
    if not setup_allowed(user):
        return already_on(user)
    return mail_a_code(user, "setup-email", "setup_email", "setup", url_for("security.email_setup"))


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


@bp.post("/2fa/code")
def send_manage_code():
    """E-mail 2FA: mail a code to confirm switching off or new recovery codes."""
    user = me()
    if user.two_factor != "email":
        return see_other(url_for("security.index"))
    return mail_a_code(user, "manage", "manage_2fa", "manage", url_for("security.index"))


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

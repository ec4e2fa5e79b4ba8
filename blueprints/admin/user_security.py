"""What the back office does to a person's sign-in besides the details form: mail a password reset
link, reset 2FA to e-mail codes or switch it off (seed 004). Each weakens how the person signs in, so
each needs the actor's password entered within REAUTH_MINUTES (SECURITY.md 30) and a person who does
not stand above the actor (SECURITY.md 29)."""
from flask import abort, current_app, flash, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from extensions import language_for
from models import User
from services import audit, otp
from services.mailer import MailError, send_app_mail
from services.permissions import above_you, permission_required, stands_above

from blueprints import see_other
from blueprints.forms import Form
from blueprints.person.security import go_to, reauth_expired
from blueprints.admin.core import bp, client_meta, me, own
from blueprints.admin.users import details_page, send_set_password_link


def refusal(user):
    """The answer when this action on `user` is not allowed now, or None: a re-authentication that
    comes back to the person's page (an htmx request is sent there by HX-Redirect), or a 403."""
    if not Form().validate_on_submit():
        abort(400)
    if stands_above(user, me()):
        return details_page(user, status=403, notice=above_you(user))
    if reauth_expired():
        flash(_("Confirm your password, then choose the action again."), "info")
        return go_to(url_for("security.reauth", next=url_for("admin.user", user_id=user.id)))
    return None


@bp.post("/users/<int:user_id>/reset-link")
@permission_required("users.edit")
def send_reset(user_id):
    user = own(User, user_id)
    refused = refusal(user)
    if refused is not None:
        return refused
    sent = send_set_password_link(user)
    audit.record("password.reset_link_sent", actor=me(), target=user.email, **client_meta())
    if sent:
        flash(_("A password reset link was sent to %(email)s.", email=user.email), "success")
    else:
        flash(_("The e-mail could not be sent. Check the mail settings and try again."), "error")
    return see_other(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/two-factor/<any(email, off):method>")
@permission_required("users.edit")
def reset_two_factor(user_id, method):
    """Seed 004's actions: "Reset 2FA to Email" and "Disable 2FA"."""
    user = own(User, user_id)
    if user.id == me().id:  # one's own 2FA changes in the security center, behind password and code
        if not Form().validate_on_submit():
            abort(400)
        return details_page(user, status=409, notice=_("Change your own two-factor authentication on the Security page."))
    refused = refusal(user)
    if refused is not None:
        return refused
    if method == "email":
        otp.enable_email(user)  # the authenticator secret is forgotten; recovery codes stay
    else:
        otp.disable(user)  # secrets, recovery codes and open challenges go too
    audit.record("user.two_factor_reset", actor=me(), target=user.email, method=method, **client_meta())
    notify_two_factor_changed(user, method)
    if method == "email":
        flash(_("Two-factor authentication of %(email)s is now by e-mail codes.", email=user.email), "success")
    else:
        flash(_("Two-factor authentication of %(email)s is now off.", email=user.email), "success")
    return see_other(url_for("admin.user", user_id=user.id))


def notify_two_factor_changed(user, method):
    """SECURITY.md 13: a 2FA change is told to the person."""
    from blueprints.auth import notify_security

    notify_security(user, "two_factor")
    with force_locale(language_for(user)):
        subject = _("Your Kabinet two-factor authentication was changed")
        how = _("codes sent by e-mail") if method == "email" else _("off")
        text = _(
            "An administrator (%(admin)s) changed the two-factor authentication of %(email)s to: %(how)s.\n"
            "If you did not expect this, contact your administrator.",
            admin=me().email, email=user.email, how=how,
        )
    try:
        send_app_mail(current_app.config, user.email, subject, text)
    except MailError:
        pass


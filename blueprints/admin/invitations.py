"""Resend an invitation that has not been accepted (users list: "Invitation pending"). A new link to
set a password is mailed as on creation with "Send to email" (three days; the older links stay valid
until they expire or one is used). It hands out a way to set the person's password, so it follows the
password "reset" link's rules: `users.edit`, a person who does not stand above the actor, the actor's
password entered within REAUTH_MINUTES (user_security.refusal)."""
from flask import flash, url_for
from flask_babel import gettext as _

from models import User
from services import audit

from blueprints import see_other
from blueprints.admin.core import bp, client_meta, me, own
from blueprints.admin.user_security import refusal
from blueprints.admin.users import details_page, send_set_password_link
from services.permissions import permission_required


@bp.post("/users/<int:user_id>/invitation")
@permission_required("users.edit")
def resend_invitation(user_id):
    user = own(User, user_id)
    refused = refusal(user)
    if refused is not None:
        return refused
    if user.invited_at is None:
        return details_page(user, status=409, notice=_("%(email)s has no pending invitation: they have signed in or set "
                                                       "their password. Use “reset” to send a password link.", email=user.email))
    if user.status != "enabled":
        return details_page(user, status=409, notice=_("%(email)s is disabled: enable them before inviting them again.",
                                                       email=user.email))
    if send_set_password_link(user, invite=True):
        audit.record("user.invitation_sent", actor=me(), target=user.email, **client_meta())
        flash(_("The invitation was sent to %(email)s again.", email=user.email), "success")
    else:
        flash(_("The e-mail could not be sent. Check the mail settings and try again."), "error")
    return see_other(url_for("admin.user", user_id=user.id))

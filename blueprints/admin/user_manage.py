"""An administrator changes a person's name and e-mail, or deletes the person (seed 003).

A new e-mail counts only once its owner opens the link mailed to it (services/email_change.py, the
same link and confirmation page as the person's own change; the old address hears of it). Deleting
erases the personal data as account deletion does (services/deletion.erase_user): the audit trail is
kept under the pseudonym deleted-user-<id>. Both need `users.edit`, a person who does not stand above
the actor and the actor's password within REAUTH_MINUTES (user_security.refusal)."""
from flask import current_app, flash, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, StringField

from models import User
from services import audit, deletion, email_change
from services.mailer import MailError, send_app_mail
from services.permissions import above_you, enabled_administrators, permission_required, stands_above

from blueprints import render, see_other
from blueprints.forms import EmailAddress, Form, max_length, required
from blueprints.admin.core import bp, client_meta, me, own
from blueprints.admin.user_security import refusal
from blueprints.admin.users import details_page


class IdentityForm(Form):
    full_name = StringField(_l("Name"), validators=[required(), max_length(200)])
    email = EmailField(_l("E-mail"), validators=[required(), EmailAddress()])


def identity_page(user, form=None, status=200):
    form = form or IdentityForm(formdata=None, data={"full_name": user.full_name, "email": user.email})
    return render("admin/user_identity.html", status=status, user=user, form=form, pending=email_change.pending(user))


@bp.get("/users/<int:user_id>/identity")
@permission_required("users.edit")
def user_identity(user_id):
    user = own(User, user_id)
    if stands_above(user, me()):
        return details_page(user, status=403, notice=above_you(user))
    return identity_page(user)


@bp.post("/users/<int:user_id>/identity")
@permission_required("users.edit")
def save_user_identity(user_id):
    user = own(User, user_id)
    refused = refusal(user)
    if refused is not None:
        return refused
    form = IdentityForm()
    if not form.validate():
        return identity_page(user, form, 422)
    new_email = form.email.data
    if new_email != user.email and User.select().where(User.email == new_email).exists():
        form.email.errors.append(_("This address belongs to another account."))
        return identity_page(user, form, 422)
    if form.full_name.data != user.full_name:
        User.update(full_name=form.full_name.data).where(User.id == user.id).execute()
        audit.record("user.updated", actor=me(), target=user.email, fields=["full_name"], **client_meta())
        flash(_("The name of %(email)s is saved.", email=user.email), "success")
    if new_email != user.email:
        if not mail_confirmation(user, new_email):
            form.email.errors.append(_("The confirmation link could not be sent. Try again later."))
            return identity_page(user, form, 503)
        audit.record("email.change_requested", actor=me(), target=new_email, for_user=user.email, **client_meta())
        flash(_("A confirmation link was sent to %(email)s. The address changes when its owner opens it.",
                email=new_email), "success")
    return see_other(url_for("admin.user", user_id=user.id))


def mail_confirmation(user, new_email):
    """The person's own change link (24 hours), mailed to the new address in the person's language."""
    secret = email_change.start(user, new_email)
    link = url_for("profile.confirm_email", token=secret, _external=True)
    with force_locale(user.language or "en"):
        subject = _("Confirm your new Kabinet e-mail address")
        text = _("Your administrator (%(admin)s) asked to use %(new)s as the sign-in address of the Kabinet account "
                 "%(old)s.\n\nTo confirm, open this link within 24 hours (it works once):\n%(link)s\n\n"
                 "If this is not your account, ignore this message: nothing changes.",
                 admin=me().email, new=new_email, old=user.email, link=link)
    try:
        send_app_mail(current_app.config, new_email, subject, text)
    except MailError:
        email_change.cancel(user)
        return False
    return True


def deletion_problem(user, actor=None):
    """Why `user` cannot be deleted by `actor` (default: `me()`) (translated), or None."""
    if user.id == (actor or me()).id:
        return _("You cannot delete yourself here: use “Delete my account” on your own account page.")
    if deletion.is_last_owner(user):
        return _("The organization's only owner cannot be deleted.")
    if enabled_administrators(user.organization_id) <= {user.id}:
        return _("The last administrator cannot be deleted.")
    return None


@bp.get("/users/<int:user_id>/delete")
@permission_required("users.edit")
def delete_user_page(user_id):
    user = own(User, user_id)
    if stands_above(user, me()):
        return details_page(user, status=403, notice=above_you(user))
    return render("admin/user_delete.html", user=user, problem=deletion_problem(user))


@bp.post("/users/<int:user_id>/delete")
@permission_required("users.edit")
def delete_user(user_id):
    user = own(User, user_id)
    refused = refusal(user)
    if refused is not None:
        return refused
    problem = deletion_problem(user)
    if problem:
        return details_page(user, status=409, notice=problem)
    pseudonym, name = f"deleted-user-{user.id}", user.display_name
    deletion.erase_user(user)
    audit.record("user.deleted", actor=me(), target=pseudonym, **client_meta())
    flash(_("%(name)s was deleted. Their events stay in the log as %(pseudonym)s.", name=name, pseudonym=pseudonym),
          "success")
    return see_other(url_for("admin.users"))

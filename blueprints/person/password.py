"""The password page (/app/security/password, seeds 001 and 002): the current password, a new one
and the new one again.

It joins the security blueprint but asks for the current password in the POST itself (SECURITY.md
11), so it needs no separate re-authentication first. Saving a new password here and on the edit
page goes through store_new_password and password_changed: the same strength rules, other sessions
signed out, the audit event with its security.changed webhook, and the mail.
"""
from flask import flash, g, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField
from wtforms.validators import ValidationError

from blueprints import render, see_other
from blueprints.auth import client_meta, notify_password_changed
from blueprints.forms import Form, StrongPassword, password_length, required
from blueprints.person.contacts import current_password_ok
from blueprints.person.security import bp, me
from models import User, db, utcnow
from services import audit, passwords, sessions

PAGE = "security/password.html"


class PasswordChangeForm(Form):
    current_password = PasswordField(
        _l("Current password"), validators=[required(_l("Enter your current password.")), password_length]
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[required(_l("Enter a new password.")), StrongPassword(lambda form: (form.user.email, form.user.full_name))],
    )
    repeat = PasswordField(_l("Repeat new password"), validators=[required(_l("Repeat the new password.")), password_length])

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_repeat(self, field):
        if (self.new_password.data or "") != (field.data or ""):
            raise ValidationError(_l("The passwords do not match."))


@bp.route("/password", methods=["GET", "POST"])
def password():
    user = me()
    form = PasswordChangeForm(user)
    status = 200
    if form.validate_on_submit():
        status = current_password_ok(form.current_password, user)
        if not status:
            new_hash = passwords.hash_password(form.new_password.data)  # before the transaction and its write lock
            with db.atomic():
                store_new_password(user, new_hash)
            password_changed(user)
            return see_other(url_for(".password"))
    elif form.is_submitted():
        status = 422
    return render(PAGE, block="password_form", status=status, form=form, user=user)


def store_new_password(user, password_hash):
    """Save a new password (hashed by the caller before its transaction, which holds the write lock), end
    the person's other sessions and record the event (its webhook is security.changed); run it inside the
    caller's transaction, then call password_changed()."""
    User.update(password_hash=password_hash, password_changed_at=utcnow()).where(User.id == user.id).execute()
    ended = sessions.end_sessions(user, keep=g.user_session)
    audit.record("password.changed", actor=user, target=user.email, other_sessions_ended=ended, **client_meta())


def password_changed(user):
    """After the transaction: the mail (SECURITY.md 13) and the message on the next page."""
    notify_password_changed(user)
    flash(_("Your password has been changed. Other sessions were signed out."), "success")

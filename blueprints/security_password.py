"""The password page (/app/security/password, seeds 001 and 002): the current password, a new one
and the new one again.

It joins the security blueprint but asks for the current password in the POST itself (SECURITY.md
11), so it needs no separate re-authentication first. Saving goes through the edit page's code
path (profile.store_new_password): the same strength rules, other sessions signed out, the audit
event with its security.changed webhook, and the mail.
"""
from flask import url_for
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField
from wtforms.validators import ValidationError

from models import db

from . import render, see_other
from .forms import Form, StrongPassword, password_length, required
from .profile import current_password_ok, password_changed, store_new_password
from .security import bp, me

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
            with db.atomic():
                store_new_password(user, form.new_password.data)
            password_changed(user)
            return see_other(url_for(".password"))
    elif form.is_submitted():
        status = 422
    return render(PAGE, block="password_form", status=status, form=form, user=user)

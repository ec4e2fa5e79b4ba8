"""Seed 000's edit page: name, e-mail, phone and a new password in one form, saved after the current password."""
from flask import flash, url_for
from flask_babel import gettext as _

from blueprints import render, see_other, wants_fragment
from blueprints.auth import wait_message
from blueprints.person.contacts import (
    current_password_ok,
    email_send_wait,
    send_email_change_link,
    send_phone_code,
)
from blueprints.person.password import password_changed, store_new_password
from blueprints.person.profile import (
    EditForm,
    add_error,
    bp,
    contacts_locked,
    me,
    profile_changed,
)
from extensions import count_attempt
from models import User, db
from services import passwords, region


@bp.route("/personal-data/edit", methods=["GET", "POST"])
def edit():
    """Seed 000: name, e-mail, phone and a new password; saving asks for the current password first."""
    user = me()
    form = EditForm(user, data={"full_name": user.full_name, "email": user.email, "phone": region.format_phone(user.phone)})

    def page(status, confirming=False):
        return render(
            "profile/edit.html", block="edit_form", status=status, form=form, user=user, confirming=confirming,
            popup=confirming and wants_fragment(), email_locked=contacts_locked(user, "email"),
            phone_locked=contacts_locked(user, "phone"),
        )

    if not form.validate_on_submit():
        return page(422 if form.is_submitted() else 200)
    changes = {
        "name": form.full_name.data != user.full_name,
        "email": form.email.data != user.email,
        "phone": form.phone.data != user.phone,
        "password": bool(form.new_password.data),
    }
    if not any(changes.values()):
        flash(_("Nothing to save: no field was changed."), "info")
        return see_other(url_for(".personal_data"))
    if not form.current_password.data:
        return page(200, confirming=True)
    status = current_password_ok(form.current_password, user)
    if status:
        return page(status, confirming=True)
    # Sending first: when a link or code cannot go out, nothing else is saved either.
    if changes["email"]:
        if email_send_wait(user):
            add_error(form.email, wait_message(email_send_wait(user)))
            return page(429)
        count_attempt("5 per hour", "email-change", str(user.id))
        if not send_email_change_link(user, form.email.data):
            add_error(form.email, _("The confirmation link could not be sent. Try again later."))
            return page(503)
    if changes["phone"]:
        problem = send_phone_code(user, form.phone.data)
        if problem:
            add_error(form.phone, problem[0])
            return page(problem[1])
    # Hashed before the transaction, which holds the write lock.
    new_hash = passwords.hash_password(form.new_password.data) if changes["password"] else None
    with db.atomic():
        if changes["name"]:
            User.update(full_name=form.full_name.data).where(User.id == user.id).execute()
            profile_changed(user, ["full_name"])
        if changes["password"]:
            store_new_password(user, new_hash)
    if changes["password"]:
        password_changed(user)
    if changes["name"]:
        flash(_("Your name has been saved."), "success")
    if changes["email"]:
        flash(_("We sent a confirmation link to %(email)s. Your address changes when you open it.", email=form.email.data), "success")
    if changes["phone"]:
        flash(_("We sent a code to %(phone)s. Enter it below to confirm the number.", phone=region.format_phone(form.phone.data)), "success")
        return see_other(url_for(".personal_data", _anchor="phone-section"))
    return see_other(url_for(".personal_data"))

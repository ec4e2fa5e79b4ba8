"""Changing the e-mail address (confirmed by a link to the new one) and the phone number (confirmed by an SMS code), with the organization's contact lock."""
from flask import abort, current_app, flash, g, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from wtforms.validators import ValidationError

from blueprints import render, see_other, wants_fragment
from blueprints.auth import client_meta, wait_message
from blueprints.person.profile import (
    PAGE,
    CodeForm,
    EmailForm,
    PhoneForm,
    add_error,
    bp,
    contacts_locked,
    me,
    page_context,
)
from extensions import count_attempt, language_for, seconds_until_allowed
from models import User
from services import audit, codes, email_change, passwords, region, sessions
from services.mailer import MailError, send_app_mail
from services.sms import SmsError, send_sms


def current_password_ok(field, user):
    """Check the current password in this POST (SECURITY.md 11); rate limited like sign-in."""
    limit = current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]
    wait = seconds_until_allowed(limit, "reauth", str(user.id))
    if wait:
        add_error(field, wait_message(wait))
        return 429
    if not passwords.verify_password(user.password_hash, field.data or ""):
        count_attempt(limit, "reauth", str(user.id))
        audit.record("reauth.failed", actor=user, target=user.email, **client_meta())
        add_error(field, _("The current password is not right."))
        return 422
    sessions.mark_reauthenticated(g.user_session)
    return None


def email_section(user, status, **context):
    return render(PAGE, block="email_section", status=status, **page_context(user, **context))


def send_email_change_link(user, new_email):
    """Issue the 24-hour link and mail it to the new address; False (link voided) when the mail fails."""
    secret = email_change.start(user, new_email)
    link = url_for(".confirm_email", token=secret, _external=True)
    with force_locale(language_for(user)):
        subject = _("Confirm your new Kabinet e-mail address")
        text = _(
            "Someone asked to use %(new)s as the sign-in address of a Kabinet account instead of %(old)s.\n\n"
            "To confirm, open this link within 24 hours (it works once):\n%(link)s\n\n"
            "If it was not you, ignore this message: nothing changes.",
            new=new_email,
            old=user.email,
            link=link,
        )
    try:
        send_app_mail(current_app.config, new_email, subject, text)
    except MailError:
        email_change.cancel(user)
        return False
    audit.record("email.change_requested", actor=user, target=new_email, **client_meta())
    return True


def email_send_wait(user):
    return seconds_until_allowed("5 per hour", "email-change", str(user.id))


@bp.post("/personal-data/email")
def change_email():
    user = me()
    form = EmailForm()
    if contacts_locked(user, "email"):
        add_error(form.new_email, _("Your confirmed e-mail can only be changed by support. Contact them."))
        return email_section(user, 403, email_form=form)
    if not form.validate_on_submit():
        return email_section(user, 422, email_form=form)
    new_email = form.new_email.data
    if new_email == user.email:
        add_error(form.new_email, _("This is already your address."))
        return email_section(user, 422, email_form=form)
    if User.select().where(User.email == new_email).exists():
        add_error(form.new_email, _("This address belongs to another account."))
        return email_section(user, 422, email_form=form)
    wait = email_send_wait(user)
    if wait:
        add_error(form.new_email, wait_message(wait))
        return email_section(user, 429, email_form=form)
    status = current_password_ok(form.password, user)
    if status:
        return email_section(user, status, email_form=form)
    count_attempt("5 per hour", "email-change", str(user.id))
    if not send_email_change_link(user, new_email):
        add_error(form.new_email, _("The confirmation link could not be sent. Try again later."))
        return email_section(user, 503, email_form=form)
    flash(_("We sent a confirmation link to %(email)s. Your address changes when you open it.", email=new_email), "success")
    return see_other(url_for(".personal_data"))


@bp.post("/personal-data/email/resend")
def resend_email_link():
    user = me()
    pending = email_change.pending(user)
    if pending is None:
        flash(_("There is no pending e-mail change."), "error")
        return see_other(url_for(".personal_data"))
    wait = email_send_wait(user)
    if wait:
        return email_section(user, 429, email_message=wait_message(wait))
    count_attempt("5 per hour", "email-change", str(user.id))
    if not send_email_change_link(user, pending.data):
        return email_section(user, 503, email_message=_("The confirmation link could not be sent. Try again later."))
    flash(_("We sent a new link to %(email)s.", email=pending.data), "success")
    return see_other(url_for(".personal_data"))


@bp.post("/personal-data/email/cancel")
def cancel_email_change():
    user = me()
    if email_change.cancel(user):
        audit.record("email.change_cancelled", actor=user, target=user.email, **client_meta())
        flash(_("The e-mail change was cancelled."), "info")
    return see_other(url_for(".personal_data"))


@bp.route("/personal-data/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token):
    """GET shows what will change; the POST applies it (mail scanners that prefetch links change nothing)."""
    record = email_change.find(token)
    if record is None:
        return render("profile/confirm_email.html", status=404, record=None, problem=_("This link is invalid, used or expired."))
    if request.method == "GET":
        return render("profile/confirm_email.html", record=record, problem=None)
    from flask_wtf.csrf import validate_csrf

    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(403)
    user = record.user
    try:
        old_email = email_change.confirm(record)
    except email_change.AddressTaken:
        return render("profile/confirm_email.html", status=409, record=None, problem=_("This address now belongs to another account."))
    if old_email is None:
        return render("profile/confirm_email.html", status=404, record=None, problem=_("This link is invalid, used or expired."))
    audit.record("email.changed", actor=user, target=record.data, old=old_email, **client_meta())
    notify_old_address(user, old_email, record.data)
    flash(_("Your e-mail address is now %(email)s.", email=record.data), "success")
    return see_other(url_for(".personal_data"))


def notify_old_address(user, old_email, new_email):
    """SECURITY.md 12: the old address hears of the change, with a way out if it was not the person."""
    with force_locale(language_for(user)):
        subject = _("Your Kabinet sign-in address was changed")
        text = _(
            "The sign-in address of your Kabinet account was changed from %(old)s to %(new)s.\n\n"
            "If this was not you, reset your password at %(link)s and tell your administrator at once.",
            old=old_email,
            new=new_email,
            link=url_for("auth.forgot_password", _external=True),
        )
    try:
        send_app_mail(current_app.config, old_email, subject, text)
    except MailError:
        pass  # logged by the mailer; the change itself stands


def phone_section(user, status, **context):
    return render(PAGE, block="phone_section", status=status, **page_context(user, **context))


def throttle_message(exc):
    minutes = max(1, (exc.seconds + 59) // 60)
    if exc.reason == "resend":
        return _("You can ask for a new code in %(seconds)d s.", seconds=exc.seconds)
    if exc.reason == "target":
        return _("Too many codes were sent to this number. Try again in %(minutes)d min.", minutes=minutes)
    return _("You asked for too many codes. Try again in %(minutes)d min.", minutes=minutes)


def send_phone_code(user, phone):
    """Send a code to `phone`; None when sent, else a translated reason and a status."""
    def deliver(code):
        with force_locale(language_for(user)):
            text = _("Kabinet code: %(code)s. It is valid for 10 minutes. Do not tell it to anyone.", code=code)
        send_sms(current_app.config, phone, text)

    try:
        codes.issue_code(user, "phone", phone, deliver)
    except codes.CodeThrottled as exc:
        return throttle_message(exc), 429
    except SmsError:
        return _("The code could not be sent. Try again later."), 503
    audit.record("phone.code_sent", actor=user, target=phone, **client_meta())
    return None


@bp.post("/personal-data/phone")
def change_phone():
    user = me()
    form = PhoneForm(user)
    if contacts_locked(user, "phone"):
        add_error(form.phone, _("Your confirmed number can only be changed by support. Contact them."))
        return phone_section(user, 403, phone_form=form)
    if not form.validate_on_submit():
        return phone_section(user, 422, phone_form=form)
    if form.phone.data == user.phone and user.phone_verified:
        add_error(form.phone, _("This number is already confirmed."))
        return phone_section(user, 422, phone_form=form)
    if user.phone_verified:
        status = current_password_ok(form.password, user)
        if status:
            return phone_section(user, status, phone_form=form)
    problem = send_phone_code(user, form.phone.data)
    if problem:
        add_error(form.phone, problem[0])
        return phone_section(user, problem[1], phone_form=form)
    return code_sent(user, form.phone.data)


def code_sent(user, phone):
    if wants_fragment():  # the popup itself says where the code went
        return phone_section(user, 200, popup=True)
    flash(_("We sent a code to %(phone)s.", phone=region.format_phone(phone)), "success")
    return see_other(url_for(".personal_data", _anchor="phone-section"))


@bp.post("/personal-data/phone/verify")
def verify_phone():
    user = me()
    form = CodeForm()
    pending = codes.pending_code(user, "phone")
    popup = wants_fragment()
    if contacts_locked(user, "phone"):
        add_error(form.code, _("Your confirmed number can only be changed by support. Contact them."))
        return phone_section(user, 403, code_form=form, popup=popup)
    if not form.validate_on_submit():
        return phone_section(user, 422, code_form=form, popup=popup and pending is not None)
    result = codes.check_code(user, "phone", form.phone.data, form.code.data)
    if result.status == "ok":
        User.update(phone=form.phone.data, phone_verified=True).where(User.id == user.id).execute()
        audit.record("phone.verified", actor=user, target=form.phone.data, old=user.phone or "", **client_meta())
        flash(_("Your phone number %(phone)s is confirmed.", phone=region.format_phone(form.phone.data)), "success")
        return see_other(url_for(".personal_data"))
    messages = {
        "wrong": _("Wrong code. Tries left: %(n)d.", n=result.tries_left),
        "expired": _("This code has expired. Ask for a new one."),
        "locked": _("Too many wrong codes. Enter your number again to get a new code."),
        "missing": _("No code is waiting. Enter your number to get one."),
        "other_target": _("This code was sent to another number."),
    }
    add_error(form.code, messages[result.status])
    audit.record("phone.code_failed", actor=user, target=form.phone.data or "", reason=result.status, **client_meta())
    still_pending = codes.pending_code(user, "phone")
    return phone_section(user, 422, code_form=form, pending_phone=still_pending, popup=popup and still_pending is not None)


@bp.post("/personal-data/phone/resend")
def resend_phone_code():
    user = me()
    pending = codes.pending_code(user, "phone")
    if pending is None:
        flash(_("No code is waiting. Enter your number to get one."), "error")
        return see_other(url_for(".personal_data"))
    problem = send_phone_code(user, pending.target)
    if problem:
        form = CodeForm(formdata=None, data={"phone": pending.target})
        add_error(form.code, problem[0])
        return phone_section(user, problem[1], code_form=form, popup=wants_fragment())
    return code_sent(user, pending.target)


@bp.post("/personal-data/phone/cancel")
def cancel_phone_code():
    codes.close_codes(me(), "phone")
    return see_other(url_for(".personal_data"))

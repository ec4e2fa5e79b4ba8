"""Binding a phone by SMS code and changing the e-mail by link, as plain form posts and as htmx."""
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from models import AuditEvent, OneTimeCode, Organization, Token, User, utcnow
from tests.conftest import PASSWORD, form_post, make_user, sign_in
from tests.smtp_peers import closed_port
from tests.test_profile_page import HX, hx, page
from tests.test_profile_sms import age_codes, gateway  # noqa: F401  (fixture)

PHONE = "+79123456789"


def outbox(app):
    path = Path(app.config["INSTANCE_PATH"]) / "sms-outbox.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def last_code(app):
    return re.search(r"\b(\d{6})\b", outbox(app)[-1]["text"]).group(1)


def post(client, url, data, htmx=False):
    if htmx:
        return client.post(url, data=data, headers=hx(client))
    return form_post(client, url, data, page="/app/personal-data")


def wrong(code):
    return "000000" if code != "000000" else "111111"


# --- phone ------------------------------------------------------------------------------------------


def test_bind_phone_without_js(app, signed_in, user):
    response = post(signed_in, "/app/personal-data/phone", {"phone": "+7 912 345-67-89"})
    assert response.status_code == 303 and response.headers["Location"].endswith("#phone-section")
    assert outbox(app)[-1]["to"] == PHONE
    html = page(signed_in)
    assert "Enter the code" in html and "We sent a code to +7 912 345-67-89." in html
    assert User.get_by_id(user.id).phone is None  # nothing saved before the code
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": wrong(last_code(app))})
    assert response.status_code == 422 and "Wrong code. Tries left: 4." in response.get_data(as_text=True)
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": last_code(app)})
    assert response.status_code == 303
    fresh = User.get_by_id(user.id)
    assert (fresh.phone, fresh.phone_verified) == (PHONE, True)
    assert "+7 912 345-67-89" in page(signed_in)
    assert AuditEvent.select().where(AuditEvent.action == "phone.verified").count() == 1


def test_bind_phone_with_htmx_opens_the_code_popup(app, signed_in, user):
    response = post(signed_in, "/app/personal-data/phone", {"phone": PHONE}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "<dialog" in html and "data-open-modal" in html and 'name="code"' in html
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": wrong(last_code(app))}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<dialog" in html and "Tries left: 4" in html
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": last_code(app)}, htmx=True)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/app/personal-data"
    assert User.get_by_id(user.id).phone_verified


def test_number_without_plus_uses_the_persons_country(app, signed_in, user):
    User.update(country="RU").where(User.id == user.id).execute()
    assert post(signed_in, "/app/personal-data/phone", {"phone": "8 (912) 345-67-89"}).status_code == 303
    assert outbox(app)[-1]["to"] == PHONE


@pytest.mark.parametrize(
    "phone,message",
    [
        ("", "Enter a phone number."),
        ("call me maybe", "Enter the number with its country code"),
        ("+7 123", "This number does not exist"),
        ("+1 555 0100", "This number does not exist"),
        ("9" * 10000, "At most 32 characters."),
        ("+7912\x003456789", "Enter the number with its country code"),
    ],
)
def test_bad_numbers_get_a_message_and_no_sms(app, signed_in, user, phone, message):
    for htmx in (False, True):
        response = post(signed_in, "/app/personal-data/phone", {"phone": phone}, htmx=htmx)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert outbox(app) == [] and User.get_by_id(user.id).phone is None


def test_changing_a_confirmed_number_needs_the_password(app, signed_in, user):
    User.update(phone=PHONE, phone_verified=True).where(User.id == user.id).execute()
    response = post(signed_in, "/app/personal-data/phone", {"phone": "+79990001122"})
    assert response.status_code == 422 and "Enter your current password" in response.get_data(as_text=True)
    response = post(signed_in, "/app/personal-data/phone", {"phone": "+79990001122", "password": "wrong password!"})
    assert response.status_code == 422 and "The current password is not right." in response.get_data(as_text=True)
    assert outbox(app) == []
    assert post(signed_in, "/app/personal-data/phone", {"phone": "+79990001122", "password": PASSWORD}).status_code == 303
    # The old number stays until the new one is confirmed.
    assert User.get_by_id(user.id).phone == PHONE
    post(signed_in, "/app/personal-data/phone/verify", {"phone": "+79990001122", "code": last_code(app)})
    assert User.get_by_id(user.id).phone == "+79990001122"


def test_code_for_another_number_is_refused(app, signed_in, user):
    post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": "+79990001122", "code": last_code(app)})
    assert response.status_code == 422 and "This code was sent to another number." in response.get_data(as_text=True)
    assert User.get_by_id(user.id).phone is None


def test_expired_code(app, signed_in, user):
    post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    with app.app_context():
        age_codes(601)
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": last_code(app)})
    assert response.status_code == 422 and "This code has expired." in response.get_data(as_text=True)
    assert User.get_by_id(user.id).phone is None


def test_five_wrong_codes_void_the_challenge(app, signed_in, user):
    post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    code = last_code(app)
    for _ in range(4):
        post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": wrong(code)})
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": wrong(code)})
    assert "Too many wrong codes" in response.get_data(as_text=True)
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": code})
    assert response.status_code == 422 and "No code is waiting" in response.get_data(as_text=True)
    assert User.get_by_id(user.id).phone is None


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1" * 10000])
def test_malformed_codes_do_not_spend_a_try(app, signed_in, code):
    post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": code})
    assert response.status_code == 422
    assert OneTimeCode.get().attempts == 0


def test_resend_waits_then_replaces_the_code(app, signed_in, user):
    post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    first = last_code(app)
    response = post(signed_in, "/app/personal-data/phone/resend", {"phone": PHONE, "code": ""}, htmx=True)
    assert response.status_code == 429 and "You can ask for a new code in" in response.get_data(as_text=True)
    with app.app_context():
        age_codes(61)
    assert post(signed_in, "/app/personal-data/phone/resend", {"phone": PHONE, "code": ""}).status_code == 303
    second = last_code(app)
    assert len(outbox(app)) == 2
    if first != second:
        response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": first})
        assert response.status_code == 422
    assert post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": second}).status_code == 303


def test_hourly_limit_per_person(app, signed_in, user):
    for i in range(5):
        assert post(signed_in, "/app/personal-data/phone", {"phone": f"+7912345678{i}"}).status_code == 303
        with app.app_context():
            age_codes(61)
    response = post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    assert response.status_code == 429 and "You asked for too many codes" in response.get_data(as_text=True)


def test_hourly_limit_per_number(app, client, org):
    for i in range(6):
        make_user(org, email=f"p{i}@example.com")
    for i in range(5):
        tab = app.test_client()
        sign_in(tab, f"p{i}@example.com")
        assert post(tab, "/app/personal-data/phone", {"phone": PHONE}).status_code == 303
    sign_in(client, "p5@example.com")
    response = post(client, "/app/personal-data/phone", {"phone": PHONE})
    assert response.status_code == 429 and "Too many codes were sent to this number" in response.get_data(as_text=True)


def test_sms_gateway_failure_is_told_and_nothing_is_pending(app, signed_in, user, gateway, caplog):
    gateway.status = 500
    response = post(signed_in, "/app/personal-data/phone", {"phone": PHONE}, htmx=True)
    assert response.status_code == 503 and "The code could not be sent" in response.get_data(as_text=True)
    assert OneTimeCode.select().count() == 0 and User.get_by_id(user.id).phone is None
    assert "SMS to +79123456789 failed: gateway answered 500" in caplog.text


def test_code_goes_through_the_http_gateway(app, signed_in, user, gateway):
    post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    body = gateway.requests[-1]["body"]
    code = re.search(r"\d{6}", body["text"]).group(0)
    assert body["to"] == PHONE
    assert post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": code}).status_code == 303


def test_cancel_closes_the_challenge(app, signed_in, user):
    post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    assert post(signed_in, "/app/personal-data/phone/cancel", {}).status_code == 303
    assert "Enter the code" not in page(signed_in)
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": PHONE, "code": last_code(app)})
    assert response.status_code == 422


def test_sms_is_in_the_persons_language(app, signed_in, user):
    User.update(language="ru").where(User.id == user.id).execute()
    post(signed_in, "/app/personal-data/phone", {"phone": PHONE})
    assert outbox(app)[-1]["text"].startswith("Код Kabinet:")


def test_locked_contacts_go_through_support(app, signed_in, user, org):
    Organization.update(contacts_locked=True).where(Organization.id == org.id).execute()
    User.update(phone=PHONE, phone_verified=True, email_verified=True).where(User.id == user.id).execute()
    html = page(signed_in)
    assert "Your confirmed number can only be changed by support" in html
    assert "Your confirmed e-mail can only be changed by support" in html
    assert 'action="/app/personal-data/phone"' not in html
    response = post(signed_in, "/app/personal-data/phone", {"phone": "+79990001122", "password": PASSWORD})
    assert response.status_code == 403 and outbox(app) == []
    response = post(signed_in, "/app/personal-data/email", {"new_email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert Token.select().count() == 0


def test_lock_switched_on_while_a_code_waits_stops_its_confirmation(app, signed_in, user, org):
    """A code asked for before the lock (to replace a confirmed number) cannot confirm the new number after it."""
    User.update(phone=PHONE, phone_verified=True).where(User.id == user.id).execute()
    assert post(signed_in, "/app/personal-data/phone", {"phone": "+79990001122", "password": PASSWORD}).status_code == 303
    code = last_code(app)
    Organization.update(contacts_locked=True).where(Organization.id == org.id).execute()
    response = post(signed_in, "/app/personal-data/phone/verify", {"phone": "+79990001122", "code": code})
    assert response.status_code == 403 and "can only be changed by support" in response.get_data(as_text=True)
    assert User.get_by_id(user.id).phone == PHONE


def test_parallel_guesses_get_five_tries_in_all(app, user):
    """Guesses racing each other are each counted before they are checked: never more than five in all."""
    import threading

    from services import codes

    with app.app_context():
        codes.issue_code(user, "phone", PHONE, lambda code: None)
    OneTimeCode.update(attempts=2).execute()  # three tries left; four guesses race for them
    barrier = threading.Barrier(4)
    results, errors = [], []

    def guess():
        try:
            with app.app_context():
                barrier.wait()
                results.append(codes.check_code(user, "phone", PHONE, "000000").status)
        except Exception as exc:  # noqa: BLE001 - reported below: a guess must never fail
            errors.append(repr(exc))

    threads = [threading.Thread(target=guess) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 4
    assert "ok" not in results and results.count("wrong") <= 3  # at most the three tries that were left
    assert OneTimeCode.get().attempts == 5


def test_lock_does_not_stop_binding_a_first_number(app, signed_in, user, org):
    Organization.update(contacts_locked=True).where(Organization.id == org.id).execute()
    assert post(signed_in, "/app/personal-data/phone", {"phone": PHONE}).status_code == 303


# --- e-mail -----------------------------------------------------------------------------------------


def mailed_link(smtp, n=1):
    text = smtp.wait_for(n)[-1].message.get_content()
    return re.search(r"http://localhost(/app/personal-data/email/confirm/\S+)", text).group(1)


def test_change_email_by_link(app, signed_in, user, smtp):
    response = post(signed_in, "/app/personal-data/email", {"new_email": "Anna.New@Example.com", "password": PASSWORD})
    assert response.status_code == 303
    assert smtp.wait_for(1)[0].rcpt_tos == ["anna.new@example.com"]
    link = mailed_link(smtp)
    assert User.get_by_id(user.id).email == "anna@example.com"
    html = page(signed_in)
    assert "anna.new@example.com" in html and "Resend the link" in html and "Cancel the change" in html
    # Opening the link only shows what will happen; the POST makes the change.
    confirm_page = signed_in.get(link).get_data(as_text=True)
    assert "anna.new@example.com" in confirm_page and User.get_by_id(user.id).email == "anna@example.com"
    assert form_post(signed_in, link, {}).status_code == 303
    fresh = User.get_by_id(user.id)
    assert (fresh.email, fresh.email_verified) == ("anna.new@example.com", True)
    notice = smtp.wait_for(2)[-1]
    assert notice.rcpt_tos == ["anna@example.com"] and "was changed" in notice.message["Subject"]
    assert signed_in.get(link).status_code == 404  # once
    assert AuditEvent.select().where(AuditEvent.action == "email.changed").count() == 1


def test_confirm_link_works_signed_out(app, client, user, smtp):
    sign_in(client)
    post(client, "/app/personal-data/email", {"new_email": "new@example.com", "password": PASSWORD})
    link = mailed_link(smtp)
    other = app.test_client()
    assert form_post(other, link, {}).status_code == 303
    assert User.get_by_id(user.id).email == "new@example.com"


@pytest.mark.parametrize(
    "data,message",
    [
        ({"new_email": "not-an-address", "password": PASSWORD}, "Enter a valid e-mail address"),
        ({"new_email": "a" * 10000 + "@example.com", "password": PASSWORD}, "An e-mail address is at most"),
        ({"new_email": "anna@example.com", "password": PASSWORD}, "This is already your address."),
        ({"new_email": "taken@example.com", "password": PASSWORD}, "This address belongs to another account."),
        ({"new_email": "new@example.com", "password": "wrong password!"}, "The current password is not right."),
        ({"new_email": "new@example.com", "password": ""}, "This field is required."),
    ],
)
def test_bad_email_changes_send_nothing(app, signed_in, user, org, smtp, data, message):
    make_user(org, email="taken@example.com")
    for htmx in (False, True):
        response = post(signed_in, "/app/personal-data/email", data, htmx=htmx)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert smtp.messages == [] and Token.select().count() == 0


def test_expired_link_is_refused(app, signed_in, user, smtp):
    post(signed_in, "/app/personal-data/email", {"new_email": "new@example.com", "password": PASSWORD})
    link = mailed_link(smtp)
    Token.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert signed_in.get(link).status_code == 404
    assert form_post(signed_in, link, {}, page="/app/personal-data").status_code == 404
    assert User.get_by_id(user.id).email == "anna@example.com"


def test_link_lives_24_hours(app, signed_in, user, smtp):
    post(signed_in, "/app/personal-data/email", {"new_email": "new@example.com", "password": PASSWORD})
    token = Token.get()
    assert timedelta(hours=23, minutes=59) < token.expires_at - token.created_at <= timedelta(hours=24)


def test_resend_and_cancel(app, signed_in, user, smtp):
    post(signed_in, "/app/personal-data/email", {"new_email": "new@example.com", "password": PASSWORD})
    first = mailed_link(smtp, 1)
    assert post(signed_in, "/app/personal-data/email/resend", {}).status_code == 303
    second = mailed_link(smtp, 2)
    assert first != second and signed_in.get(first).status_code == 404
    assert post(signed_in, "/app/personal-data/email/cancel", {}).status_code == 303
    assert signed_in.get(second).status_code == 404
    assert "Resend the link" not in page(signed_in)


def test_address_taken_before_the_link_is_followed(app, signed_in, user, org, smtp):
    post(signed_in, "/app/personal-data/email", {"new_email": "new@example.com", "password": PASSWORD})
    link = mailed_link(smtp)
    make_user(org, email="new@example.com")
    assert form_post(signed_in, link, {}).status_code == 409
    assert User.get_by_id(user.id).email == "anna@example.com"


def test_mail_failure_is_told_and_nothing_is_pending(app, signed_in, user):
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=closed_port(), MAIL_SECURITY="none", MAIL_TIMEOUT=2)
    response = post(signed_in, "/app/personal-data/email", {"new_email": "new@example.com", "password": PASSWORD}, htmx=True)
    assert response.status_code == 503 and "could not be sent" in response.get_data(as_text=True)
    assert "Resend the link" not in page(signed_in)
    assert User.get_by_id(user.id).email == "anna@example.com"


def test_confirm_post_needs_csrf(app, signed_in, user, smtp):
    post(signed_in, "/app/personal-data/email", {"new_email": "new@example.com", "password": PASSWORD})
    link = mailed_link(smtp)
    assert signed_in.post(link, data={}).status_code == 403
    assert User.get_by_id(user.id).email == "anna@example.com"


def test_bad_tokens(client, user):
    for token in ("x", "y" * 5000, "%00"):
        assert client.get(f"/app/personal-data/email/confirm/{token}").status_code == 404


def test_resend_without_a_pending_code(app, signed_in, user):
    assert post(signed_in, "/app/personal-data/phone/resend", {}).status_code == 303
    assert "No code is waiting" in page(signed_in) and outbox(app) == []
    assert post(signed_in, "/app/personal-data/email/resend", {}).status_code == 303
    assert "There is no pending e-mail change." in page(signed_in)


def test_a_link_of_another_kind_does_not_confirm_an_e_mail_change(app, client, user):
    """A password-reset link's secret sent to the e-mail confirmation URL is unknown there."""
    from services import tokens

    with app.app_context():
        secret = tokens.issue_token(user, "reset", tokens.RESET_LIFETIME)
    response = client.get(f"/app/personal-data/email/confirm/{secret}")
    assert response.status_code == 404 and "This link is invalid, used or expired." in response.get_data(as_text=True)

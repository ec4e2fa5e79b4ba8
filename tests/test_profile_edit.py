"""The edit page: name, e-mail, phone and a new password, saved only after the current password is confirmed."""
import re

import pytest

from models import AuditEvent, Organization, Token, User, UserSession
from services import passwords
from tests.conftest import PASSWORD, csrf_from, form_post, sign_in
from tests.test_profile_contacts import PHONE, outbox
from tests.test_profile_page import HX, page

EDIT = "/app/personal-data/edit"
NEW_PASSWORD = "violet tractor umbrella 1987 sings"


@pytest.fixture
def person(user):
    User.update(phone=PHONE, phone_verified=True, email_verified=True).where(User.id == user.id).execute()
    return user


def fields(**changes):
    data = {"full_name": "Anna Test", "email": "anna@example.com", "phone": "+7 912 345-67-89", "new_password": "", "repeat": ""}
    data.update(changes)
    return data


def post(client, data, htmx=False):
    token = csrf_from(client.get(EDIT).get_data(as_text=True))
    headers = {**HX, "X-CSRFToken": token} if htmx else {}
    return client.post(EDIT, data={"csrf_token": token, **data}, headers=headers)


def test_edit_page_is_filled_in(signed_in, person):
    html = page(signed_in, EDIT)
    assert 'value="Anna Test"' in html and 'value="anna@example.com"' in html and 'value="+7 912 345-67-89"' in html
    assert 'data-shown-when="new_password"' in html and "data-toggle-password" in html
    assert 'name="current_password"' not in html


def test_save_asks_for_the_current_password_first_without_js(signed_in, person):
    response = post(signed_in, fields(full_name="Anna Petrova"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="confirm-step"' in html and 'name="current_password"' in html
    assert 'value="Anna Petrova"' in html  # the input is kept for the confirmation
    assert User.get_by_id(person.id).full_name == "Anna Test"
    response = post(signed_in, fields(full_name="Anna Petrova", current_password="not my password"))
    assert response.status_code == 422 and "The current password is not right." in response.get_data(as_text=True)
    assert User.get_by_id(person.id).full_name == "Anna Test"
    response = post(signed_in, fields(full_name="Anna Petrova", current_password=PASSWORD))
    assert response.status_code == 303
    assert User.get_by_id(person.id).full_name == "Anna Petrova"
    assert "Your name has been saved." in page(signed_in)


def test_save_opens_a_dialog_with_htmx(signed_in, person):
    response = post(signed_in, fields(full_name="Anna Petrova"), htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "<dialog" in html and "data-open-modal" in html and 'name="current_password"' in html
    response = post(signed_in, fields(full_name="Anna Petrova", current_password="nope nope"), htmx=True)
    assert response.status_code == 422 and "<dialog" in response.get_data(as_text=True)
    response = post(signed_in, fields(full_name="Anna Petrova", current_password=PASSWORD), htmx=True)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/app/personal-data"
    assert User.get_by_id(person.id).full_name == "Anna Petrova"


def test_password_change_ends_other_sessions_and_notifies(app, client, person, smtp):
    other = app.test_client()
    sign_in(other)
    sign_in(client)
    response = post(client, fields(new_password=NEW_PASSWORD, repeat=NEW_PASSWORD, current_password=PASSWORD))
    assert response.status_code == 303
    fresh = User.get_by_id(person.id)
    assert passwords.verify_password(fresh.password_hash, NEW_PASSWORD)
    assert client.get("/app/personal-data").status_code == 200  # this session stays
    assert other.get("/app/personal-data").status_code == 302  # the other one is over
    assert UserSession.select().where(UserSession.ended_at.is_null()).count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "password.changed").count() == 1
    assert "password was changed" in smtp.wait_for(1)[-1].message["Subject"]
    sign_in(app.test_client(), password=NEW_PASSWORD)


def test_long_cyrillic_passphrase_is_accepted(signed_in, person):
    phrase = "съешь же ещё этих мягких французских булок да выпей чаю " * 2
    phrase = phrase[:100]
    assert post(signed_in, fields(new_password=phrase, repeat=phrase, current_password=PASSWORD)).status_code == 303
    assert passwords.verify_password(User.get_by_id(person.id).password_hash, phrase)


@pytest.mark.parametrize(
    "new,repeat,message",
    [
        ("short1", "short1", "Use at least 8 characters."),
        ("x" * 129, "x" * 129, "Use at most 128 characters."),
        ("password123", "password123", "too easy to guess"),
        ("anna@example.com!", "anna@example.com!", "Do not use your name, e-mail"),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The passwords do not match."),
    ],
)
def test_password_policy(signed_in, person, new, repeat, message):
    before = User.get_by_id(person.id).password_hash
    for htmx in (False, True):
        response = post(signed_in, fields(new_password=new, repeat=repeat, current_password=PASSWORD), htmx=htmx)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert User.get_by_id(person.id).password_hash == before


def test_weak_password_reason_in_russian(signed_in, person):
    User.update(language="ru").where(User.id == person.id).execute()
    response = post(signed_in, fields(new_password="qwertyuiop", repeat="qwertyuiop"))
    assert response.status_code == 422 and "Этот пароль слишком легко угадать" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"full_name": ""}, "Enter your name."),
        ({"full_name": "x" * 10000}, "At most 200 characters."),
        ({"email": ""}, "Enter an e-mail address."),
        ({"email": "anna@"}, "Enter a valid e-mail address"),
        ({"phone": ""}, "Enter a phone number."),
        ({"phone": "+7 12"}, "This number does not exist"),
        ({"phone": "phone"}, "Enter the number with its country code"),
    ],
)
def test_bad_input_changes_nothing(signed_in, person, changes, message):
    response = post(signed_in, fields(current_password=PASSWORD, **changes))
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    fresh = User.get_by_id(person.id)
    assert (fresh.full_name, fresh.email, fresh.phone) == ("Anna Test", "anna@example.com", PHONE)


def test_email_change_from_the_edit_page_goes_by_link(app, signed_in, person, smtp):
    assert post(signed_in, fields(email="next@example.com", current_password=PASSWORD)).status_code == 303
    assert smtp.wait_for(1)[0].rcpt_tos == ["next@example.com"]
    assert User.get_by_id(person.id).email == "anna@example.com"
    assert Token.select().count() == 1


def test_phone_change_from_the_edit_page_sends_a_code(app, signed_in, person):
    response = post(signed_in, fields(phone="+7 999 000-11-22", current_password=PASSWORD))
    assert response.status_code == 303 and response.headers["Location"].endswith("#phone-section")
    assert outbox(app)[-1]["to"] == "+79990001122"
    assert User.get_by_id(person.id).phone == PHONE
    assert "Enter the code" in page(signed_in)


def test_sms_failure_saves_nothing_else(app, signed_in, person):
    app.config.update(SMS_BACKEND="http", SMS_HTTP_URL="http://127.0.0.1:9/", SMS_HTTP_ALLOW_PRIVATE=True, SMS_HTTP_TIMEOUT=1)
    response = post(signed_in, fields(full_name="Anna Petrova", phone="+7 999 000-11-22", current_password=PASSWORD))
    assert response.status_code == 503 and "The code could not be sent" in response.get_data(as_text=True)
    assert User.get_by_id(person.id).full_name == "Anna Test"


def test_locked_contacts_cannot_change_here_either(signed_in, person, org):
    Organization.update(contacts_locked=True).where(Organization.id == org.id).execute()
    html = page(signed_in, EDIT)
    assert "readonly" in html
    response = post(signed_in, fields(email="next@example.com", current_password=PASSWORD))
    assert response.status_code == 422 and "can only be changed by support" in response.get_data(as_text=True)
    response = post(signed_in, fields(phone="+7 999 000-11-22", current_password=PASSWORD))
    assert response.status_code == 422 and "can only be changed by support" in response.get_data(as_text=True)


def test_nothing_changed(signed_in, person):
    response = post(signed_in, fields())
    assert response.status_code == 303
    assert "Nothing to save" in page(signed_in)


def test_wrong_current_passwords_are_throttled(app, signed_in, person):
    for _ in range(5):
        post(signed_in, fields(full_name="Anna Petrova", current_password="wrong wrong"))
    response = post(signed_in, fields(full_name="Anna Petrova", current_password=PASSWORD))
    assert response.status_code == 429 and "Too many attempts" in response.get_data(as_text=True)
    assert User.get_by_id(person.id).full_name == "Anna Test"
    assert AuditEvent.select().where(AuditEvent.action == "reauth.failed").count() == 5


def test_replayed_form_after_sign_out_changes_nothing(app, client, person):
    sign_in(client)
    token = csrf_from(client.get(EDIT).get_data(as_text=True))
    form_post(client, "/logout", {}, page=EDIT)
    response = client.post(EDIT, data={"csrf_token": token, **fields(full_name="Replay", current_password=PASSWORD)})
    assert response.status_code in (302, 403)
    assert User.get_by_id(person.id).full_name == "Anna Test"


def test_reauthentication_is_recorded(signed_in, person):
    before = UserSession.get(UserSession.ended_at.is_null()).reauth_at
    post(signed_in, fields(full_name="Anna Petrova", current_password=PASSWORD))
    assert UserSession.get(UserSession.ended_at.is_null()).reauth_at >= before

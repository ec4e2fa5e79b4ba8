"""The password page under the security center (seeds 001, 002): current, new and repeated password,
with the edit page's rules, sessions, mail, audit event and security.changed webhook."""
import json
from datetime import datetime

import pytest

from models import AuditEvent, User, UserSession, WebhookDelivery
from services import passwords, webhooks
from tests.conftest import PASSWORD, csrf_from, sign_in
from tests.test_profile_page import HX, page

PAGE = "/app/security/password"
NEW_PASSWORD = "violet tractor umbrella 1987 sings"


def post(client, htmx=False, **data):
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    headers = {**HX, "X-CSRFToken": token} if htmx else {}
    return client.post(PAGE, data={"csrf_token": token, **data}, headers=headers)


def change(current=PASSWORD, new=NEW_PASSWORD, repeat=None):
    return {"current_password": current, "new_password": new, "repeat": new if repeat is None else repeat}


def test_the_page_has_three_password_fields_with_the_eye(signed_in):
    html = page(signed_in, PAGE)
    for name, autocomplete in (("current_password", "current-password"), ("new_password", "new-password"), ("repeat", "new-password")):
        assert f'name="{name}"' in html and f'data-toggle-password="{name}"' in html
    assert 'autocomplete="current-password"' in html and 'type="password"' in html
    assert 'aria-current="page"' in html and f'href="{PAGE}"' in html  # a tab of the security center


def test_it_is_linked_from_the_security_center_and_the_personal_data_page(signed_in):
    assert f'href="{PAGE}"' in page(signed_in, "/app/security/")
    assert f'<a href="{PAGE}">Change password</a>' in page(signed_in, "/app/personal-data")


@pytest.mark.parametrize("htmx", [False, True])
def test_a_change_signs_out_other_sessions_mails_and_records(app, client, user, smtp, htmx):
    other = app.test_client()
    sign_in(other)
    sign_in(client)
    response = post(client, htmx=htmx, **change())
    if htmx:
        assert response.status_code == 204 and response.headers["HX-Redirect"] == PAGE
    else:
        assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    assert passwords.verify_password(User.get_by_id(user.id).password_hash, NEW_PASSWORD)
    assert "Your password has been changed. Other sessions were signed out." in page(client, PAGE)
    assert other.get("/app/personal-data").status_code == 302
    assert UserSession.select().where(UserSession.ended_at.is_null()).count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "password.changed").count() == 1
    assert "password was changed" in smtp.wait_for(1)[-1].message["Subject"]
    sign_in(app.test_client(), password=NEW_PASSWORD)


def test_the_change_goes_out_as_a_security_changed_webhook(app, client, org, user):
    webhooks.create_endpoint(org.id, None, "https://example.com/h", ["security.changed"], {"SECRET_KEY": "test-secret"})
    sign_in(client)
    assert post(client, **change()).status_code == 303
    (delivery,) = WebhookDelivery.select()
    assert delivery.event == "security.changed" and json.loads(delivery.payload)["data"]["action"] == "password.changed"
    assert NEW_PASSWORD not in delivery.payload and PASSWORD not in delivery.payload


@pytest.mark.parametrize(
    "data,message",
    [
        (change(current="not my password"), "The current password is not right."),
        (change(current=""), "Enter your current password."),
        (change(new=""), "Enter a new password."),
        (change(new="short1"), "Use at least 8 characters."),
        (change(new="x" * 129), "Use at most 128 characters."),
        (change(new="password123"), "too easy to guess"),
        (change(new="anna@example.com!"), "Do not use your name, e-mail"),
        (change(repeat=NEW_PASSWORD + "x"), "The passwords do not match."),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(signed_in, user, data, message):
    before = User.get_by_id(user.id).password_hash
    for htmx in (False, True):
        response = post(signed_in, htmx=htmx, **data)
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and message in html
        assert ("<html" in html) != htmx
    assert User.get_by_id(user.id).password_hash == before
    assert not AuditEvent.select().where(AuditEvent.action == "password.changed").exists()


def test_wrong_current_passwords_are_throttled(app, signed_in, user):
    for _ in range(5):
        assert post(signed_in, **change(current="wrong wrong")).status_code == 422
    response = post(signed_in, **change())
    assert response.status_code == 429 and "Too many attempts" in response.get_data(as_text=True)
    assert not passwords.verify_password(User.get_by_id(user.id).password_hash, NEW_PASSWORD)


def test_russian(signed_in, user):
    User.update(language="ru").where(User.id == user.id).execute()
    html = page(signed_in, PAGE)
    assert "Текущий пароль" in html and "Сменить пароль" in html
    response = post(signed_in, **change(new="qwertyuiop"))
    assert response.status_code == 422 and "Этот пароль слишком легко угадать" in response.get_data(as_text=True)


def test_no_separate_reauthentication_and_signed_out_people_are_sent_to_sign_in(app, client, user):
    assert client.get(PAGE).status_code == 302
    sign_in(client)
    UserSession.update(reauth_at=datetime(2000, 1, 1)).execute()  # the password was entered long ago
    assert client.get("/app/security/sessions").status_code == 302  # the other security pages ask again
    assert client.get(PAGE).status_code == 200  # this one asks for the current password itself

"""The API keys page (/app/security/api-keys, issue 5): create with name, scopes and expiry, the key shown
once and stored hashed (SECURITY.md 25), rename, change scopes, revoke; re-authentication (SECURITY.md 11),
other people's keys (SECURITY.md 19), bad input (translated 422, nothing saved) and audit events."""
import re
from datetime import date, timedelta

import pytest

from models import ApiKey, AuditEvent, User, UserSession, utcnow
from services import apikeys
from services.tokens import digest
from tests.conftest import csrf_from, form_post, make_user, sign_in
from tests.security_helpers import HTMX, htmx_post

PAGE = "/app/security/api-keys"


def create(client, **data):
    form = {"name": "CRM import", "scopes": ["read"], **data}
    return form_post(client, PAGE, form)


def shown_key(response):
    match = re.search(r'id="new-api-key">(kab_[0-9a-f]{8}_[A-Za-z0-9_-]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:2000]
    return match.group(1)


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def actions(user):
    return [e.action for e in AuditEvent.select().where(AuditEvent.actor == user).order_by(AuditEvent.id)]


def test_a_new_key_is_shown_once_stored_hashed_and_works(signed_in, user):
    expires = (date.today() + timedelta(days=30)).isoformat()
    response = create(signed_in, name="CRM import", scopes=["read", "write"], expires_on=expires)
    assert response.status_code == 201
    key = shown_key(response)
    row = ApiKey.get()
    assert row.key_hash == digest(key) and key.startswith(row.prefix + "_")
    assert key not in str(row.__data__), "the key itself is never stored"
    assert row.scopes == "read write" and row.expires_at.date().isoformat() == expires
    page = signed_in.get(PAGE).get_data(as_text=True)
    assert key not in page, "shown once: the list has only the prefix"
    assert row.prefix in page and "CRM import" in page
    me = signed_in.get("/api/v1/me", headers=bearer(key))
    assert me.status_code == 200 and me.get_json()["email"] == user.email
    assert ApiKey.get().last_used_at is not None
    assert "apikey.created" in actions(user)


def test_with_htmx_the_form_swaps_in_the_key_and_the_list(signed_in):
    response = htmx_post(signed_in, PAGE, {"name": "Zapier", "scopes": "read"}, PAGE)
    html = response.get_data(as_text=True)
    assert response.status_code == 201
    assert html.startswith('\n<section class="card" id="api-key-create"') or 'id="api-key-create"' in html[:200]
    assert 'id="api-keys" hx-swap-oob="true"' in html and "Zapier" in html
    assert "<html" not in html
    shown_key(response)


@pytest.mark.parametrize("data,message", [
    ({"scopes": ["admin"]}, "Unknown scope “admin”"),
    ({"scopes": ["read", "delete"]}, "Unknown scope “delete”"),
    ({"scopes": []}, "Choose at least one scope."),
    ({"name": ""}, "Give the key a name."),
    ({"name": "x" * 101}, "At most 100 characters."),
    ({"expires_on": "tomorrow"}, "Enter a date like 2026-12-31."),
    ({"expires_on": "2020-01-01"}, "Choose a date after today."),
    ({"expires_on": "2999-01-01"}, "at most three years"),
])
def test_bad_input_is_refused_with_a_message_and_nothing_is_saved(signed_in, user, data, message):
    response = create(signed_in, **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert ApiKey.select().count() == 0
    assert "apikey.created" not in actions(user)


def test_an_unknown_scope_is_refused_in_russian_too(client, org):
    make_user(org, "ivan@example.com", language="ru")
    sign_in(client, "ivan@example.com")
    response = create(client, scopes=["superuser"])
    assert response.status_code == 422
    assert "Неизвестная область доступа «superuser»" in response.get_data(as_text=True)
    assert ApiKey.select().count() == 0


def test_rename_change_scopes_and_revoke(signed_in, user):
    key = shown_key(create(signed_in, scopes=["read"]))
    row = ApiKey.get()
    edit = f"{PAGE}/{row.id}"
    assert signed_in.get("/api/v1/me", headers=bearer(key)).status_code == 200
    assert signed_in.patch("/api/v1/me", json={"short_info": "x"}, headers=bearer(key)).status_code == 403
    response = form_post(signed_in, edit, {"name": "CRM export", "scopes": ["read", "write"]})
    assert response.status_code == 303
    row = ApiKey.get()
    assert row.name == "CRM export" and row.scopes == "read write"
    assert signed_in.patch("/api/v1/me", json={"short_info": "x"}, headers=bearer(key)).status_code == 200
    bad = form_post(signed_in, edit, {"name": "CRM export", "scopes": ["root"]})
    assert bad.status_code == 422 and ApiKey.get().scopes == "read write"
    response = form_post(signed_in, f"{edit}/revoke", {}, page=PAGE)
    assert response.status_code == 303
    assert ApiKey.get().revoked_at is not None
    refused = signed_in.get("/api/v1/me", headers=bearer(key))
    assert refused.status_code == 401 and refused.get_json()["code"] == "revoked"
    assert "Revoked" in signed_in.get(PAGE).get_data(as_text=True)
    assert signed_in.get(edit).status_code == 404, "a revoked key cannot be edited"
    assert actions(user)[-3:] == ["apikey.created", "apikey.changed", "apikey.revoked"][-3:] or \
        {"apikey.created", "apikey.changed", "apikey.revoked"} <= set(actions(user))


def test_other_peoples_keys_answer_404(signed_in, org):
    other = make_user(org, "boris@example.com")
    _key, row = apikeys.create_key(other, "Boris's", ["read"])
    token = csrf_from(signed_in.get(PAGE).get_data(as_text=True))
    assert signed_in.get(f"{PAGE}/{row.id}").status_code == 404
    assert signed_in.post(f"{PAGE}/{row.id}", data={"csrf_token": token, "name": "mine", "scopes": "write"}).status_code == 404
    assert signed_in.post(f"{PAGE}/{row.id}/revoke", data={"csrf_token": token}).status_code == 404
    assert signed_in.post(f"{PAGE}/{2**70}/revoke", data={"csrf_token": token}).status_code == 404
    row = ApiKey.get_by_id(row.id)
    assert row.name == "Boris's" and row.revoked_at is None and row.scopes == "read"
    assert "Boris&#39;s" not in signed_in.get(PAGE).get_data(as_text=True)


def test_the_page_asks_for_the_password_again_after_reauth_minutes(signed_in):
    UserSession.update(reauth_at=utcnow() - timedelta(minutes=16)).execute()
    response = signed_in.get(PAGE)
    assert response.status_code == 302 and "/app/security/reauth" in response.headers["Location"]
    html = signed_in.get("/app/security/reauth").get_data(as_text=True)
    refused = signed_in.post(PAGE, data={"csrf_token": csrf_from(html), "name": "x", "scopes": "read"})
    assert refused.status_code == 303 and "/app/security/reauth" in refused.headers["Location"]
    assert ApiKey.select().count() == 0


def test_at_most_twenty_working_keys(signed_in, user):
    for n in range(apikeys.MAX_LIVE_KEYS):
        apikeys.create_key(user, f"k{n}", ["read"])
    response = create(signed_in)
    assert response.status_code == 422 and "the most allowed" in response.get_data(as_text=True)
    apikeys.revoke(ApiKey.get(ApiKey.name == "k0"))
    assert create(signed_in).status_code == 201


def test_expired_keys_show_as_expired_and_are_refused(signed_in, user):
    key, row = apikeys.create_key(user, "old", ["read"], expires_at=utcnow() - timedelta(minutes=1))
    assert "Expired" in signed_in.get(PAGE).get_data(as_text=True)
    response = signed_in.get("/api/v1/me", headers=bearer(key))
    assert response.status_code == 401 and response.get_json()["code"] == "expired"


def test_a_disabled_person_keys_stop_working(client, user):
    key, _row = apikeys.create_key(user, "k", ["read"])
    User.update(status="disabled").where(User.id == user.id).execute()
    assert client.get("/api/v1/me", headers=bearer(key)).status_code == 401

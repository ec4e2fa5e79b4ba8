"""Service keys (/app/security/service-keys): the organization's API keys, not a person's. Made by those
with integrations.manage, shown once and stored hashed, with scopes, expiry and an address list; they
keep working when their maker leaves, act for the organization (routes for a person answer 403), count
each use and are revocable; creating and revoking are audited."""
import re
from datetime import timedelta

from models import AuditEvent, Organization, ServiceKey, ServiceKeyUse, User, utcnow
from services import service_keys
from services.permissions import grant
from services.tokens import digest
from tests.conftest import csrf_from, form_post, sign_in
from tests.security_helpers import htmx_post

PAGE = "/app/security/service-keys"


def shown_key(response):
    match = re.search(r'id="new-service-key">(kabs_[0-9a-f]{8}_[A-Za-z0-9_-]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:2000]
    return match.group(1)


def bearer(key, **headers):
    return {"Authorization": f"Bearer {key}", **headers}


def test_only_holders_of_integrations_manage_see_and_use_the_page(client, user, org):
    sign_in(client)
    assert client.get(PAGE).status_code == 403
    assert "Service keys" not in client.get("/app/security/api-keys").get_data(as_text=True)
    assert client.post(PAGE, data={"name": "x", "scopes": "read"}).status_code in (400, 403)
    grant(user, "integrations.manage")
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'href="/app/security/service-keys"' in client.get("/app/security/api-keys").get_data(as_text=True)
    assert ServiceKey.select().count() == 0


def test_a_key_is_shown_once_outlives_its_maker_and_acts_for_the_organization(client, user, org):
    grant(user, "integrations.manage")
    sign_in(client)
    response = form_post(client, PAGE, {"name": "Mailer", "scopes": ["read", "write"]})
    assert response.status_code == 201
    key = shown_key(response)
    row = ServiceKey.get()
    assert row.key_hash == digest(key) and key not in str(row.__data__) and row.created_by_id == user.id
    assert key not in client.get(PAGE).get_data(as_text=True), "shown once"
    assert [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("service_key"))] == [
        "service_key.created"]
    # Anna leaves: her personal keys die with her, the service key does not.
    User.delete().where(User.id == user.id).execute()
    assert ServiceKey.get().created_by_id is None
    me = client.get("/api/v1/me", headers=bearer(key))
    assert me.status_code == 403 and me.get_json()["code"] == "person_required"
    assert client.get("/api/v1/notifications", headers=bearer(key)).status_code == 403
    row = ServiceKey.get()
    assert row.use_count == 2 and row.last_used_at is not None and row.last_used_ip == "127.0.0.1"


def test_with_htmx_the_form_swaps_in_the_key_and_the_list_and_bad_input_is_named(client, user):
    grant(user, "integrations.manage")
    sign_in(client)
    response = htmx_post(client, PAGE, {"name": "Zapier", "scopes": "read", "allowed_ips": "10.0.0.0/8"}, PAGE)
    html = response.get_data(as_text=True)
    assert response.status_code == 201 and 'aria-labelledby="service-keys-title" hx-swap-oob="true"' in html and "10.0.0.0/8" in html
    bad = form_post(client, PAGE, {"name": "", "scopes": ["admin"], "allowed_ips": "not-an-ip",
                                   "expires_on": "2001-01-01"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Give the key a name." in text and "not an IP address" in text
    assert "Choose a date after today." in text and ServiceKey.select().count() == 1
    User.update(language="ru").where(User.id == user.id).execute()
    russian = form_post(client, PAGE, {"name": "", "scopes": ["read"], "allowed_ips": "300.1.1.1"}).get_data(as_text=True)
    assert "Сервисные ключи" in russian and "Дайте ключу название." in russian
    assert "«300.1.1.1»" in russian


def test_the_address_list_expiry_and_revoking_refuse_the_key(app, client, user, org):
    app.config["API_RATE_LIMIT"] = "1000 per minute"
    grant(user, "integrations.manage")
    limited, _row = service_keys.create_key(org.id, user, "Office only", ["read"], allowed_ips="192.0.2.0/24")
    refused = client.get("/api/v1/mail-servers", headers=bearer(limited))
    assert refused.status_code == 403 and refused.get_json()["code"] == "address_not_allowed"
    assert ServiceKey.get().use_count == 0, "a refused request is no use"
    old, _row = service_keys.create_key(org.id, user, "Old", ["read"], expires_at=utcnow() - timedelta(seconds=1))
    assert client.get("/api/v1/mail-servers", headers=bearer(old)).get_json()["code"] == "expired"
    key, row = service_keys.create_key(org.id, user, "Anywhere", ["read"])
    sign_in(client)
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    assert client.post(f"{PAGE}/{row.id}/revoke", data={"csrf_token": token}).status_code == 303
    gone = client.get("/api/v1/me", headers=bearer(key))
    assert gone.status_code == 401 and gone.get_json()["code"] == "revoked"
    assert ServiceKey.get_by_id(row.id).revoked_by_id == user.id
    assert "service_key.revoked" in [e.action for e in AuditEvent.select()]
    elsewhere = Organization.create(name="Other LLC")
    _theirs, their_row = service_keys.create_key(elsewhere.id, None, "Elsewhere", ["read"])
    assert client.post(f"{PAGE}/{their_row.id}/revoke", data={"csrf_token": token}).status_code == 404


def test_every_use_refused_ones_too_is_kept_in_the_keys_trail_and_shown_to_managers(app, client, user, org):
    """Issue 17: every use of a service key is audited, in its own trail (the events log would be flooded):
    time, address, request and answer; a refused use of a known key too; old uses are forgotten."""
    grant(user, "integrations.manage")
    key, row = service_keys.create_key(org.id, user, "CRM", ["read"], allowed_ips="127.0.0.1")
    assert client.get("/api/v1/operations/1", headers=bearer(key)).status_code == 404
    client.post("/api/v1/events", headers=bearer(key), json={"type": "link.clicked"})  # no write scope: 403
    outside = client.get("/api/v1/operations/1", headers=bearer(key), environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert outside.status_code == 403
    trail = [(u.ip, u.method, u.path, u.status) for u in service_keys.recent_uses(row)]
    assert trail == [("192.0.2.7", "GET", "/api/v1/operations/1", 403), ("127.0.0.1", "POST", "/api/v1/events", 403),
                     ("127.0.0.1", "GET", "/api/v1/operations/1", 404)]
    sign_in(client)
    page = client.get(f"{PAGE}/{row.id}/uses", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Использование ключа «CRM»" in page and "192.0.2.7" in page and "POST /api/v1/events" in page
    assert f'href="{PAGE}/{row.id}/uses"' in client.get(PAGE).get_data(as_text=True)
    other, theirs = service_keys.create_key(Organization.create(name="Other").id, None, "theirs", ["read"])
    assert client.get(f"{PAGE}/{theirs.id}/uses").status_code == 404
    ServiceKeyUse.update(at=utcnow() - timedelta(days=app.config["SERVICE_KEY_USES_DAYS"] + 1)).where(
        ServiceKeyUse.status == 404).execute()
    with app.app_context():
        assert service_keys.forget_old_uses() == 1
    assert len(service_keys.recent_uses(row)) == 2

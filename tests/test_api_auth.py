"""The JSON API's authorization (issue 5): every /api/v1 route from the URL map, called with no key, a
revoked, an expired, a read, a write and a read+write key, gets the status it should; the rate limit
is per key; PATCH /me validates like the page; the OpenAPI document lists every route."""
import re
from datetime import timedelta

import pytest

from models import MailServer, Operation, User, utcnow
from services import apikeys, crypto, service_keys
from tests.conftest import make_user
from tests.test_every_route import routes

API = "/api/v1"
UNGUARDED = {"api.openapi", "api.not_found"}  # the public document, and the JSON 404 for unknown paths
# What a route answers when the key has the scope, with the bodies below (default: 200).
OK_STATUS = {
    ("POST", "/api/v1/invoices"): 403,  # the scope is there, but the person lacks billing.edit
    ("POST", "/api/v1/balance/charges"): 403,  # the same
    ("POST", "/api/v1/balance/credits"): 403,
    ("POST", "/api/v1/operations"): 201,
    ("POST", "/api/v1/events"): 202,
    ("POST", "/api/v1/notifications"): 202,
    # the walk goes in URL order: operation 1 fails first, so finishing or reporting on it is too late
    ("POST", "/api/v1/operations/1/finish"): 409,
    ("POST", "/api/v1/operations/1/progress"): 409,
}
SERVICE_OK_STATUS = {  # where a service key gets another answer than a person's key
    ("POST", "/api/v1/balance/charges"): 201,
    ("POST", "/api/v1/balance/credits"): 201,
}
BODIES = {("PATCH", "/api/v1/me"): {"short_info": "Sent by the API"},
          ("POST", "/api/v1/balance/charges"): {"amount": "1.00", "description": "walk"},
          ("POST", "/api/v1/balance/credits"): {"amount": "1.00", "description": "walk"},
          ("POST", "/api/v1/operations"): {"title": "walk"},
          ("POST", "/api/v1/notifications"): {"category": "requests", "user_id": 1, "title": {"en": "a", "ru": "б"},
                                              "text": {"en": "a", "ru": "б"}},
          ("POST", "/api/v1/events"): {"type": "link.clicked", "data": {"url": "https://example.com"}},
          ("POST", "/api/v1/operations/1/fail"): {"error": "walk"}}
SECRET = "smtp-secret-never-shown"


def api_routes(app):
    """(method, url, endpoint) of every /api/v1 rule, with the URL-map walk of test_every_route."""
    endpoints = {(rule.rule, method): rule.endpoint for rule in app.url_map.iter_rules() for method in rule.methods}
    return [(method, url, endpoints[(rule, method)]) for method, url, rule in routes(app) if rule.startswith(API + "/")]


@pytest.fixture
def keys(app, user):
    """One key of each kind for `user`, who also owns mail server 1 (the first row, with a password)."""
    MailServer.create(owner=user, organization=user.organization_id, host="smtp.example.com", port=587,
                      from_email="anna@example.com", username="anna", password_token=crypto.encrypt(SECRET, app.config))
    made = {
        "read": apikeys.create_key(user, "r", ["read"])[0],
        "write": apikeys.create_key(user, "w", ["write"])[0],
        "both": apikeys.create_key(user, "rw", ["read", "write"])[0],
        "expired": apikeys.create_key(user, "e", ["read", "write"], expires_at=utcnow() - timedelta(seconds=1))[0],
    }
    revoked, row = apikeys.create_key(user, "x", ["read", "write"])
    apikeys.revoke(row)
    made["revoked"] = revoked
    made["none"] = None
    Operation.create(organization=user.organization_id, kind="product", title="Import")  # operation 1
    made["service_read"] = service_keys.create_key(user.organization_id, user, "s", ["read"])[0]
    made["service_both"] = service_keys.create_key(user.organization_id, None, "sb", ["read", "write"])[0]
    gone, row = service_keys.create_key(user.organization_id, user, "sx", ["read", "write"])
    service_keys.revoke(row)
    made["service_revoked"] = gone
    made["service_elsewhere"] = service_keys.create_key(user.organization_id, user, "se", ["read", "write"],
                                                        allowed_ips="192.0.2.0/24")[0]
    made["wrong"] = "kab_00000000_" + "A" * 43
    return made


def call(client, method, url, key):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers["Idempotency-Key"] = f"walk-{method}-{url}"
    return client.open(url, method=method, headers=headers, json=BODIES.get((method, url), {}))


def expected(app, method, url, endpoint, kind):
    if endpoint == "api.openapi":
        return 200
    if kind in ("none", "revoked", "expired", "wrong", "service_revoked"):
        return 401
    if kind == "service_elsewhere":
        return 403  # the key's address list leaves the caller out
    if endpoint == "api.not_found":
        return 404
    view = app.view_functions[endpoint]
    held = {"read": {"read"}, "write": {"write"}, "both": {"read", "write"}, "service_read": {"read"},
            "service_both": {"read", "write"}}[kind]
    if view.required_scope not in held:
        return 403
    if kind.startswith("service") and not view.accepts_service_key:
        return 403  # the route acts for a person; an organization's key has none
    if hasattr(view, "required_permission"):
        return 403  # an admin route (needs_permission): the walk's person holds no permission of the back office
    return SERVICE_OK_STATUS.get((method, url), OK_STATUS.get((method, url), 200)) if kind.startswith("service") \
        else OK_STATUS.get((method, url), 200)


def test_every_api_route_declares_its_scope(app):
    missing = [endpoint for _m, _u, endpoint in api_routes(app)
               if endpoint not in UNGUARDED and not hasattr(app.view_functions[endpoint], "required_scope")]
    assert missing == [], "every /api/v1 view needs @scope(...)"


@pytest.mark.parametrize("kind", ["none", "wrong", "revoked", "expired", "read", "write", "both", "service_read",
                                  "service_both", "service_revoked", "service_elsewhere"])
def test_every_api_route_with_every_kind_of_key(app, client, keys, kind):
    problems = []
    routes = api_routes(app)
    assert len(routes) >= 6
    for method, url, endpoint in routes:
        response = call(client, method, url, keys[kind])
        want = expected(app, method, url, endpoint, kind)
        body = response.get_data(as_text=True)
        if response.status_code != want:
            problems.append(f"{method} {url} with a {kind} key: {response.status_code}, expected {want}: {body[:200]}")
        if response.mimetype != "application/json":
            problems.append(f"{method} {url}: {response.mimetype}")
        elif response.status_code >= 400 and not {"code", "message"} <= set(response.get_json()):
            problems.append(f"{method} {url}: error without code and message")
        if SECRET in body or "password_token" in body:
            problems.append(f"{method} {url}: a secret in the answer")
        if response.status_code == 401 and "Bearer" not in response.headers.get("WWW-Authenticate", ""):
            problems.append(f"{method} {url}: 401 without WWW-Authenticate")
    assert problems == []


def test_the_error_codes_say_why_a_key_is_refused(client, keys):
    codes = {kind: client.get(f"{API}/me", headers={"Authorization": f"Bearer {keys[kind]}"}).get_json()["code"]
             for kind in ("revoked", "expired", "wrong")}
    assert codes == {"revoked": "revoked", "expired": "expired", "wrong": "unauthorized"}
    assert client.get(f"{API}/me", headers={"Authorization": f"Basic {keys['read']}"}).status_code == 401
    assert client.get(f"{API}/me", headers={"Authorization": "Bearer "}).status_code == 401


def test_the_rate_limit_is_per_key(app, client, keys):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    first = {"Authorization": f"Bearer {keys['read']}"}
    second = {"Authorization": f"Bearer {keys['both']}"}
    assert [client.get(f"{API}/me", headers=first).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(f"{API}/me", headers=first)
    assert limited.status_code == 429 and limited.get_json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60, "the client is told when to come back"
    assert client.get(f"{API}/me", headers=second).status_code == 200, "another key has its own budget"


def test_patch_me_validates_like_the_page_and_changes_nothing_on_error(client, keys, user):
    headers = {"Authorization": f"Bearer {keys['both']}"}
    bad = client.patch(f"{API}/me", json={"time_zone": "Mars/Olympus", "full_name": "Anna B"}, headers=headers)
    assert bad.status_code == 422 and "time_zone" in bad.get_json()["fields"]
    assert User.get_by_id(user.id).full_name == "Anna Test", "nothing saved half-way"
    for body, code in [({"email": "x@example.com"}, "unknown_field"), ({"full_name": 5}, "invalid"),
                       ({"full_name": ""}, "invalid"), ({"short_info": "x" * 201}, "invalid"),
                       ({"language": "de"}, "invalid")]:
        response = client.patch(f"{API}/me", json=body, headers=headers)
        assert response.status_code == 422 and response.get_json()["code"] == code, body
    assert client.patch(f"{API}/me", data="not json", headers=headers).status_code == 400
    assert client.patch(f"{API}/me", json={}, headers=headers).status_code == 200, "nothing to change is no error"
    russian = client.patch(f"{API}/me", json={"time_zone": "Mars/Olympus"}, headers={**headers, "Accept-Language": "ru"})
    assert russian.get_json()["fields"]["time_zone"] == ["Выберите часовой пояс из списка."]
    ok = client.patch(f"{API}/me", json={"full_name": "Anna B", "time_zone": "Europe/Moscow", "language": "ru"},
                      headers=headers)
    assert ok.status_code == 200 and ok.get_json()["full_name"] == "Anna B"
    assert User.get_by_id(user.id).time_zone == "Europe/Moscow"


def test_another_persons_mail_server_is_a_404(client, keys, org):
    other = make_user(org, "boris@example.com")
    theirs = MailServer.create(owner=other, organization=org, host="smtp.example.org", port=25, from_email="b@example.com")
    response = client.get(f"{API}/mail-servers/{theirs.id}", headers={"Authorization": f"Bearer {keys['read']}"})
    assert response.status_code == 404


def test_the_openapi_document_describes_every_route(app, client):
    document = client.get(f"{API}/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    for method, _url, endpoint in api_routes(app):
        if endpoint in UNGUARDED:
            continue
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)
        path = re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule[len(API):])
        assert method.lower() in document["paths"].get(path, {}), f"{method} {path} missing from openapi.json"
    for path in ("/me", "/mail-servers", "/notifications"):
        assert path in document["paths"]

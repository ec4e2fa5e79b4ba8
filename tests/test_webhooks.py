"""Signed webhooks (issue 5): URL rules and SSRF (SECURITY.md 26), secrets encrypted at rest (24),
durable emission in the caller's transaction, delivery to a real HTTP receiver on 127.0.0.1 with
the signature checked by the README's own snippet, retries with backoff, hangs and trickles cut off
as one attempt, no redirects, no double sends from concurrent workers, and the pages."""
import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from models import AuditEvent, MailServer, User, Webhook, WebhookDelivery, db, utcnow
from services import apikeys, crypto, webhooks
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in
from tests.security_helpers import htmx_post
from tests.webhook_receiver import receiver_on_localhost

PAGE = "/app/security/webhooks"
ALL_EVENTS = list(webhooks.EVENT_TYPES)


def readme_verify():
    """The verification snippet from the README, run as written."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text.split("### Verifying a delivery", 1)[1], re.S).group(1)
    namespace = {}
    exec(snippet, namespace)  # noqa: S102 - our own README
    return namespace["verify"]


@pytest.fixture
def cfg(app):
    app.config.update(WEBHOOK_ALLOWED_PRIVATE="127.0.0.1", WEBHOOK_TIMEOUT=1, WEBHOOK_RETRY_SECONDS=30,
                      WEBHOOK_MAX_ATTEMPTS=3)
    return app.config


@pytest.fixture
def receiver():
    with receiver_on_localhost() as receiver:
        yield receiver


@pytest.fixture
def owner(org):
    return make_user(org, "olga@example.com", role="owner", full_name="Olga Owner")


def endpoint(org, url, events=None, user=None):
    """An endpoint made directly (the tests' config: SECRET_KEY "test-secret", no ENCRYPTION_KEY)."""
    return webhooks.create_endpoint(org.id, user, url, events or ALL_EVENTS, {"SECRET_KEY": "test-secret"})


def deliveries():
    return list(WebhookDelivery.select().order_by(WebhookDelivery.id))


# --- URL rules and SSRF -----------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://user:pass@example.com/hook", "https://user@example.com/hook", "ftp://example.com/x",
    "javascript:alert(1)", "file:///etc/passwd", "gopher://example.com", "example.com/hook", "https:///nohost",
    "http://127.0.0.1/x", "http://localhost:8000/x", "http://10.1.2.3/x", "http://192.168.0.1/",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/",
    "https://example.com/a b", "https://example.com:99999/", "x" * 501, "",
])
def test_urls_that_are_refused(app, url):
    assert webhooks.url_problem(url, app.config) is not None


@pytest.mark.parametrize("url", ["https://example.com/hooks/kabinet", "http://hooks.example.org:8080/in?x=1",
                                 "https://93.184.216.34/x"])
def test_urls_that_are_accepted(app, url):
    assert webhooks.url_problem(url, app.config) is None


def test_private_targets_only_when_config_allows(app):
    assert webhooks.url_problem("http://127.0.0.1:9/x", {**app.config, "WEBHOOK_ALLOWED_PRIVATE": "127.0.0.1"}) is None
    assert webhooks.url_problem("http://10.0.0.5/x", {**app.config, "WEBHOOK_ALLOWED_PRIVATE": "127.0.0.1"}) is not None
    assert webhooks.url_problem("http://10.0.0.5/x", {**app.config, "WEBHOOK_ALLOWED_PRIVATE": "10.0.0.0/8"}) is None
    assert webhooks.url_problem("http://10.0.0.5/x", {**app.config, "WEBHOOK_ALLOW_PRIVATE": True}) is None


def test_a_name_is_resolved_and_every_address_checked(app):
    with pytest.raises(webhooks.BlockedTarget):
        webhooks.checked_address("localhost", 80, app.config)
    family, sockaddr = webhooks.checked_address("localhost", 80, {**app.config, "WEBHOOK_ALLOW_PRIVATE": True})
    assert sockaddr[0] in ("127.0.0.1", "::1")


def test_a_blocked_target_is_never_contacted(app, org, receiver):
    app.config.update(WEBHOOK_ALLOWED_PRIVATE="", WEBHOOK_TIMEOUT=1)
    hook, _secret = endpoint(org, receiver.url)
    webhooks.emit(org, "sign_in", {"x": 1})
    webhooks.deliver_due(app.config)
    (delivery,) = deliveries()
    assert receiver.requests == [] and delivery.attempts == 1 and "not allowed" in delivery.error


# --- signing --------------------------------------------------------------------------------


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.signature("whsec_x", "1700000000", body) == expected
    header = "v1=" + expected
    assert webhooks.verify("whsec_x", "1700000000", body, header, now=1700000100)
    assert not webhooks.verify("whsec_x", "1700000000", body + b" ", header, now=1700000100)
    assert not webhooks.verify("whsec_y", "1700000000", body, header, now=1700000100)
    assert not webhooks.verify("whsec_x", "1700000000", body, header, now=1700001000), "too old"
    assert not webhooks.verify("whsec_x", "1700000000", body, header, now=1699999000), "from the future"


def test_the_readme_snippet_refuses_old_and_future_timestamps():
    """A receiver copying the README must refuse a replay re-dated into the future as well as an old one."""
    import hashlib
    import hmac
    import time

    body = b'{"a":1}'
    verify = readme_verify()
    for offset, accepted in ((0, True), (-100, True), (100, True), (-1000, False), (1000, False)):
        stamp = str(int(time.time()) + offset)
        header = "v1=" + hmac.new(b"whsec_x", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Kabinet-Timestamp": stamp, "Kabinet-Signature": header}
        assert verify("whsec_x", headers, body) is accepted, offset


def test_secrets_are_encrypted_at_rest(app, org):
    with app.app_context():
        hook, secret = endpoint(org, "https://example.com/h")
        stored = Webhook.get_by_id(hook.id).secret_encrypted
        assert secret not in stored and secret.startswith("whsec_")
        assert crypto.decrypt(stored, app.config) == secret


# --- emitting -------------------------------------------------------------------------------


def test_emit_queues_for_subscribed_enabled_endpoints_of_that_organization(app, org):
    from models import Organization

    other = Organization.create(name="Other")
    a, _ = endpoint(org, "https://a.example.com/", ["sign_in"])
    b, _ = endpoint(org, "https://b.example.com/", ["profile.changed"])
    c, _ = endpoint(org, "https://c.example.com/", ["sign_in"])
    Webhook.update(enabled=False).where(Webhook.id == c.id).execute()
    endpoint(other, "https://d.example.com/", ["sign_in"])
    assert webhooks.emit(org, "sign_in", {"user": 1}) == 1
    (delivery,) = deliveries()
    assert delivery.webhook_id == a.id and delivery.state == "pending"
    payload = json.loads(delivery.payload)
    assert payload["type"] == "sign_in" and payload["organization"] == org.id and payload["data"] == {"user": 1}


def test_emit_is_part_of_the_callers_transaction(app, org):
    endpoint(org, "https://a.example.com/")
    with pytest.raises(RuntimeError):
        with db.atomic():
            webhooks.emit(org, "sign_in", {})
            raise RuntimeError("the change failed")
    assert deliveries() == []


# --- delivering to a real receiver ----------------------------------------------------------


def test_a_delivery_is_signed_and_verifies_with_the_readme_snippet(app, cfg, org, receiver):
    hook, secret = endpoint(org, receiver.url)
    webhooks.emit(org, "profile.changed", {"fields": ["full_name"]})
    assert webhooks.deliver_due(cfg) == 1
    ((path, headers, body),) = receiver.requests
    assert path == "/hooks/" and headers["Content-Type"] == "application/json"
    assert headers["Kabinet-Event"] == "profile.changed"
    assert readme_verify()(secret, headers, body)
    assert not readme_verify()("whsec_wrong", headers, body)
    assert json.loads(body)["data"] == {"fields": ["full_name"]}
    (delivery,) = deliveries()
    assert (delivery.state, delivery.status_code, delivery.attempts) == ("delivered", 200, 1)
    assert delivery.duration_ms is not None and delivery.locked_until is None


def test_a_500_is_retried_with_exponential_backoff_then_marked_failed(app, cfg, org, receiver):
    receiver.mode = "500"
    endpoint(org, receiver.url)
    webhooks.emit(org, "sign_in", {})
    start = utcnow()
    webhooks.deliver_due(cfg)
    (d,) = deliveries()
    assert (d.state, d.attempts, d.status_code) == ("pending", 1, 500)
    assert timedelta(seconds=29) <= d.next_attempt_at - start <= timedelta(seconds=32)
    assert webhooks.deliver_due(cfg) == 0, "not due yet"
    webhooks.deliver_due(cfg, now=d.next_attempt_at + timedelta(seconds=1))
    (d,) = deliveries()
    assert d.attempts == 2 and timedelta(seconds=59) <= d.next_attempt_at - d.last_attempt_at <= timedelta(seconds=61)
    webhooks.deliver_due(cfg, now=d.next_attempt_at + timedelta(seconds=1))
    (d,) = deliveries()
    assert (d.state, d.attempts, d.next_attempt_at) == ("failed", 3, None)
    assert len(receiver.requests) == 3
    assert len({h["Kabinet-Delivery"] for _p, h, _b in receiver.requests}) == 1, "the same delivery each time"
    assert webhooks.deliver_due(cfg, now=utcnow() + timedelta(days=1)) == 0


def test_a_receiver_that_recovers_gets_the_retry(app, cfg, org, receiver):
    receiver.mode = "500"
    endpoint(org, receiver.url)
    webhooks.emit(org, "sign_in", {})
    webhooks.deliver_due(cfg)
    receiver.mode = "ok"
    webhooks.deliver_due(cfg, now=utcnow() + timedelta(minutes=1))
    (d,) = deliveries()
    assert (d.state, d.attempts, d.status_code) == ("delivered", 2, 200)


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_a_hanging_receiver_costs_one_attempt_within_the_timeout(app, cfg, org, receiver, mode):
    receiver.mode = mode
    endpoint(org, receiver.url)
    webhooks.emit(org, "sign_in", {})
    started = time.monotonic()
    webhooks.deliver_due(cfg)
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"the worker was held {elapsed:.1f}s with WEBHOOK_TIMEOUT=1"
    (d,) = deliveries()
    assert (d.state, d.attempts, d.status_code) == ("pending", 1, None) and d.error


def test_redirects_are_not_followed(app, cfg, org, receiver):
    receiver.mode = "redirect"
    endpoint(org, receiver.url)
    webhooks.emit(org, "sign_in", {})
    webhooks.deliver_due(cfg)
    assert [p for p, _h, _b in receiver.requests] == ["/hooks/"]
    (d,) = deliveries()
    assert (d.state, d.status_code) == ("pending", 302)


def test_concurrent_workers_never_send_a_delivery_twice(app, cfg, org, receiver):
    cfg["WEBHOOK_TIMEOUT"] = 20  # a busy test machine must not turn this into a timeout test
    endpoint(org, receiver.url)
    for n in range(30):
        webhooks.emit(org, "sign_in", {"n": n})
    barrier = threading.Barrier(4)
    errors = []

    def worker():
        try:
            with db.connection_context():
                barrier.wait()
                webhooks.deliver_due(cfg)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    ids = [h["Kabinet-Delivery"] for _p, h, _b in receiver.requests]
    assert [(d.id, d.state, d.attempts, d.error) for d in deliveries() if d.state != "delivered"] == []
    assert len(ids) == 30 and len(set(ids)) == 30, "each delivery sent exactly once"
    assert {d.state for d in deliveries()} == {"delivered"} and {d.attempts for d in deliveries()} == {1}


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_its_lease(app, cfg, org, receiver):
    endpoint(org, receiver.url)
    webhooks.emit(org, "sign_in", {})
    assert len(webhooks.claim(cfg)) == 1  # a worker claimed it and died
    assert webhooks.claim(cfg) == [], "held while the lease runs"
    later = utcnow() + timedelta(seconds=webhooks.lease_seconds(cfg) + 1)
    webhooks.deliver_due(cfg, now=later)
    (d,) = deliveries()
    assert (d.state, d.attempts) == ("delivered", 2), "the lost attempt counts"


# --- pages --------------------------------------------------------------------------------


@pytest.fixture
def boss(client, owner, cfg):
    sign_in(client, "olga@example.com")
    return client


def create_via_page(client, url, events=("sign_in", "profile.changed")):
    return form_post(client, PAGE, {"url": url, "events": list(events), "enabled": "y"})


def test_create_an_endpoint_the_secret_is_shown_once(boss, org):
    response = create_via_page(boss, "https://example.com/hooks")
    assert response.status_code == 201
    secret = re.search(r'id="webhook-secret">(whsec_[\w+/=-]+)<', response.get_data(as_text=True)).group(1)
    hook = Webhook.get()
    assert hook.organization_id == org.id and hook.events == "profile.changed sign_in"
    assert crypto.decrypt(hook.secret_encrypted, boss.application.config) == secret
    assert secret not in boss.get(PAGE).get_data(as_text=True)
    assert secret not in boss.get(f"{PAGE}/{hook.id}").get_data(as_text=True)
    assert AuditEvent.select().where(AuditEvent.action == "webhook.created").count() == 1
    assert secret not in AuditEvent.get(AuditEvent.action == "webhook.created").details


@pytest.mark.parametrize("url,message", [
    ("https://user:secret@example.com/hook", "Leave the user name and password out of the URL"),
    ("ftp://example.com/hook", "Only http:// and https:// URLs"),
    ("http://10.0.0.1/hook", "private or local network"),
])
def test_bad_urls_are_refused_with_a_translated_422_and_nothing_saved(boss, owner, url, message):
    response = create_via_page(boss, url)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    User.update(language="ru").where(User.id == owner.id).execute()
    russian = create_via_page(boss, url).get_data(as_text=True)
    assert any(word in russian for word in ("Не указывайте имя", "только на адреса http", "частной или локальной"))
    assert Webhook.select().count() == 0


def test_unknown_event_types_are_refused(boss):
    response = create_via_page(boss, "https://example.com/h", events=("sign_in", "everything"))
    assert response.status_code == 422 and "Unknown event type" in response.get_data(as_text=True)
    assert create_via_page(boss, "https://example.com/h", events=()).status_code == 422
    assert Webhook.select().count() == 0


def test_htmx_create_swaps_the_form_and_the_list(boss):
    response = htmx_post(boss, PAGE, {"url": "https://example.com/h", "events": "sign_in"}, PAGE)
    html = response.get_data(as_text=True)
    assert response.status_code == 201 and "<html" not in html
    assert 'id="hooks" hx-swap-oob="true"' in html and "whsec_" in html


def test_send_test_event_delivers_and_shows_in_the_log(boss, org, receiver):
    hook, secret = endpoint(org, receiver.url, ["sign_in"])
    response = form_post(boss, f"{PAGE}/{hook.id}/test", {}, page=f"{PAGE}/{hook.id}")
    assert response.status_code == 303
    ((_path, headers, body),) = receiver.requests
    assert headers["Kabinet-Event"] == "webhook.test" and readme_verify()(secret, headers, body)
    page = boss.get(f"{PAGE}/{hook.id}").get_data(as_text=True)
    assert "The test event was delivered: HTTP 200" in page
    assert re.search(r'<tr id="delivery-\d+" class="delivery delivered">', page)


def test_a_failing_test_event_says_so_and_stays_queued(boss, org, receiver):
    receiver.mode = "500"
    hook, _secret = endpoint(org, receiver.url)
    form_post(boss, f"{PAGE}/{hook.id}/test", {}, page=f"{PAGE}/{hook.id}")
    page = boss.get(f"{PAGE}/{hook.id}").get_data(as_text=True)
    assert "The test event was not delivered (HTTP 500)" in page
    assert WebhookDelivery.get().state == "pending"


def test_edit_rotate_and_delete(boss, org):
    hook, old = endpoint(org, "https://example.com/h")
    response = form_post(boss, f"{PAGE}/{hook.id}", {"url": "https://example.com/new", "events": "sign_in"})
    assert response.status_code == 303
    hook = Webhook.get_by_id(hook.id)
    assert (hook.url, hook.events, hook.enabled) == ("https://example.com/new", "sign_in", False)
    bad = form_post(boss, f"{PAGE}/{hook.id}", {"url": "https://a:b@example.com/", "events": "sign_in"})
    assert bad.status_code == 422 and Webhook.get_by_id(hook.id).url == "https://example.com/new"
    rotated = form_post(boss, f"{PAGE}/{hook.id}/secret", {}, page=f"{PAGE}/{hook.id}")
    new = re.search(r'id="webhook-secret">(whsec_[\w+/=-]+)<', rotated.get_data(as_text=True)).group(1)
    assert new != old and crypto.decrypt(Webhook.get_by_id(hook.id).secret_encrypted, boss.application.config) == new
    assert form_post(boss, f"{PAGE}/{hook.id}/delete", {}, page=f"{PAGE}/{hook.id}").status_code == 303
    assert Webhook.select().count() == 0


def test_employees_are_refused_and_other_organizations_hooks_are_404(client, org, cfg):
    from models import Organization

    make_user(org)
    other = Organization.create(name="Other")
    theirs, _ = endpoint(other, "https://example.com/theirs")
    sign_in(client)
    assert client.get(PAGE).status_code == 403
    make_user(org, "olga@example.com", role="owner")
    boss = client.application.test_client()
    sign_in(boss, "olga@example.com")
    token = csrf_from(boss.get(PAGE).get_data(as_text=True))
    assert boss.get(f"{PAGE}/{theirs.id}").status_code == 404
    for action in ("", "/test", "/secret", "/delete"):
        assert boss.post(f"{PAGE}/{theirs.id}{action}", data={"csrf_token": token, "url": "https://x.example/",
                                                               "events": "sign_in"}).status_code == 404
    assert Webhook.get_by_id(theirs.id).url == "https://example.com/theirs"
    assert WebhookDelivery.select().count() == 0


# --- events from the rest of Kabinet ----------------------------------------------------------


def events_sent():
    return [d.event for d in deliveries()]


def test_sign_in_profile_and_security_changes_emit_events(app, client, org, owner, cfg):
    endpoint(org, "https://example.com/h")
    sign_in(client, "olga@example.com")
    assert events_sent() == ["sign_in"]
    payload = json.loads(WebhookDelivery.get().payload)
    assert payload["data"]["user"] == {"id": owner.id, "email": "olga@example.com"}
    form_post(client, "/app/personal-data/field/full_name", {"full_name": "Olga N"}, page="/app/personal-data")
    assert events_sent()[-1] == "profile.changed"
    form_post(client, "/app/security/api-keys", {"name": "k", "scopes": "read"})
    assert events_sent()[-1] == "security.changed"
    key = apikeys.create_key(owner, "w", ["write"])[0]
    client.patch("/api/v1/me", json={"short_info": "hi"}, headers={"Authorization": f"Bearer {key}"})
    assert events_sent()[-1] == "profile.changed"
    assert json.loads(WebhookDelivery.select().order_by(WebhookDelivery.id.desc()).get().payload)["data"]["via"] == "api"
    assert PASSWORD not in "".join(d.payload for d in deliveries())


def test_a_mail_server_status_flip_emits_an_event(app, org, owner, cfg):
    from services.mail_servers import store_result
    from services.smtp_probe import ProbeResult

    endpoint(org, "https://example.com/h", ["mail_server.status_changed"])
    server = MailServer.create(owner=owner, organization=org, host="smtp.example.com", port=587,
                               from_email="o@example.com", status="online")
    with app.app_context():
        store_result(MailServer.get_by_id(server.id), ProbeResult(True, None, 250, ""))
        assert events_sent() == [], "no change, no event"
        store_result(MailServer.get_by_id(server.id), ProbeResult(False, "refused", None, "connection refused"))
    (d,) = deliveries()
    data = json.loads(d.payload)["data"]
    assert d.event == "mail_server.status_changed"
    assert data["mail_server"]["id"] == server.id and (data["previous"], data["status"]) == ("online", "offline")


def test_a_finished_data_export_emits_operation_finished(app, org, owner, cfg):
    from services import export

    endpoint(org, "https://example.com/h", ["operation.finished"])
    export.request_export(owner)
    with app.app_context():
        assert export.run_pending_exports() == 1
    assert events_sent() == ["operation.finished"], "exactly once, whether or not the list of operations exists"
    data = json.loads(WebhookDelivery.get().payload)["data"]
    assert data["status"] == "completed" and data["operation_kind"] == "data_export"


def test_the_webhooks_tab_shows_only_to_owners_and_administrators(client, org, owner, cfg):
    """Webhooks are the organization's Integrations (beside the API keys), not a tab of the person's Security."""
    make_user(org)
    sign_in(client)
    assert "/app/security/webhooks" not in client.get("/app/security/api-keys").get_data(as_text=True)
    boss = client.application.test_client()
    sign_in(boss, "olga@example.com")
    assert "/app/security/webhooks" in boss.get("/app/security/api-keys").get_data(as_text=True)
    assert "/app/security/webhooks" not in boss.get("/app/security/").get_data(as_text=True)


def test_every_audit_mapping_names_a_known_event_type():
    assert set(webhooks.AUDIT_EVENTS.values()) <= set(webhooks.EVENT_TYPES)
    assert not any(action.endswith((".failed", "_failed")) for action in webhooks.AUDIT_EVENTS), "failures are no change"


def test_two_factor_changes_emit_security_changed(app, client, org, owner, cfg):
    from tests.security_helpers import setup_totp

    endpoint(org, "https://example.com/h", ["security.changed"])
    sign_in(client, "olga@example.com")
    setup_totp(client)
    data = json.loads(WebhookDelivery.get().payload)["data"]
    assert events_sent() == ["security.changed"] and data["action"] == "2fa.enabled" and data["method"] == "totp"

"""Webhooks an integrator can debug: every attempt's request and answer kept with its delivery, the
delivery page, "Send again", secret rotation with an overlap (both secrets sign) and the Standard
Webhooks headers, checked with the `standardwebhooks` package against real deliveries."""
import json
import re
from datetime import timedelta

import pytest
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from models import Organization, Webhook, WebhookAttempt, WebhookDelivery, utcnow
from services import crypto, webhooks
from tests.conftest import form_post, make_user, sign_in
from tests.test_webhooks import PAGE, endpoint, readme_verify

TEST_CONFIG = {"SECRET_KEY": "test-secret"}


@pytest.fixture
def cfg(app):
    app.config.update(WEBHOOK_ALLOWED_PRIVATE="127.0.0.1", WEBHOOK_TIMEOUT=2, WEBHOOK_RETRY_SECONDS=30,
                      WEBHOOK_MAX_ATTEMPTS=3)
    return app.config


@pytest.fixture
def receiver():
    from tests.webhook_receiver import receiver_on_localhost

    with receiver_on_localhost() as receiver:
        yield receiver


@pytest.fixture
def boss(client, org, cfg):
    make_user(org, "olga@example.com", role="owner", full_name="Olga Owner")
    sign_in(client, "olga@example.com")
    return client


def send_all(cfg, now=None):
    return webhooks.deliver_due(cfg, now=now)


def test_every_attempt_keeps_the_request_and_the_answer(app, cfg, org, receiver):
    hook, _secret = endpoint(org, receiver.url)
    receiver.mode, receiver.answer = "500", b'{"error": "database down"}'
    webhooks.emit(org, "profile.changed", {"fields": ["full_name"]})
    assert send_all(cfg) == 1
    receiver.mode, receiver.answer = "ok", b"x" * 10_000
    assert send_all(cfg, now=utcnow() + timedelta(minutes=5)) == 1
    (delivery,) = WebhookDelivery.select()
    first, second = WebhookAttempt.select().order_by(WebhookAttempt.number)
    assert (first.number, first.status_code, first.error) == (1, 500, "HTTP 500")
    assert first.response_body == '{"error": "database down"}'
    assert ["X-Receiver", "kabinet-tests"] in json.loads(first.response_headers)
    sent = dict(json.loads(first.request_headers))
    assert sent["Kabinet-Delivery"] == str(delivery.id) and sent["Host"].startswith("127.0.0.1:")
    assert sent["Kabinet-Signature"].startswith("v1=") and sent["webhook-signature"].startswith("v1,")
    assert (second.status_code, second.error) == (200, "")
    assert len(second.response_body) == 4096  # the first 4 KB of the answer
    assert first.duration_ms is not None and second.duration_ms is not None
    assert delivery.state == "delivered" and delivery.attempts == 2


def test_a_refused_target_is_an_attempt_without_an_answer(app, cfg, org, receiver):
    hook, _secret = endpoint(org, receiver.url)
    cfg["WEBHOOK_ALLOWED_PRIVATE"] = ""
    webhooks.emit(org, "profile.changed", {})
    send_all(cfg)
    (attempt,) = WebhookAttempt.select()
    assert attempt.status_code is None and "not allowed" in attempt.error and not receiver.requests


def test_attempts_are_kept_as_long_as_their_delivery(app, cfg, org, receiver):
    endpoint(org, receiver.url)
    webhooks.emit(org, "profile.changed", {})
    send_all(cfg)
    assert WebhookAttempt.select().count() == 1
    cfg["WEBHOOK_KEEP_DAYS"] = 30
    assert webhooks.purge_old_deliveries(cfg) == 0 and WebhookAttempt.select().count() == 1
    WebhookDelivery.update(created_at=utcnow() - timedelta(days=31)).execute()
    assert webhooks.purge_old_deliveries(cfg) == 1
    assert WebhookAttempt.select().count() == 0 and WebhookDelivery.select().count() == 0


def test_the_standardwebhooks_package_verifies_a_real_delivery(app, cfg, org, receiver):
    hook, secret = endpoint(org, receiver.url)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)  # 32 bytes, standard base64
    webhooks.emit(org, "sign_in", {"user": {"id": 1}})
    send_all(cfg)
    ((_path, headers, body),) = receiver.requests
    payload = StandardWebhook(secret).verify(body, headers)
    assert payload["type"] == "sign_in" and headers["webhook-id"] == payload["id"]
    assert headers["webhook-timestamp"] == headers["Kabinet-Timestamp"]
    assert readme_verify()(secret, headers, body)  # today's headers beside them
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(webhooks.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(secret).verify(body.replace(b"sign_in", b"sign_up"), headers)


def test_a_retry_keeps_the_webhook_id(app, cfg, org, receiver):
    endpoint(org, receiver.url)
    receiver.mode = "500"
    webhooks.emit(org, "sign_in", {})
    send_all(cfg)
    receiver.mode = "ok"
    send_all(cfg, now=utcnow() + timedelta(minutes=5))
    first, second = (headers for _path, headers, _body in receiver.requests)
    assert first["webhook-id"] == second["webhook-id"] and first["Kabinet-Delivery"] == second["Kabinet-Delivery"]


def rotate(client, hook, overlap):
    return form_post(client, f"{PAGE}/{hook.id}/secret", {"overlap": overlap}, page=f"{PAGE}/{hook.id}")


def shown_secret(response):
    return re.search(r'id="webhook-secret">(whsec_[\w+/=-]+)<', response.get_data(as_text=True)).group(1)


def test_rotating_with_an_overlap_signs_with_both_secrets_until_it_ends(app, boss, cfg, org, receiver):
    hook, old = endpoint(org, receiver.url)
    response = rotate(boss, hook, "24")
    assert response.status_code == 200
    new = shown_secret(response)
    assert "The old one signs beside it until" in response.get_data(as_text=True)
    assert "The previous secret signs beside the current one until" in boss.get(f"{PAGE}/{hook.id}").get_data(as_text=True)
    webhooks.emit(org, "sign_in", {})
    send_all(cfg)
    (_path, headers, body) = receiver.requests[-1]
    assert len(re.findall(r"v1=[0-9a-f]{64}", headers["Kabinet-Signature"])) == 2
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):  # a receiver on either secret accepts it, with either scheme
        assert readme_verify()(secret, headers, body) and webhooks.verify(
            secret, headers["Kabinet-Timestamp"], body, headers["Kabinet-Signature"])
        StandardWebhook(secret).verify(body, headers)
    Webhook.update(previous_secret_until=utcnow() - timedelta(seconds=1)).execute()  # the overlap is over
    webhooks.emit(org, "sign_in", {})
    send_all(cfg)
    (_path, headers, body) = receiver.requests[-1]
    assert readme_verify()(new, headers, body) and not readme_verify()(old, headers, body)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(old).verify(body, headers)


def test_rotating_without_an_overlap_stops_the_old_secret_at_once(app, boss, cfg, org, receiver):
    hook, old = endpoint(org, receiver.url)
    response = rotate(boss, hook, "0")
    new = shown_secret(response)
    assert "The old one no longer signs." in response.get_data(as_text=True)
    assert Webhook.get_by_id(hook.id).previous_secret_encrypted == ""
    webhooks.emit(org, "sign_in", {})
    send_all(cfg)
    (_path, headers, body) = receiver.requests[-1]
    assert headers["Kabinet-Signature"].count("v1=") == 1
    assert readme_verify()(new, headers, body) and not readme_verify()(old, headers, body)


@pytest.mark.parametrize("overlap", ["5", "abc", "-24", "9" * 40])
def test_an_overlap_not_offered_is_refused(boss, org, overlap):
    hook, old = endpoint(org, "https://example.com/h")
    response = rotate(boss, hook, overlap)
    assert response.status_code == 422 and "Choose one of the listed periods." in response.get_data(as_text=True)
    assert crypto.decrypt(Webhook.get_by_id(hook.id).secret_encrypted, boss.application.config) == old


def test_the_delivery_page_and_send_again(app, boss, cfg, org, receiver):
    hook, _secret = endpoint(org, receiver.url)
    receiver.mode, receiver.answer = "500", b"<h1>Internal Server Error</h1>"
    webhooks.emit(org, "profile.changed", {"fields": ["full_name"]})
    send_all(cfg)
    (delivery,) = WebhookDelivery.select()
    detail = f"{PAGE}/{hook.id}/deliveries/{delivery.id}"
    assert f'href="{detail}"' in boss.get(f"{PAGE}/{hook.id}").get_data(as_text=True)  # linked from the log
    html = boss.get(detail).get_data(as_text=True)
    assert "Answer: HTTP 500" in html and "&lt;h1&gt;Internal Server Error&lt;/h1&gt;" in html  # escaped
    assert "X-Receiver: kabinet-tests" in html and "Kabinet-Signature: v1=" in html and "webhook-id: " in html
    assert "&#34;full_name&#34;" in html or "&quot;full_name&quot;" in html  # the request body
    receiver.mode, receiver.answer = "ok", b"thanks"
    response = form_post(boss, f"{detail}/again", {}, page=detail)
    assert response.status_code == 303
    again = WebhookDelivery.select().order_by(WebhookDelivery.id.desc()).get()
    assert again.id != delivery.id and again.payload == delivery.payload and again.state == "delivered"
    assert response.headers["Location"].endswith(f"{PAGE}/{hook.id}/deliveries/{again.id}")
    page = boss.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sent again and delivered: HTTP 200" in page and "thanks" in page
    assert receiver.requests[-1][2] == receiver.requests[0][2]  # the same event body
    assert WebhookDelivery.get_by_id(delivery.id).attempts == 1  # the original is left as it was


def test_another_organizations_delivery_is_404(app, boss, cfg, org):
    other = Organization.create(name="Other")
    their_hook, _ = webhooks.create_endpoint(other.id, None, "https://example.com/o", ["sign_in"], TEST_CONFIG)
    mine, _ = endpoint(org, "https://example.com/m")
    theirs = webhooks.queue_test(their_hook)
    assert boss.get(f"{PAGE}/{their_hook.id}/deliveries/{theirs.id}").status_code == 404
    assert boss.get(f"{PAGE}/{mine.id}/deliveries/{theirs.id}").status_code == 404  # not this endpoint's
    assert boss.get(f"{PAGE}/{mine.id}/deliveries/{2**70}").status_code == 404
    response = form_post(boss, f"{PAGE}/{mine.id}/deliveries/{theirs.id}/again", {}, page=f"{PAGE}/{mine.id}")
    assert response.status_code == 404 and WebhookDelivery.select().count() == 1


def test_the_delivery_page_in_russian(app, boss, cfg, org, receiver):
    from models import User

    User.update(language="ru").where(User.email == "olga@example.com").execute()
    hook, _secret = endpoint(org, receiver.url)
    webhooks.emit(org, "sign_in", {})
    send_all(cfg)
    html = boss.get(f"{PAGE}/{hook.id}/deliveries/{WebhookDelivery.get().id}").get_data(as_text=True)
    assert "Отправить ещё раз" in html and "Попытка 1" in html and "Заголовки запроса" in html
    page = boss.get(f"{PAGE}/{hook.id}").get_data(as_text=True)
    assert "Старый секрет подписывает ещё" in page

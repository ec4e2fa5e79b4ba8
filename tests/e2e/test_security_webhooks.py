"""Webhooks in Chromium, JavaScript on and off, English and Russian: a refused URL, then an endpoint on a
real receiver at 127.0.0.1, its secret read off the page, "Send test event", the signature checked with
that secret and the delivery in the log."""
import hashlib
import hmac

import pytest

from models import Organization
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page
from tests.webhook_receiver import receiver_on_localhost

TEXT = {
    "en": {"panel": "Integrations", "nav": "Webhooks", "add": "Add endpoint", "test": "Send test event", "refused": "Leave the user name",
           "delivered": "The test event was delivered: HTTP 200", "log": "Delivered"},
    "ru": {"panel": "Интеграции", "nav": "Вебхуки", "add": "Добавить адрес", "test": "Отправить тестовое событие",
           "refused": "Не указывайте имя пользователя", "delivered": "Тестовое событие доставлено: HTTP 200",
           "log": "Доставлено"},
}


@pytest.fixture
def config(config):
    return {**config, "WEBHOOK_ALLOWED_PRIVATE": "127.0.0.1", "WEBHOOK_TIMEOUT": 5}


@pytest.fixture
def receiver():
    with receiver_on_localhost() as receiver:
        yield receiver


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_add_an_endpoint_and_send_a_test_event(browser, live_server, receiver, js, lang):
    org = Organization.create(name="ООО «Тест»")
    make_user(org, language=lang, role="owner")
    text = TEXT[lang]
    page = new_page(browser, js, locale="ru-RU" if lang == "ru" else "en-US")
    sign_in_page(page, live_server)
    page.locator(".panel").get_by_role("link", name=text["panel"]).click()  # the organization's integrations
    page.wait_for_url("**/app/security/api-keys")
    page.get_by_role("link", name=text["nav"], exact=True).click()
    page.wait_for_url("**/app/security/webhooks")

    page.fill("#url", "https://user:secret@example.com/hook")
    page.click("#hook-form button[type=submit]")
    page.get_by_text(text["refused"]).wait_for()

    page.fill("#url", receiver.url)
    page.get_by_role("button", name=text["add"]).click()
    secret = page.locator("#webhook-secret").inner_text()
    assert secret.startswith("whsec_")
    page.locator("#hooks").get_by_role("link", name=receiver.url).click()
    page.wait_for_url("**/app/security/webhooks/*")
    assert secret not in page.content(), "the secret is shown once"

    page.get_by_role("button", name=text["test"]).click()
    page.get_by_text(text["delivered"]).wait_for()
    assert page.locator("#deliveries tr.delivered").count() == 1
    page.locator("#deliveries").get_by_text(text["log"]).wait_for()

    ((_path, headers, body),) = receiver.requests
    timestamp = headers["Kabinet-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["Kabinet-Signature"] == "v1=" + expected
    assert headers["Kabinet-Event"] == "webhook.test"
    assert page.csp_violations == []
    page.context.close()

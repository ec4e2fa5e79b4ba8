"""Service keys in Chromium, JavaScript on and off, English and Russian: an administrator opens the tab
under Integrations, makes a key limited to this machine, reads it off the page, charges the balance
with it, and revokes it; the list of operations shows a product's job with its counts. With
KABINET_SCREENSHOTS=<folder> the two pages are saved at 360 and 1280 px."""
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from models import Operation, Organization
from services.permissions import add_to_group, administrators_group
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page

TEXT = {
    "en": {"panel": "Integrations", "nav": "Service keys", "revoke": "Revoke", "revoked": "The service key “Mailer” is revoked",
           "name": "Give the key a name.", "counts": "4000 of 12000"},
    "ru": {"panel": "Интеграции", "nav": "Сервисные ключи", "revoke": "Отозвать", "revoked": "Сервисный ключ «Mailer» отозван",
           "name": "Дайте ключу название.", "counts": "4000 из 12000"},
}
SCREENSHOTS = os.environ.get("KABINET_SCREENSHOTS")


def charge(live_server, key):
    request = urllib.request.Request(f"{live_server.url}/api/v1/balance/charges", method="POST",
                                     data=json.dumps({"amount": "5.00", "description": "e2e"}).encode(),
                                     headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "e2e-1",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def shoot(page, name, lang):
    if not SCREENSHOTS:
        return
    Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=Path(SCREENSHOTS) / f"{name}-{width}-{lang}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_make_use_and_revoke_a_service_key(browser, live_server, js, lang):
    org = Organization.create(name="ООО «Тест»", balance=100)
    person = make_user(org, language=lang, role="owner")
    add_to_group(person, administrators_group(org))
    text = TEXT[lang]
    page = new_page(browser, js, locale="ru-RU" if lang == "ru" else "en-US")
    sign_in_page(page, live_server)
    page.locator(".panel").get_by_role("link", name=text["panel"]).click()
    page.locator(".tabs").get_by_role("link", name=text["nav"]).click()
    page.wait_for_url("**/app/security/service-keys")

    page.click("#service-key-form button[type=submit]")
    page.get_by_text(text["name"]).wait_for()
    page.fill("#name", "Mailer")
    page.check("#service-key-form input[value=write]")
    page.fill("#allowed_ips", "127.0.0.1\n::1")
    page.click("#service-key-form button[type=submit]")
    key = page.locator("#new-service-key").inner_text()
    assert key.startswith("kabs_")
    page.locator("#service-keys").get_by_text("Mailer").wait_for()
    assert charge(live_server, key)[0] == 201
    page.goto(f"{live_server.url}/app/security/service-keys")
    assert key not in page.content(), "the key is shown once"
    page.locator("#service-key-1").get_by_text("1", exact=True).wait_for()  # one use counted
    shoot(page, "service-keys", lang)
    page.locator("#service-keys").get_by_role("button", name=text["revoke"]).click()
    page.get_by_text(text["revoked"]).wait_for()
    assert charge(live_server, key)[0] == 401

    Operation.create(organization=org, kind="product", title="Import", status="running", progress=33, done=4000,
                     total=12000, status_line="Checking addresses")
    page.goto(f"{live_server.url}/app/operations")
    page.get_by_text(text["counts"]).wait_for()
    shoot(page, "operations", lang)
    page.context.close()

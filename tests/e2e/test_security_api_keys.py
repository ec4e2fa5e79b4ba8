"""API keys in Chromium, JavaScript on and off, English and Russian: create a key, read it off the page,
call the JSON API with it, then revoke it and see the API refuse it."""
import json
import urllib.error
import urllib.request

import pytest

from models import Organization
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page

TEXT = {
    "en": {"panel": "Integrations", "nav": "API keys", "create": "Create key", "revoke": "Revoke", "revoked": "The key “Robot” is revoked",
           "unknown": "Choose at least one scope."},
    "ru": {"panel": "Интеграции", "nav": "API-ключи", "create": "Создать ключ", "revoke": "Отозвать", "revoked": "Ключ «Robot» отозван",
           "unknown": "Выберите хотя бы одну область доступа."},
}


def api_get(live_server, path, key):
    request = urllib.request.Request(f"{live_server.url}{path}", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_create_a_key_use_it_and_revoke_it(browser, live_server, js, lang):
    org = Organization.create(name="ООО «Тест»")
    make_user(org, language=lang)
    text = TEXT[lang]
    page = new_page(browser, js, locale="ru-RU" if lang == "ru" else "en-US")
    sign_in_page(page, live_server)
    page.locator(".panel").get_by_role("link", name=text["panel"]).click()  # the organization's integrations
    page.wait_for_url("**/app/security/api-keys")
    page.locator(".tabs").get_by_role("link", name=text["nav"]).click()
    page.wait_for_url("**/app/security/api-keys")

    page.fill("#name", "Robot")
    page.uncheck("#api-key-form input[value=read]")
    page.click("#api-key-form button[type=submit]")
    page.get_by_text(text["unknown"]).wait_for()

    page.check("#api-key-form input[value=read]")
    page.click("#api-key-form button[type=submit]")
    key = page.locator("#new-api-key").inner_text()
    assert key.startswith("kab_")
    page.locator("#api-keys").get_by_text("Robot").wait_for()  # the list shows it (swapped in with htmx)

    status, body = api_get(live_server, "/api/v1/me", key)
    assert status == 200 and body["email"] == "anna@example.com"

    page.goto(f"{live_server.url}/app/security/api-keys")
    assert key not in page.content(), "the key is shown once"
    page.locator("#api-keys").get_by_role("button", name=text["revoke"]).click()
    page.get_by_text(text["revoked"]).wait_for()
    status, body = api_get(live_server, "/api/v1/me", key)
    assert status == 401 and body["code"] == "revoked"
    assert page.csp_violations == []
    page.context.close()

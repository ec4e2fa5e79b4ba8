"""The password page in Chromium (seeds 001, 002): reached from the personal-data page, the eye toggle,
a refused weak password kept at its field, the change saved; JavaScript on and off, Russian; screenshots
at 360 and 1280 px go to test-artifacts/screenshots/."""
from pathlib import Path

import pytest

from models import Organization, User
from services import passwords
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import new_page, sign_in_page

NEW_PASSWORD = "violet tractor umbrella 1987 sings"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def anna(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»", tin="7704123450", kpp="770401001", ogrn="1027704123457")
        return make_user(org, full_name="Anna Test")


def change_password(page, live_server, anna, labels):
    page.get_by_role("link", name=labels["link"]).first.click()
    page.wait_for_url("**/app/security/password")
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "qwertyuiop")
    page.fill("#repeat", "qwertyuiop")
    page.get_by_role("button", name=labels["button"]).click()
    page.locator("#new_password-error").get_by_text(labels["weak"]).wait_for()
    assert passwords.verify_password(User.get_by_id(anna.id).password_hash, PASSWORD)
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#repeat", NEW_PASSWORD)
    page.get_by_role("button", name=labels["button"]).click()
    page.get_by_text(labels["done"]).wait_for()
    assert passwords.verify_password(User.get_by_id(anna.id).password_hash, NEW_PASSWORD)


def test_change_with_javascript_and_the_eye(page, live_server, anna):
    sign_in_page(page, live_server)
    page.get_by_role("link", name="Change password").first.click()
    page.wait_for_url("**/app/security/password")
    page.fill("#new_password", NEW_PASSWORD)
    page.locator("[data-toggle-password=new_password]").click()
    assert page.get_attribute("#new_password", "type") == "text"
    page.goto(f"{live_server.url}/app/personal-data")
    change_password(page, live_server, anna, {"link": "Change password", "button": "Change password",
                                              "weak": "too easy to guess", "done": "Your password has been changed."})


def test_change_without_javascript_in_russian(browser, live_server, anna):
    with live_server.app.app_context():
        User.update(language="ru").where(User.id == anna.id).execute()
    page = new_page(browser, java_script_enabled=False, locale="ru-RU")
    try:
        sign_in_page(page, live_server)
        change_password(page, live_server, anna, {"link": "Сменить пароль", "button": "Сменить пароль",
                                                  "weak": "Этот пароль слишком легко угадать",
                                                  "done": "Пароль изменён"})
    finally:
        page.context.close()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_screenshots_nothing_scrolls_sideways(browser, live_server, anna, language):
    with live_server.app.app_context():
        User.update(language=language).where(User.id == anna.id).execute()
    page = new_page(browser)
    try:
        sign_in_page(page, live_server)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width in (360, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/app/security/password")
            page.screenshot(path=str(SHOTS / f"security-password-{language}-{width}.png"), full_page=True)
            wide = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(
                e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)""")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
    finally:
        page.context.close()

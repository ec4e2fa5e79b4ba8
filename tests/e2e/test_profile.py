"""The personal-data page in Chromium: autosave, the phone code popup, the password dialog, JS on and off, Russian."""
import json
import re
from pathlib import Path

import pytest

from models import Organization, User
from services import passwords
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import new_page, sign_in_page

NEW_PASSWORD = "violet tractor umbrella 1987 sings"


@pytest.fixture
def anna(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»", tin="7704123450", kpp="770401001", ogrn="1027704123457", balance="1234.50")
        return make_user(org, full_name="")


def fresh(user):
    return User.get_by_id(user.id)


def sms_code(live_server, count=1):
    path = Path(live_server.app.config["INSTANCE_PATH"]) / "sms-outbox.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == count
    return re.search(r"\b(\d{6})\b", json.loads(lines[-1])["text"]).group(1)


def test_autosave_updates_the_top_bar_without_a_reload(page, live_server, anna):
    sign_in_page(page, live_server)
    assert page.locator("#topbar-label").inner_text() == "anna@example.com"
    page.evaluate("window.notReloaded = true")
    page.locator("#full_name").press_sequentially("Мария <b>Сидорова</b>", delay=20)
    page.locator("#full_name-state").get_by_text("Saved").wait_for()
    page.locator("#topbar-label").get_by_text("Мария <b>Сидорова</b>").wait_for()
    assert page.locator("#profile-title").inner_text() == "Мария <b>Сидорова</b>"  # escaped, shown as typed
    assert page.evaluate("window.notReloaded") is True
    assert page.input_value("#full_name") == "Мария <b>Сидорова</b>"
    assert fresh(anna).full_name == "Мария <b>Сидорова</b>"
    # An error shows next to the field and keeps the input.
    page.fill("#full_name", "")
    page.locator("#full_name-state").get_by_text("Enter your name.").wait_for()
    assert page.get_attribute("#full_name", "aria-describedby") == "full_name-state"
    assert fresh(anna).full_name == "Мария <b>Сидорова</b>"
    page.fill("#short_info", "Team lead")
    page.locator("#short_info-state").get_by_text("Saved").wait_for()
    assert fresh(anna).short_info == "Team lead"


def test_autosave_without_javascript(page_nojs, live_server, anna):
    page = page_nojs
    sign_in_page(page, live_server)
    page.fill("#full_name", "Мария Сидорова")
    page.locator("form.autosave", has=page.locator("#full_name")).get_by_role("button", name="Save").click()
    page.get_by_text("Saved.").wait_for()
    assert page.locator("#topbar-label").inner_text() == "Мария Сидорова"
    assert fresh(anna).full_name == "Мария Сидорова"


def test_bind_phone_through_the_code_popup(page, live_server, anna):
    sign_in_page(page, live_server)
    page.fill("#phone", "+7 912 345 67 89")
    page.get_by_role("button", name="Send a code").click()
    dialog = page.locator("dialog.code-dialog")
    dialog.wait_for()
    assert dialog.evaluate("d => d.open && d.matches(':modal')")
    dialog.locator("#code").fill("000000" if sms_code(live_server) != "000000" else "111111")
    dialog.get_by_role("button", name="Confirm").click()
    page.locator("dialog.code-dialog").get_by_text("Wrong code. Tries left: 4.").wait_for()
    page.locator("dialog.code-dialog #code").fill(sms_code(live_server))
    page.locator("dialog.code-dialog").get_by_role("button", name="Confirm").click()
    page.get_by_text("Your phone number +7 912 345-67-89 is confirmed.").wait_for()
    assert (fresh(anna).phone, fresh(anna).phone_verified) == ("+79123456789", True)


def test_bind_phone_without_javascript(page_nojs, live_server, anna):
    page = page_nojs
    sign_in_page(page, live_server)
    page.fill("#phone", "+7 912 345 67 89")
    page.get_by_role("button", name="Send a code").click()
    page.get_by_text("We sent a code to +7 912 345-67-89.").wait_for()
    page.fill("#code", sms_code(live_server))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Your phone number +7 912 345-67-89 is confirmed.").wait_for()
    assert fresh(anna).phone_verified


def test_password_change_dialog(page, live_server, anna):
    with live_server.app.app_context():
        User.update(phone="+79123456789", phone_verified=True).where(User.id == anna.id).execute()
    sign_in_page(page, live_server)
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url("**/app/personal-data/edit")
    page.fill("#full_name", "Anna Petrova")
    assert page.locator("[data-shown-when=new_password]").is_hidden()
    page.fill("#new_password", NEW_PASSWORD)
    page.locator("[data-shown-when=new_password]").wait_for(state="visible")
    page.locator("[data-toggle-password=new_password]").click()
    assert page.get_attribute("#new_password", "type") == "text"
    page.fill("#repeat", NEW_PASSWORD)
    page.get_by_role("button", name="Save").click()
    dialog = page.locator("dialog.confirm-dialog")
    dialog.wait_for()
    dialog.locator("#current_password").fill("not my password")
    dialog.get_by_role("button", name="Confirm and save").click()
    page.locator("dialog.confirm-dialog").get_by_text("The current password is not right.").wait_for()
    assert fresh(anna).full_name == ""
    page.locator("dialog.confirm-dialog #current_password").fill(PASSWORD)
    page.locator("dialog.confirm-dialog").get_by_role("button", name="Confirm and save").click()
    page.wait_for_url("**/app/personal-data")
    page.get_by_text("Your password has been changed.").wait_for()
    assert page.locator("#topbar-label").inner_text() == "Anna Petrova"
    assert passwords.verify_password(fresh(anna).password_hash, NEW_PASSWORD)


def test_password_change_without_javascript(page_nojs, live_server, anna):
    page = page_nojs
    with live_server.app.app_context():
        User.update(phone="+79123456789", phone_verified=True, full_name="Anna").where(User.id == anna.id).execute()
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/personal-data/edit")
    assert page.locator("#repeat").is_visible()  # always shown without JS
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#repeat", NEW_PASSWORD)
    page.get_by_role("button", name="Save").click()
    page.locator("#confirm-step").wait_for()
    page.fill("#current_password", PASSWORD)
    page.get_by_role("button", name="Confirm and save").click()
    page.wait_for_url("**/app/personal-data")
    page.get_by_text("Your password has been changed.").wait_for()
    assert passwords.verify_password(fresh(anna).password_hash, NEW_PASSWORD)


def test_the_page_in_russian(browser, live_server, anna):
    page = new_page(browser, True, locale="ru-RU")
    sign_in_page(page, live_server)
    page.get_by_role("heading", name="Личные данные").wait_for()
    assert page.locator("#balance").inner_text() == "1\u00a0234,50\u00a0₽"
    assert "Данные компании здесь не меняются" in page.content()
    page.fill("#full_name", "Мария")
    page.locator("#full_name-state").get_by_text("Сохранено").wait_for()
    page.fill("#full_name", "")
    page.locator("#full_name-state").get_by_text("Введите имя.").wait_for()
    assert page.csp_violations == []
    page.context.close()


def test_browser_time_zone_is_taken_on_first_visit(browser, live_server, anna):
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    with page.expect_response("**/app/personal-data/time-zone") as response:
        sign_in_page(page, live_server)
    assert response.value.status == 204
    assert fresh(anna).time_zone == "Asia/Tokyo"
    page.reload()
    assert page.locator("form[data-detect-time-zone]").count() == 0
    context.close()


def test_region_form_swaps_in_place(page, live_server, anna):
    sign_in_page(page, live_server)
    page.evaluate("window.notReloaded = true")
    page.locator("#region").get_by_role("link", name="Change").click()
    page.locator("#region select#country").wait_for()
    assert page.evaluate("window.notReloaded") is True
    page.select_option("#country", "RU")
    page.select_option("#language", "ru")  # while the country's zone list loads: it must stay chosen
    page.locator("#time_zone option[value='Asia/Vladivostok']").wait_for(state="attached")  # Russia's zones came
    assert page.input_value("#language") == "ru"
    page.locator("#region").get_by_role("button", name="Save").click()
    page.get_by_text("Язык и регион сохранены.").wait_for()
    assert fresh(anna).country == "RU"


def test_every_time_zone_an_area_at_a_time(page, live_server, anna):
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/personal-data/region")
    page.select_option("#language", "ru")
    page.locator("#region-zone").get_by_role("link", name="Asia").click()  # swaps the zone list only
    page.locator("#time_zone option[value='Asia/Tokyo']").wait_for(state="attached")
    assert page.input_value("#language") == "ru"  # the unsaved choice stayed
    page.select_option("#time_zone", "Asia/Tokyo")
    page.locator("#region").get_by_role("button", name="Save").click()
    page.get_by_text("Язык и регион сохранены.").wait_for()
    assert fresh(anna).time_zone == "Asia/Tokyo"
    assert page.csp_violations == []

"""Notifications in Chromium, JavaScript on and off, English and Russian (issue 7): the channel grid with its
disabled channels, the low-balance threshold, the bell and the live list of operations."""
import pytest
from playwright.sync_api import expect

from models import Organization
from services import operations
from services.notifications import preferences
from services.permissions import grant
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page

TEXT = {
    "en": {"saved": "Saved", "sms_reason": "Confirm a phone number first.", "save": "Save",
           "grid_saved": "Your notification choices have been saved.", "bad": "Enter an amount of zero or more",
           "completed": "Completed", "running": "In progress", "label": "Security (new sign-in, password or 2FA changed) E-mail"},
    "ru": {"saved": "Сохранено", "sms_reason": "Сначала подтвердите номер телефона.", "save": "Сохранить",
           "grid_saved": "Настройки уведомлений сохранены.", "bad": "Введите сумму не меньше нуля",
           "completed": "Завершена", "running": "Выполняется",
           "label": "Безопасность (новый вход, смена пароля или 2FA) Электронная почта"},
}


@pytest.fixture
def anna(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»", balance="1000.00")
        user = make_user(org)
        grant(user, "billing.view", "clients.view")
        return user


def set_language(user, language):
    user.language = language
    user.save()


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_the_grid_saves_each_box_and_explains_disabled_channels(browser, live_server, anna, js, language):
    set_language(anna, language)
    text = TEXT[language]
    page = new_page(browser, js, locale="ru-RU" if language == "ru" else "en-US")
    sign_in_page(page, live_server)
    sms = page.locator('[aria-labelledby="nt-row-security nt-col-sms"]')
    expect(sms).to_be_disabled()
    expect(page.locator("#nt-why-sms")).to_contain_text(text["sms_reason"])
    assert page.locator("#nt-why-sms a").get_attribute("href").endswith("#phone-section")
    box = page.get_by_role("checkbox", name=text["label"])
    expect(box).to_be_checked()
    box.uncheck()
    if js:
        expect(page.locator("#nt-state")).to_have_text(text["saved"])
        expect(page.locator("#notification-grid button[type=submit]")).to_be_hidden()
    else:
        page.locator("#notification-grid").get_by_role("button", name=text["save"]).click()
        page.wait_for_url("**/app/personal-data#notifications")
        expect(page.locator("#messages")).to_contain_text(text["grid_saved"])
    assert preferences(anna)[("security", "email")] is False
    page.reload()
    expect(page.get_by_role("checkbox", name=text["label"])).not_to_be_checked()
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_a_bad_threshold_is_refused_at_the_field_and_a_good_one_kept(browser, live_server, anna, js):
    page = new_page(browser, js)
    sign_in_page(page, live_server)
    page.fill("#nt-threshold", "-5")
    page.locator("#low-balance").get_by_role("button", name="Save").click()
    expect(page.locator("#nt-threshold-error")).to_contain_text(TEXT["en"]["bad"])
    expect(page.locator("#nt-threshold")).to_have_value("-5")
    page.fill("#nt-threshold", "250")
    page.locator("#low-balance").get_by_role("button", name="Save").click()
    if js:
        expect(page.locator("#low-balance")).to_contain_text("Saved: alert below")
    else:
        expect(page.locator("#messages")).to_contain_text("The low-balance alert has been saved.")
    page.reload()
    expect(page.locator("#nt-threshold")).to_have_value("250.00")
    page.context.close()


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_the_operations_list_follows_a_running_job_live(browser, live_server, anna, js, language):
    set_language(anna, language)
    text = TEXT[language]
    with live_server.app.test_request_context():
        job = operations.start_operation(anna, "client_import")
        operations.set_progress(job, 30)
    page = new_page(browser, js, locale="ru-RU" if language == "ru" else "en-US")
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/operations")
    row = page.locator(f"#operation-{job.id}")
    expect(row).to_contain_text(text["running"])
    expect(row).to_contain_text("30%")
    with live_server.app.test_request_context():
        operations.set_progress(job, 70)
        operations.finish_operation(job, result="2 client(s) imported.", result_url="/admin/clients")
    if not js:
        page.reload()  # without JavaScript the list is as fresh as the last load
    expect(row).to_contain_text(text["completed"], timeout=8000)
    expect(row).to_contain_text("100%")
    expect(page.locator("#operations")).not_to_have_attribute("hx-trigger", "every 2s")
    # the finished job's notification lights the bell (on the next page load, or by its poll)
    page.goto(f"{live_server.url}/app/notifications")
    expect(page.locator("#bell .bell-count")).to_have_text("2")  # the sign-in and the import
    page.locator("#feed").get_by_role("button").first.click()
    expect(page.locator("#feed li.unread")).to_have_count(0)
    expect(page.locator("#bell .bell-count")).to_have_count(0)
    assert page.csp_violations == []
    page.context.close()

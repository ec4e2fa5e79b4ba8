"""The organization's legal data in Chromium (issue 3: identifiers checked with their check digits where
they are entered): a wrong TIN is told at the field, the fixed data reaches the company card; JS on in
English, JS off in Russian."""
import pytest

from models import Organization
from services.permissions import grant
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page


@pytest.fixture
def manager(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»", tin="7704123450", kpp="770401001", ogrn="1027704123457",
                                  legal_address="Москва")
        user = make_user(org, full_name="Anna Test")
        grant(user, "billing.edit")
        return org


@pytest.mark.parametrize("js,locale,bad_tin,saved,entrepreneur", [
    (True, "en-US", "Enter a valid TIN", "The organization's data is saved.", "Individual entrepreneur"),
    (False, "ru-RU", "Введите правильный ИНН", "Данные организации сохранены.", "Индивидуальный предприниматель"),
], ids=["js-en", "nojs-ru"])
def test_entering_an_entrepreneurs_data_with_a_wrong_tin_first(browser, live_server, manager, js, locale, bad_tin,
                                                                saved, entrepreneur):
    page = new_page(browser, js, locale)
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/admin/organization")
    page.select_option("#legal_form", "ie")
    page.fill("#name", "ИП Петров П. П.")
    page.fill("#tin", "500123456751")  # the last check digit is wrong
    page.fill("#ogrnip", "304500100000125")
    page.locator("#organization-card button[type=submit]").click()
    page.locator("#tin-error").get_by_text(bad_tin).wait_for()
    assert page.input_value("#name") == "ИП Петров П. П."  # the input is kept
    with live_server.app.app_context():
        assert Organization.get_by_id(manager.id).legal_form == "llc"
    page.fill("#tin", "500123456750")
    page.locator("#organization-card button[type=submit]").click()
    page.get_by_text(saved).wait_for()
    page.goto(f"{live_server.url}/app/personal-data")
    card = page.locator("section[aria-labelledby=company-title]")
    card.get_by_text("304500100000125").wait_for()
    assert entrepreneur in card.inner_text() and "770401001" not in card.inner_text()
    assert page.csp_violations == []
    page.context.close()

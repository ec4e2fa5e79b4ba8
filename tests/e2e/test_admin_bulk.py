"""Bulk actions on the users list in Chromium, JavaScript on and off, English and Russian: tick people,
choose "Disable", read the confirmation (it passes the layout guard at every size), confirm."""
import pytest

from models import Organization, User
from services.permissions import add_to_group, administrators_group
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page
from tests.e2e.test_layout import measure

LABELS = {
    "en": {"action": "With the ticked people", "disable": "Disable", "continue": "Continue", "confirm": "Confirm",
           "changed": "Will be changed: 2", "done": "Disabled: 2."},
    "ru": {"action": "С отмеченными", "disable": "Отключить", "continue": "Продолжить", "confirm": "Подтвердить",
           "changed": "Будут изменены: 2", "done": "Отключены: 2."},
}


@pytest.fixture
def office(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»")
        admin = make_user(org, "boss@example.com", full_name="Boss Admin", role="owner")
        add_to_group(admin, administrators_group(org))
        return [make_user(org, f"w{i}@example.com", full_name=f"Петров-Водкин Константин {i}").id for i in range(3)]


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_tick_confirm_and_disable(browser, live_server, office, js, language):
    with live_server.app.app_context():
        User.update(language=language).execute()
    words = LABELS[language]
    page = new_page(browser, js, locale={"en": "en-US", "ru": "ru-RU"}[language])
    sign_in_page(page, live_server, "boss@example.com")
    page.goto(f"{live_server.url}/admin/users")
    for user_id in office[:2]:
        page.check(f'input[name="ids"][value="{user_id}"]')
    page.get_by_label(words["action"]).select_option("disable")
    page.get_by_role("button", name=words["continue"]).click()
    page.get_by_text(words["changed"]).wait_for()
    assert page.get_by_text("Петров-Водкин Константин 0").is_visible()
    problems = measure(page, "users-bulk", language, js=js)
    assert problems == [], problems
    page.get_by_role("button", name=words["confirm"]).click()
    page.get_by_text(words["done"]).wait_for()
    with live_server.app.app_context():
        assert [u.status for u in User.select().where(User.id.in_(office)).order_by(User.id)] == \
            ["disabled", "disabled", "enabled"]
    assert page.csp_violations == []

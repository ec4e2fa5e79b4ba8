"""The catalog of subscribable events in Chromium, JavaScript on and off, English and Russian: only the
events the person may see, ticked and saved."""
import pytest

from models import Organization, User, UserAdminSettings
from services.permissions import grant
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page

WORDS = {"en": ("User created", "Group permissions changed", "Save", "Your event subscriptions are saved."),
         "ru": ("Создан пользователь", "Изменены права группы", "Сохранить", "Подписки на события сохранены.")}


@pytest.fixture
def person(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»")
        user = make_user(org, "p@example.com", full_name="Pat")
        grant(user, "users.view")
        return user.id


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_subscribe(browser, live_server, person, js, language):
    with live_server.app.app_context():
        User.update(language=language).execute()
    created, group_changed, save, saved = WORDS[language]
    page = new_page(browser, js, locale={"en": "en-US", "ru": "ru-RU"}[language])
    sign_in_page(page, live_server, "p@example.com")
    page.goto(f"{live_server.url}/app/notifications/events")
    assert page.get_by_label(group_changed).count() == 0
    page.get_by_label(created).check()
    page.get_by_role("button", name=save).click()
    page.get_by_text(saved).wait_for()
    with live_server.app.app_context():
        assert UserAdminSettings.get_by_id(person).subscription_list == ["user.created"]

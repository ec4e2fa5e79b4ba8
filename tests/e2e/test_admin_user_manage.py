"""Name/e-mail change and deletion of a person in Chromium, JavaScript on and off, English and Russian;
the pages pass the layout guard at every size."""
import pytest

from models import Organization, User
from services.permissions import add_to_group, administrators_group
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page
from tests.e2e.test_layout import measure

WORDS = {"en": {"delete": "Delete user", "save": "Save", "deleted": "was deleted"},
         "ru": {"delete": "Удалить пользователя", "save": "Сохранить", "deleted": "удалён"}}


@pytest.fixture
def worker_id(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»")
        admin = make_user(org, "boss@example.com", full_name="Boss Admin", role="owner")
        add_to_group(admin, administrators_group(org))
        return make_user(org, "w@example.com", full_name="Петров-Водкин Константин Александрович").id


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_rename_then_delete(browser, live_server, worker_id, js, language):
    with live_server.app.app_context():
        User.update(language=language).execute()
    page = new_page(browser, js, locale={"en": "en-US", "ru": "ru-RU"}[language])
    sign_in_page(page, live_server, "boss@example.com")
    page.goto(f"{live_server.url}/admin/users/{worker_id}/identity")
    assert measure(page, "user-identity", language, js=js) == []
    page.fill("#full_name", "Walter White")
    page.get_by_role("button", name=WORDS[language]["save"]).click()
    page.wait_for_url(f"**/admin/users/{worker_id}")
    with live_server.app.app_context():
        assert User.get_by_id(worker_id).full_name == "Walter White"
    page.goto(f"{live_server.url}/admin/users/{worker_id}/delete")
    assert measure(page, "user-delete", language, js=js) == []
    page.locator("button.danger").click()
    page.get_by_text(WORDS[language]["deleted"]).first.wait_for()
    with live_server.app.app_context():
        assert User.get_or_none(User.id == worker_id) is None
    assert page.csp_violations == []

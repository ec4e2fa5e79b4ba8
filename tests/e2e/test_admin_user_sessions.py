"""A person's sessions on their back-office page in Chromium, JavaScript on and off: "End this one"
signs that browser out, "End all" the rest; the page passes the layout guard."""
import pytest

from models import Organization, User, UserSession
from services.permissions import add_to_group, administrators_group
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page
from tests.e2e.test_layout import measure


@pytest.fixture
def worker_id(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»")
        admin = make_user(org, "boss@example.com", full_name="Boss Admin", role="owner")
        add_to_group(admin, administrators_group(org))
        return make_user(org, "w@example.com", full_name="Walter Worker").id


def open_count(live_server, user_id):
    with live_server.app.app_context():
        return UserSession.select().where(UserSession.user == user_id, UserSession.ended_at.is_null()).count()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_end_one_then_all(browser, live_server, worker_id, js):
    first, second = new_page(browser, True), new_page(browser, True)
    sign_in_page(first, live_server, "w@example.com")
    sign_in_page(second, live_server, "w@example.com")
    admin = new_page(browser, js)
    sign_in_page(admin, live_server, "boss@example.com")
    admin.goto(f"{live_server.url}/admin/users/{worker_id}")
    assert admin.locator("#user-sessions tbody tr").count() == 2
    assert measure(admin, "admin-user-sessions", "en", js=js) == []
    admin.locator("#user-sessions").get_by_role("button", name="End this one").first.click()
    admin.get_by_text("The session has ended.").wait_for()
    assert admin.locator("#user-sessions tbody tr").count() == 1 and open_count(live_server, worker_id) == 1
    admin.locator("#user-sessions").get_by_role("button", name="End all").click()
    admin.get_by_text("Sessions ended: 1.").wait_for()
    assert open_count(live_server, worker_id) == 0
    first.goto(f"{live_server.url}/app/personal-data")
    assert "/login" in first.url
    assert admin.csp_violations == []

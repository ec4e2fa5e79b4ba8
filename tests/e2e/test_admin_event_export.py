"""The events log's downloads in Chromium, JavaScript on and off: the CSV link gives what the filters
show, with formula cells neutralised."""
from pathlib import Path

import pytest

from models import Organization
from services import audit
from services.permissions import add_to_group, administrators_group
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page


@pytest.fixture
def boss(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»")
        admin = make_user(org, "boss@example.com", full_name="Boss Admin", role="owner")
        add_to_group(admin, administrators_group(org))
        audit.record("user.created", actor=admin, target="=1+1", ip="203.0.113.5")
        audit.record("user.created", actor=admin, target="other@example.com", ip="198.51.100.1")
        return admin


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_filter_by_address_then_download_csv(browser, live_server, boss, js):
    page = new_page(browser, js)
    sign_in_page(page, live_server, "boss@example.com")
    page.goto(f"{live_server.url}/admin/events")
    page.get_by_role("link", name="203.0.113.5").first.click()
    page.wait_for_url("**ip=203.0.113.5**")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert "'=1+1" in text and "other@example.com" not in text

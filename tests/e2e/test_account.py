"""Organization account in Chromium, JavaScript on and off: invoice search, file upload, the deletion
grace period (issue 8)."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from models import DeletionRequest, Organization, StoredFile
from services import invoices
from services.permissions import grant
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import new_page, sign_in_page


@pytest.fixture
def anna(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»", tin="7704123450", kpp="770401001")
        make_user(org, "owner@example.com", role="owner")
        user = make_user(org)
        grant(user, "billing.view", "files.manage")
        start = date(2026, 1, 1)
        for i in range(30):
            day = start + timedelta(days=i)
            invoices.issue_invoice(org, Decimal("100") + i, day, day, issued_on=day)
        return user


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_invoice_search_and_pages(browser, live_server, anna, js):
    page = new_page(browser, js)
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/invoices")
    rows = page.locator("#invoice-results tbody tr")
    assert rows.count() == 20 and rows.first.locator("td").first.inner_text() == "2026-0030"
    page.get_by_role("link", name="Next page").click()
    page.get_by_role("link", name="First page").wait_for()
    expect(rows).to_have_count(10)
    assert rows.count() == 10 and rows.first.locator("td").first.inner_text() == "2026-0010"

    page.goto(f"{live_server.url}/app/account/invoices")
    page.fill("#q", "0017")
    if not js:
        page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)  # a locator wait: page.wait_for_function would need eval, which the CSP forbids
    assert rows.first.locator("td").first.inner_text() == "2026-0017"
    assert "q=0017" in page.url  # the search is in the address, so it can be shared and reloaded

    page.fill("#q", "' OR 1=1 --")
    if not js:
        page.get_by_role("button", name="Search").click()
    page.get_by_text("Invoice numbers have only letters").first.wait_for()
    expect(rows).to_have_count(0)
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_upload_download_and_refusal(browser, live_server, anna, js, tmp_path):
    good = tmp_path / "Договор.pdf"
    good.write_bytes(b"%PDF-1.4\n%%EOF\n")
    bad = tmp_path / "invoice.pdf"
    bad.write_bytes(b"MZ\x90\x00 not a pdf at all")
    page = new_page(browser, js)
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/files")
    page.set_input_files("#file", str(good))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_text("Uploaded Договор.pdf.").wait_for()
    link = page.get_by_role("link", name="Договор.pdf")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Договор.pdf"

    page.set_input_files("#file", str(bad))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_text("This type of file is not allowed").wait_for()
    with live_server.app.app_context():
        assert [f.name for f in StoredFile.select()] == ["Договор.pdf"]
    assert page.csp_violations == []
    page.context.close()


def test_drag_and_drop_upload(browser, live_server, anna):
    page = new_page(browser, True)
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/files")
    handle = page.evaluate_handle("""() => {
        const data = new DataTransfer();
        data.items.add(new File(["имя;e-mail\\n"], "list.csv", {type: "text/csv"}));
        return data;
    }""")
    page.dispatch_event("#upload-form", "dragover", {"dataTransfer": handle})
    page.dispatch_event("#upload-form", "drop", {"dataTransfer": handle})
    page.get_by_text("Uploaded list.csv.").wait_for()
    assert page.get_by_role("link", name="list.csv").is_visible()
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_deletion_grace_period_is_cancelled_by_signing_in(browser, live_server, anna, js):
    page = new_page(browser, js)
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/privacy")
    page.fill("#password", "wrong password here")
    page.check("#confirm")
    page.get_by_role("button", name="Delete my account").click()
    page.get_by_text("The password is not right.").wait_for()
    page.fill("#password", PASSWORD)
    if not page.is_checked("#confirm"):
        page.check("#confirm")
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url("**/login")
    page.get_by_text("Your account will be erased on").wait_for()
    with live_server.app.app_context():
        assert DeletionRequest.get().cancelled_at is None

    sign_in_page(page, live_server)
    page.get_by_text("Welcome back: your account will not be deleted.").wait_for()
    with live_server.app.app_context():
        assert DeletionRequest.get().cancelled_at is not None
    assert page.csp_violations == []
    page.context.close()


def test_russian_settlements_page(browser, live_server, anna):
    page = new_page(browser, True, locale="ru-RU")
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/invoices")
    assert page.locator("h1").inner_text() == "Расчёты"
    assert "₽" in page.locator("#invoice-results tbody tr").first.inner_text()
    assert page.csp_violations == []
    page.context.close()

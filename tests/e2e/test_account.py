"""Organization account in Chromium, JavaScript on and off: invoice search, file upload, the deletion
grace period (issue 8)."""
import io
import json
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from models import DeletionRequest, Organization, StoredFile
from services import export, files, invoices
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


@pytest.fixture
def manager(live_server):
    """Anna may edit billing and keep processing agreements; Boris may only look at billing."""
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»", legal_form="llc", tin="7704123450", kpp="770401001",
                                  legal_address="Москва, ул. Льва Толстого, 16", balance=Decimal("1234.50"))
        make_user(org, "owner@example.com", role="owner")
        anna = make_user(org)
        grant(anna, "billing.view", "billing.edit", "files.manage", "gdpr.manage")
        grant(make_user(org, "boris@example.com", language="ru"), "billing.view")
        files.save_upload(live_server.app.config, org.id, anna, io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "Договор № 12.pdf")
        return anna


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_billing_details_checked_at_the_field_then_saved(browser, live_server, manager, js):
    page = new_page(browser, js)
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/billing")
    page.fill("#tin", "7704123451")
    page.fill("#bik", "044525225")
    page.fill("#account_number", "40702810938000012345")
    page.get_by_role("button", name="Save").click()
    page.locator("#tin-error").get_by_text("Enter a valid TIN").wait_for()
    assert page.input_value("#account_number") == "40702810938000012345"  # the input is kept
    page.fill("#tin", "7704123450")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Billing details saved.").wait_for()
    with live_server.app.app_context():
        from models import BillingDetails

        assert BillingDetails.get().account_number == "40702810938000012345"
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_russian_bookkeeper_sees_details_read_only_with_the_manager_note(browser, live_server, manager, js):
    page = new_page(browser, js, locale="ru-RU")
    sign_in_page(page, live_server, email="boris@example.com")
    page.goto(f"{live_server.url}/app/account/billing")
    assert page.locator("h1").inner_text() == "Расчёты"
    page.get_by_text("обратитесь к своему менеджеру").wait_for()
    assert page.locator("#billing-card input[name=tin]").count() == 0
    assert "1\xa0234,50\xa0₽" in page.locator("#balance").inner_text()
    page.get_by_role("link", name="История баланса").first.click()
    page.wait_for_url("**/app/account/balance")
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_processing_agreement_added_with_a_document_edited_and_ended(browser, live_server, manager, js):
    page = new_page(browser, js)
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/gdpr")
    page.get_by_role("link", name="Add agreement").click()
    page.get_by_role("button", name="Save").click()
    page.locator("#processor-error").wait_for()  # required fields come back at the field
    page.fill("#processor", "ООО «Облако»")
    page.check("#is_subprocessing")
    page.fill("#purpose", "Хранение резервных копий")
    page.fill("#data_categories", "ФИО, e-mail")
    page.fill("#legal_basis", "Договор поручения № 12")
    page.fill("#starts_on", "2026-01-15")
    page.select_option("#document", label="Договор № 12.pdf")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Agreement with ООО «Облако» saved.").wait_for()
    row = page.locator("tbody tr", has_text="ООО «Облако»")
    assert "sub-entrustment" in row.inner_text() and "open-ended" in row.inner_text()
    with page.expect_download() as download:
        row.get_by_role("link", name="Договор № 12.pdf").click()
    assert download.value.suggested_filename == "Договор № 12.pdf"

    row.get_by_role("link", name="Edit").click()
    page.fill("#purpose", "Резервные копии и журналы")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Agreement with ООО «Облако» saved.").wait_for()
    assert "Резервные копии и журналы" in row.inner_text()
    if js:
        page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm
    row.get_by_role("button", name="End").click()
    page.get_by_text("Agreement with ООО «Облако» ended.").wait_for()
    assert "ended" in row.inner_text() and row.get_by_role("button", name="End").count() == 0
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_download_my_data_in_russian(browser, live_server, manager, js):
    page = new_page(browser, js, locale="ru-RU")
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/privacy")
    page.get_by_role("button", name="Подготовить мои данные").click()
    page.get_by_text("готовится").first.wait_for()
    with live_server.app.app_context():
        assert export.run_pending_exports(live_server.app.config) == 1
    if not js:
        page.reload()  # with JavaScript the list asks again by itself (every second in the tests)
    link = page.locator("#export-list a")
    link.wait_for(timeout=15_000)
    with page.expect_download() as download:
        link.click()
    archive = zipfile.ZipFile(download.value.path())
    assert json.loads(archive.read("data.json"))["person"]["email"] == "anna@example.com"
    assert any(name.endswith("Договор № 12.pdf") for name in archive.namelist())
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_russian_upload_refusals(browser, live_server, manager, js, tmp_path):
    disguised = tmp_path / "счёт.pdf"
    disguised.write_bytes(b"MZ\x90\x00 an executable")
    page = new_page(browser, js, locale="ru-RU")
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/app/account/files")
    page.set_input_files("#file", str(disguised))
    page.get_by_role("button", name="Загрузить", exact=True).click()
    page.locator("#file-error").get_by_text("Такой тип файла").wait_for()
    with live_server.app.app_context():
        assert [f.name for f in StoredFile.select()] == ["Договор № 12.pdf"]
    assert page.csp_violations == []
    page.context.close()

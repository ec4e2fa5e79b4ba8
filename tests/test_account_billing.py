"""Settlements (issue 8): billing details with check digits, invoices with search, PDF, statuses and
the balance history; each page behind its permission, other organizations' invoices 404."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from models import AuditEvent, BalanceEntry, BillingDetails, Invoice, Organization, db
from services import invoices
from services.permissions import grant
from tests.conftest import csrf_from, form_post, make_user, sign_in
from tests.races import hold_after, run_together

HTMX = {"HX-Request": "true"}
GOOD = {
    "name": "ООО «Тест»", "legal_form": "llc", "tin": "7704123450", "kpp": "770401001", "ogrn": "1027704123457",
    "legal_address": "Москва, ул. Льва Толстого, 16", "postal_address": "", "bank_name": "ПАО Сбербанк",
    "bik": "044525225", "account_number": "40702810938000012345", "correspondent_account": "30101810400000000225",
    "billing_email": "Buh@Example.com",
}


@pytest.fixture
def editor(client, org):
    user = make_user(org, "boss@example.com")
    grant(user, "billing.view", "billing.edit")
    sign_in(client, "boss@example.com")
    return client


@pytest.fixture
def viewer_client(app, org):
    """A second browser: someone who may only look at billing."""
    user = make_user(org, "look@example.com")
    grant(user, "billing.view")
    other = app.test_client()
    sign_in(other, "look@example.com")
    return other


@pytest.fixture
def viewer(client, org):
    user = make_user(org, "view@example.com")
    grant(user, "billing.view")
    sign_in(client, "view@example.com")
    return client


def make_invoices(org, n, start=date(2026, 1, 1), **kwargs):
    made = []
    for i in range(n):
        day = start + timedelta(days=i)
        made.append(invoices.issue_invoice(org, Decimal("1000.00") + i, day, day, issued_on=day, **kwargs))
    return made


def test_editor_saves_billing_details_and_the_change_is_audited(editor, org):
    response = form_post(editor, "/app/account/billing", GOOD)
    assert response.status_code == 303
    assert "Billing details saved." in editor.get(response.headers["Location"]).get_data(as_text=True)
    details = BillingDetails.get(BillingDetails.organization == org.id)
    assert details.account_number == "40702810938000012345" and details.billing_email == "buh@example.com"
    assert Organization.get_by_id(org.id).legal_address == "Москва, ул. Льва Толстого, 16"
    assert AuditEvent.get(AuditEvent.action == "billing.updated").target == "7704123450"


@pytest.mark.parametrize("field,value,message", [
    ("tin", "7704123451", "Enter a valid TIN"),
    ("kpp", "77040100", "Enter a valid KPP"),
    ("ogrn", "1027704123458", "Enter a valid OGRN"),
    ("bik", "12345", "Enter a valid BIC"),
    ("account_number", "40702810038000012345", "does not match the BIC"),
    ("correspondent_account", "30101810400000000226", "does not match the BIC"),
    ("billing_email", "not-an-address", "Enter a valid e-mail address"),
    ("name", "x" * 10_000, "At most 300 characters"),
    ("name", "", "This field is required"),
    ("tin", "500100732259", "A company has a 10-digit TIN"),
    ("ogrnip", "304500116000157", "OGRNIP is only for individual entrepreneurs"),
    ("legal_form", "plc", "Not a valid choice"),
])
def test_wrong_details_come_back_at_the_field_and_nothing_is_saved(editor, org, field, value, message):
    response = form_post(editor, "/app/account/billing", {**GOOD, field: value})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body
    assert f'id="{field}-error"' in body
    assert not BillingDetails.select().exists()
    assert Organization.get_by_id(org.id).name == "ООО «Тест»"


def test_htmx_save_answers_with_the_card_fragment(editor):
    token = csrf_from(editor.get("/app/account/billing").get_data(as_text=True))
    bad = editor.post("/app/account/billing", data={**GOOD, "tin": "123"}, headers={**HTMX, "X-CSRFToken": token})
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert "<html" not in body and 'id="billing-card"' in body and 'value="123"' in body
    good = editor.post("/app/account/billing", data=GOOD, headers={**HTMX, "X-CSRFToken": token})
    assert good.headers["HX-Redirect"] == "/app/account/billing"


def test_viewer_sees_details_read_only_with_the_manager_note_and_cannot_post(viewer, org):
    page = viewer.get("/app/account/billing").get_data(as_text=True)
    assert "contact your manager" in page and "7704123450" in page and 'name="tin"' not in page
    token = csrf_from(page)
    response = viewer.post("/app/account/billing", data={**GOOD, "csrf_token": token})
    assert response.status_code == 403
    assert not BillingDetails.select().exists()


def test_member_without_permission_gets_403_and_signed_out_goes_to_sign_in(client, org):
    make_user(org, "nobody@example.com")
    assert client.get("/app/account/invoices").status_code == 302
    sign_in(client, "nobody@example.com")
    for url in ("/app/account/billing", "/app/account/invoices", "/app/account/balance", "/app/account/files",
                "/app/account/gdpr", "/app/account/invoices/new"):
        assert client.get(url).status_code == 403, url
    assert client.get("/app/account/privacy").status_code == 200  # everyone's own data
    assert client.get("/app/account/").headers["Location"].endswith("/app/account/privacy")


def test_invoice_search_filters_and_keyset_pages(viewer, org):
    made = make_invoices(org, 45)
    invoices.set_status(made[3], "paid")
    page1 = viewer.get("/app/account/invoices").get_data(as_text=True)
    assert made[44].number in page1 and made[25].number in page1 and made[24].number not in page1
    next_url = page1.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    page2 = viewer.get(next_url).get_data(as_text=True)
    assert made[24].number in page2 and made[44].number not in page2 and "First page" in page2

    only_paid = viewer.get("/app/account/invoices?status=paid").get_data(as_text=True)
    assert made[3].number in only_paid and made[4].number not in only_paid
    by_number = viewer.get(f"/app/account/invoices?q={made[7].number}").get_data(as_text=True)
    assert made[7].number in by_number and made[8].number not in by_number
    by_dates = viewer.get("/app/account/invoices?date_from=2026-01-02&date_to=2026-01-03").get_data(as_text=True)
    assert made[1].number in by_dates and made[2].number in by_dates and made[3].number not in by_dates
    by_amount = viewer.get("/app/account/invoices?amount_min=1040&amount_max=1041.5").get_data(as_text=True)
    assert made[40].number in by_amount and made[41].number in by_amount and made[42].number not in by_amount


def test_search_answers_htmx_with_the_results_fragment(viewer, org):
    make_invoices(org, 2)
    response = viewer.get("/app/account/invoices?q=0002", headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="invoice-results"' in body
    assert "2026-0002" in body and "2026-0001" not in body


@pytest.mark.parametrize("query,message", [
    ("q=' OR 1=1 --", "Invoice numbers have only letters"),
    ("q=" + "9" * 10_000, "At most 40 characters"),
    ("amount_min=lots", "Not a valid decimal value"),
    ("date_from=2026-13-45", "Not a valid date value"),
    ("date_from=2026-03-01&date_to=2026-01-01", "The end date is before the start date"),
    ("status=stolen", "Not a valid choice"),
    ("amount_min=NaN", "Enter a number"),
    ("amount_max=-Infinity", "Enter a number"),
])
def test_bad_searches_get_a_message_and_no_rows(viewer, org, query, message):
    make_invoices(org, 1)
    response = viewer.get(f"/app/account/invoices?{query}")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body and "2026-0001</a>" not in body


def test_a_mangled_cursor_is_ignored(viewer, org):
    make_invoices(org, 1)
    assert "2026-0001" in viewer.get("/app/account/invoices?after=x.y").get_data(as_text=True)


def test_invoice_page_and_pdf_are_for_the_organization_only(viewer, org):
    invoice = make_invoices(org, 1)[0]
    other = Organization.create(name="Чужая")
    theirs = invoices.issue_invoice(other, "5.00", date(2026, 1, 1), date(2026, 1, 31))
    page = viewer.get(f"/app/account/invoices/{invoice.id}").get_data(as_text=True)
    assert "Invoice No. 2026-0001 of" in page and "RUB" in page and "1,000.00" in page
    pdf = viewer.get(f"/app/account/invoices/{invoice.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert viewer.get(f"/app/account/invoices/{theirs.id}").status_code == 404
    assert viewer.get(f"/app/account/invoices/{theirs.id}.pdf").status_code == 404


def test_russian_pdf_carries_cyrillic_text(client, org):
    user = make_user(org, "ru@example.com", language="ru")
    grant(user, "billing.view")
    invoice = make_invoices(org, 1)[0]
    sign_in(client, "ru@example.com")
    pdf = client.get(f"/app/account/invoices/{invoice.id}.pdf").data
    assert b"DejaVuSans" in pdf  # a font with Cyrillic glyphs is embedded
    # The text's ToUnicode map lists the letters of "Счёт" (С ч ё т), so the title is Russian, not boxes.
    assert all(code in pdf.upper() for code in (b"<0421>", b"<0447>", b"<0451>", b"<0442>"))
    page = client.get(f"/app/account/invoices/{invoice.id}").get_data(as_text=True)
    assert "Счёт на оплату № 2026-0001 от" in page


def test_issuing_an_invoice_and_paying_it_moves_the_balance_with_its_cause(editor, org):
    response = form_post(editor, "/app/account/invoices/new", {
        "number": "", "issued_on": "2026-02-01", "period_start": "2026-02-01", "period_end": "2026-02-28",
        "amount": "2500.50", "description": "Тариф «Стандарт»", "status": "issued"})
    assert response.status_code == 303
    invoice = Invoice.get()
    assert invoice.number == "2026-0001" and invoice.amount == Decimal("2500.50")
    response = form_post(editor, f"/app/account/invoices/{invoice.id}/status", {"status": "paid"},
                         page=f"/app/account/invoices/{invoice.id}")
    assert response.status_code == 303
    assert "is now Paid" in editor.get(response.headers["Location"]).get_data(as_text=True)
    org = Organization.get_by_id(org.id)
    assert org.balance == Decimal("3735.00")
    entry = BalanceEntry.get()
    assert entry.change == Decimal("2500.50") and entry.balance_after == Decimal("3735.00")
    history = editor.get("/app/account/balance").get_data(as_text=True)
    assert "Payment of invoice 2026-0001" in history
    # paid is final
    again = form_post(editor, f"/app/account/invoices/{invoice.id}/status", {"status": "cancelled"},
                      page=f"/app/account/invoices/{invoice.id}")
    assert "not possible" in editor.get(again.headers["Location"]).get_data(as_text=True)
    assert Invoice.get().status == "paid" and BalanceEntry.select().count() == 1


def test_issue_form_errors_and_duplicate_numbers(editor, org):
    make_invoices(org, 1)
    bad = form_post(editor, "/app/account/invoices/new", {
        "number": "2026-0001", "issued_on": "2026-02-01", "period_start": "2026-02-01", "period_end": "2026-02-28",
        "amount": "10", "status": "issued"})
    assert bad.status_code == 422 and "already exists" in bad.get_data(as_text=True)
    worse = form_post(editor, "/app/account/invoices/new", {
        "number": "", "issued_on": "", "period_start": "2026-02-10", "period_end": "2026-02-01",
        "amount": "-5", "status": "paid'"})
    body = worse.get_data(as_text=True)
    assert worse.status_code == 422 and "The period ends before it starts." in body
    assert Invoice.select().count() == 1


def test_viewer_cannot_issue_or_change_invoices(viewer, org):
    invoice = make_invoices(org, 1)[0]
    assert viewer.get("/app/account/invoices/new").status_code == 403
    response = form_post(viewer, f"/app/account/invoices/{invoice.id}/status", {"status": "paid"},
                         page=f"/app/account/invoices/{invoice.id}")
    assert response.status_code == 403 and Invoice.get().status == "issued"


def test_other_organizations_invoice_status_is_404(editor, org):
    other = Organization.create(name="Чужая")
    theirs = invoices.issue_invoice(other, "5.00", date(2026, 1, 1), date(2026, 1, 31))
    response = form_post(editor, f"/app/account/invoices/{theirs.id}/status", {"status": "paid"},
                         page="/app/account/invoices")
    assert response.status_code == 404 and Invoice.get_by_id(theirs.id).status == "issued"


def test_invoice_list_query_uses_the_organization_index(app, org):
    """DESIGN.md: lists use indexed queries; the plan names our composite index, not a scan."""
    from models import db

    query = Invoice.select().where(Invoice.organization == org.id).order_by(Invoice.issued_on.desc(),
                                                                           Invoice.id.desc()).limit(21)
    sql, params = query.sql()
    with db.connection_context():
        if db.obj.__class__.__name__.startswith("Sqlite") or "Sqlite" in type(db.obj).__name__:
            plan = " ".join(str(row) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
            assert "invoice_organization_id_issued_on_id" in plan or "invoice_organization_id_status" in plan
        else:
            db.execute_sql("SET enable_seqscan = off")
            plan = " ".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params).fetchall())
            db.execute_sql("SET enable_seqscan = on")
            assert "invoice_organization_id_issued_on_id" in plan


def test_ids_and_cursors_beyond_64_bits_are_404_or_ignored(viewer, org):
    make_invoices(org, 1)
    huge = "9" * 30
    assert viewer.get(f"/app/account/invoices/{huge}").status_code == 404
    assert viewer.get(f"/app/account/invoices/{huge}.pdf").status_code == 404
    assert viewer.get(f"/app/account/balance?before={huge}").status_code == 200
    assert "2026-0001" in viewer.get(f"/app/account/invoices?after=2026-01-01.{huge}").get_data(as_text=True)


def test_invoices_and_payments_notify_the_billing_people_only(app, org):
    """With the notifications area: "payments and invoices" goes to those who may see invoices."""
    from models import Notification

    boss = make_user(org, "boss@example.com")
    grant(boss, "billing.view")
    make_user(org, "clerk@example.com")
    with app.test_request_context():
        invoice = make_invoices(org, 1)[0]
        invoices.set_status(invoice, "paid")
    rows = list(Notification.select().where(Notification.category == "billing"))
    assert {row.user_id for row in rows} == {boss.id}
    assert sorted('"payment"' in row.data for row in rows) == [False, True]


ENTREPRENEUR = {**GOOD, "name": "ИП Иванов Иван Иванович", "legal_form": "ie", "tin": "500100732259", "kpp": "",
                "ogrn": "", "ogrnip": "304500116000157", "okved": ""}


def test_an_individual_entrepreneur_has_ogrnip_instead_of_kpp_and_ogrn(editor, viewer_client, org):
    """Seed 000: individual entrepreneurs have OGRNIP; companies KPP, OGRN and OKVED."""
    assert form_post(editor, "/app/account/billing", ENTREPRENEUR).status_code == 303
    saved = Organization.get_by_id(org.id)
    assert (saved.legal_form, saved.ogrnip, saved.kpp, saved.ogrn) == ("ie", "304500116000157", None, None)
    for field, value, message in [("kpp", "770401001", "Individual entrepreneurs have no KPP"),
                                  ("ogrn", "1027704123457", "fill in OGRNIP instead"),
                                  ("ogrnip", "304500116000158", "Enter a valid OGRNIP"),
                                  ("tin", "7704123450", "An individual entrepreneur has a 12-digit TIN")]:
        response = form_post(editor, "/app/account/billing", {**ENTREPRENEUR, field: value})
        assert response.status_code == 422 and message in response.get_data(as_text=True), field
    assert Organization.get_by_id(org.id).ogrnip == "304500116000157"
    page = viewer_client.get("/app/account/billing").get_data(as_text=True)
    assert "OGRNIP" in page and "304500116000157" in page and "Individual entrepreneur" in page
    assert ">KPP<" not in page


def test_company_details_show_okved_read_only(viewer, org):
    Organization.update(okved="62.01 Разработка ПО").where(Organization.id == org.id).execute()
    page = viewer.get("/app/account/billing").get_data(as_text=True)
    assert "OKVED" in page and "62.01 Разработка ПО" in page and "Limited liability company" in page


@pytest.mark.parametrize("tariff,balance,text", [
    ("standard", Decimal("1234.50"), "1,234.50"),
    ("standard", None, "The balance is not configured yet."),
    ("corporate", Decimal("1234.50"), "corporate tariff"),
    ("prepaid", Decimal("1234.50"), "prepaid plan"),
])
def test_balance_follows_the_tariff_as_on_the_personal_data_page(viewer, org, tariff, balance, text):
    """Seed 000 "Why is balance not displayed?": corporate tariff, not configured, prepaid plan."""
    Organization.update(tariff=tariff, balance=balance).where(Organization.id == org.id).execute()
    for url in ("/app/account/billing", "/app/account/balance"):
        assert text in viewer.get(url).get_data(as_text=True), url


def test_automatic_numbers_skip_numbers_typed_by_hand(org):
    invoices.issue_invoice(org, "10", date(2026, 1, 1), date(2026, 1, 31), number="2026-0002")
    first = invoices.issue_invoice(org, "10", date(2026, 2, 1), date(2026, 2, 28), issued_on=date(2026, 2, 1))
    second = invoices.issue_invoice(org, "10", date(2026, 3, 1), date(2026, 3, 31), issued_on=date(2026, 3, 1))
    assert (first.number, second.number) == ("2026-0003", "2026-0004")  # after the last, never a taken one


def test_two_invoices_issued_at_once_get_consecutive_numbers(app, org, monkeypatch):
    """SECURITY issue item 5: numbering reads the numbers taken, then inserts. Both invoices are issued,
    numbered one after the other; neither fails."""
    hold_after(monkeypatch, invoices, "next_number")

    def issue():
        with app.test_request_context(), db.connection_context():
            return invoices.issue_invoice(org, "10", date(2026, 1, 1), date(2026, 1, 31), issued_on=date(2026, 2, 1)).number

    assert sorted(run_together(issue, issue)) == ["2026-0001", "2026-0002"]
    assert [i.number for i in Invoice.select().order_by(Invoice.number)] == ["2026-0001", "2026-0002"]


def test_a_number_taken_meanwhile_is_a_message_not_a_500(editor, org, monkeypatch):
    """Two operators issuing at once: the unique index catches the second; it gets the form back."""
    create = Invoice.create

    def racing_create(**values):
        Invoice.insert(organization=org.id, number=values["number"], issued_on=values["issued_on"],
                       period_start=values["period_start"], period_end=values["period_end"], amount=1).execute()
        return create(**values)

    monkeypatch.setattr(Invoice, "create", racing_create)
    response = form_post(editor, "/app/account/invoices/new", {
        "number": "", "issued_on": "2026-02-01", "period_start": "2026-02-01", "period_end": "2026-02-28",
        "amount": "10", "status": "issued"})
    assert response.status_code == 422 and "already exists" in response.get_data(as_text=True)
    assert Invoice.select().count() == 0 and not AuditEvent.select().where(AuditEvent.action == "invoice.issued").exists()


def test_balance_history_pages_follow_the_time_order_even_when_ids_do_not(viewer, org):
    """Entries written late for an earlier time (a back-dated payment) land in their place, and paging
    shows each entry once."""
    from datetime import datetime

    for i in range(25):  # ids grow while times go back: the newest entry has the lowest id
        invoices.change_balance(org.id, Decimal(i + 1), f"cause {i:02d}", at=datetime(2026, 3, 1) - timedelta(hours=i))
    first = viewer.get("/app/account/balance").get_data(as_text=True)
    next_url = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = viewer.get(next_url).get_data(as_text=True)
    seen = [f"cause {i:02d}" for i in range(25)]
    assert [c for c in seen if c in first] == seen[:20] and [c for c in seen if c in second] == seen[20:]
    assert first.index("cause 00") < first.index("cause 19")

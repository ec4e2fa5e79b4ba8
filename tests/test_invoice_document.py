"""Invoices as real documents («Счёт на оплату»): the operator's requisites from INVOICE_SELLER_* checked
with their check digits, the buyer's, line items (and the migration that gives old invoices one), VAT,
the total in words in Russian and English, the PDF named by the number, the print view in both languages."""
import os
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest

from app import create_app
from models import Invoice, InvoiceLine, User
from services import invoice_document, invoices
from services.amount_words import amount_in_words, russian_plural
from services.permissions import grant
from tests.conftest import make_user, sign_in

SELLER = {
    "INVOICE_SELLER_NAME": "ООО «Кабинет Сервис»", "INVOICE_SELLER_INN": "7709876545",
    "INVOICE_SELLER_KPP": "770901001", "INVOICE_SELLER_ADDRESS": "105064, г. Москва, ул. Земляной Вал, д. 9",
    "INVOICE_SELLER_BANK": "ПАО Сбербанк, г. Москва", "INVOICE_SELLER_BIC": "044525225",
    "INVOICE_SELLER_CORR_ACCOUNT": "30101810400000000225", "INVOICE_SELLER_ACCOUNT": "40702810700000067890",
    "INVOICE_SELLER_DIRECTOR": "Иванов И. И.", "INVOICE_SELLER_ACCOUNTANT": "Петрова А. С.",
}


@pytest.mark.parametrize("amount,russian,english", [
    ("1200", "Одна тысяча двести рублей 00 копеек", "One thousand two hundred roubles 00 kopecks"),
    ("1", "Один рубль 00 копеек", "One rouble 00 kopecks"),
    ("2.01", "Два рубля 01 копейка", "Two roubles 01 kopeck"),
    ("5.05", "Пять рублей 05 копеек", "Five roubles 05 kopecks"),
    ("11.11", "Одиннадцать рублей 11 копеек", "Eleven roubles 11 kopecks"),
    ("21.22", "Двадцать один рубль 22 копейки", "Twenty-one roubles 22 kopecks"),
    ("112.14", "Сто двенадцать рублей 14 копеек", "One hundred and twelve roubles 14 kopecks"),
    ("2000", "Две тысячи рублей 00 копеек", "Two thousand roubles 00 kopecks"),
    ("21000.5", "Двадцать одна тысяча рублей 50 копеек", "Twenty-one thousand roubles 50 kopecks"),
    ("1000000", "Один миллион рублей 00 копеек", "One million roubles 00 kopecks"),
    ("0.99", "Ноль рублей 99 копеек", "Zero roubles 99 kopecks"),
    ("0.005", "Ноль рублей 01 копейка", "Zero roubles 01 kopeck"),  # rounded half up to kopecks
])
def test_amount_in_words(amount, russian, english):
    assert amount_in_words(Decimal(amount), "RUB", "ru") == russian
    assert amount_in_words(Decimal(amount), "RUB", "en") == english


def test_russian_plural_agreement_over_a_range():
    forms = ("рубль", "рубля", "рублей")
    expected = {0: 2, 1: 0, 2: 1, 4: 1, 5: 2, 11: 2, 12: 2, 14: 2, 20: 2, 21: 0, 22: 1, 101: 0, 111: 2, 1002: 1}
    for n, index in expected.items():
        assert russian_plural(n, forms) == forms[index], n


def test_a_negative_amount_has_no_words():
    with pytest.raises(ValueError):
        amount_in_words(Decimal("-1"))


@pytest.mark.parametrize("name,value", [
    ("INVOICE_SELLER_INN", "7709876540"),  # a wrong check digit
    ("INVOICE_SELLER_KPP", "77090100"),
    ("INVOICE_SELLER_BIC", "123456789"),
    ("INVOICE_SELLER_ACCOUNT", "40702810800000067890"),  # its key does not match the BIC
    ("INVOICE_SELLER_CORR_ACCOUNT", "30101810400000000226"),
    ("INVOICE_VAT_RATE", "twenty"),
    ("INVOICE_VAT_RATE", "120"),
])
def test_wrong_requisites_stop_the_app_at_startup(tmp_path, name, value):
    config = {**SELLER, name: value, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    assert name in invoice_document.seller_problems(config)  # (a wrong BIC also leaves the accounts unchecked)
    with pytest.raises(ValueError, match=name):
        create_app(config)


def test_valid_or_unset_requisites_are_no_problem():
    assert invoice_document.seller_problems(SELLER) == {}
    assert invoice_document.seller_problems({}) == {}
    assert invoice_document.seller_problems({**SELLER, "INVOICE_VAT_RATE": "20"}) == {}


@pytest.fixture
def seller(app):
    app.config.update(SELLER, INVOICE_VAT_RATE="20")
    return app.config


@pytest.fixture
def viewer(client, org):
    user = make_user(org, "view@example.com")
    grant(user, "billing.view")
    sign_in(client, "view@example.com")
    return client


def issue(org, amount="1200.00", **kwargs):
    kwargs.setdefault("vat_rate", Decimal(20))  # what INVOICE_VAT_RATE=20 gives (tested just below)
    return invoices.issue_invoice(org, amount, date(2026, 11, 1), date(2026, 11, 30), issued_on=date(2026, 11, 1),
                                  number=kwargs.pop("number", "2026-0011"), description="Тариф «Бизнес»", **kwargs)


def test_issuing_makes_one_line_and_fixes_the_configured_vat(app, seller, org):
    with app.app_context():  # as in a request or a CLI command
        invoice = invoices.issue_invoice(org, "1200.00", date(2026, 11, 1), date(2026, 11, 30), number="2026-0011",
                                         description="Тариф «Бизнес»")
    (line,) = InvoiceLine.select()
    assert (line.description, line.quantity, line.unit, line.price, line.amount) == (
        "Тариф «Бизнес»", Decimal(1), "service", Decimal("1200.00"), Decimal("1200.00"))
    assert Invoice.get_by_id(invoice.id).vat_rate == Decimal(20)
    seller["INVOICE_VAT_RATE"] = ""
    with app.app_context():
        second = invoices.issue_invoice(org, "5", date(2026, 11, 1), date(2026, 11, 30), number="2026-0012")
        assert Invoice.get_by_id(second.id).vat_rate is None


def test_the_print_view_is_a_real_invoice(app, seller, org, viewer):
    from models import BillingDetails

    BillingDetails.create(organization=org, bank_name="АО «Банк покупателя»", bik="044525225",
                          account_number="40702810938000012345", correspondent_account="30101810400000000225")
    invoice = issue(org)
    html = viewer.get(f"/app/account/invoices/{invoice.id}").get_data(as_text=True)
    assert "Invoice No. 2026-0011 of November 1, 2026" in html
    for text in ("ООО «Кабинет Сервис»", "TIN 7709876545", "KPP 770901001", "ПАО Сбербанк, г. Москва", "044525225",
                 "30101810400000000225", "40702810700000067890", "Иванов И. И.", "Петрова А. С.", "Director",
                 "Accountant", "Beneficiary", "One thousand two hundred roubles 00 kopecks",
                 "Including VAT 20%:", "200.00", "1,200.00", "Тариф «Бизнес»", "service",
                 "Payment for invoice No. 2026-0011 of November 1, 2026. Including VAT 20%: 200.00 RUB."):
        assert text in html, text
    assert "АО «Банк покупателя»" not in html and "40702810938000012345" not in html  # not the buyer's bank
    assert "TIN 7704123450" in html  # the buyer's own requisites


def test_the_russian_print_view_and_no_vat(app, seller, org, viewer):
    User.update(language="ru").where(User.email == "view@example.com").execute()
    invoice = issue(org, vat_rate=None)
    html = viewer.get(f"/app/account/invoices/{invoice.id}").get_data(as_text=True)
    for text in ("Счёт на оплату № 2026-0011 от 1 ноября 2026 г.", "Банк получателя", "Получатель", "Сч. №",
                 "Поставщик (Исполнитель):", "Покупатель (Заказчик):", "Товары (работы, услуги)", "Итого:",
                 "Без налога (НДС)", "Всего к оплате:", "Одна тысяча двести рублей 00 копеек", "Руководитель",
                 "Бухгалтер", "Назначение платежа: Оплата по счёту № 2026-0011 от 1 ноября 2026 г. НДС не облагается.",
                 "1 200,00", "усл."):
        assert text in html.replace("\u00a0", " ").replace("\u202f", " "), text


def test_the_pdf_is_named_by_the_number_and_carries_the_requisites(app, seller, org, viewer):
    invoice = issue(org, number="2026/11")
    response = viewer.get(f"/app/account/invoices/{invoice.id}.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    disposition = response.headers["Content-Disposition"]
    assert 'filename="invoice-2026-11.pdf"' in disposition and "filename*=UTF-8''invoice-2026-11.pdf" in disposition
    text = pdf_text(response.data)
    for line in ("Invoice No. 2026/11 of November 1, 2026", "Beneficiary's bank", "044525225", "40702810700000067890",
                 "TIN 7709876545", "KPP 770901001", "Supplier:", "Buyer:", "Including VAT 20%:",
                 "One thousand two hundred roubles 00 kopecks", "Director", "Accountant", "Тариф «Бизнес»"):
        assert line in text.replace("\u00a0", " ").replace("\u202f", " "), line


def pdf_text(data):
    if not shutil.which("pdftotext"):
        # As with Chromium and PostgreSQL: reported and skipped on a developer's machine, a failure in CI.
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(
            "pdftotext (poppler-utils) is not installed; .ci/run installs it")
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


def test_the_russian_pdf(app, seller, org, client):
    user = make_user(org, "ru@example.com", language="ru")
    grant(user, "billing.view")
    sign_in(client, "ru@example.com")
    invoice = issue(org)
    response = client.get(f"/app/account/invoices/{invoice.id}.pdf")
    assert "filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82-2026-0011.pdf" in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    for line in ("Счёт на оплату № 2026-0011 от 1 ноября 2026 г.", "Банк получателя", "Получатель", "БИК",
                 "Поставщик", "Покупатель", "В том числе НДС 20%:", "200,00", "Всего к оплате:",
                 "Одна тысяча двести рублей 00 копеек", "Руководитель", "Бухгалтер", "Назначение платежа"):
        assert line in text.replace("\u00a0", " ").replace("\u202f", " "), line


def test_missing_requisites_are_said_not_guessed(app, org, viewer):
    invoice = issue(org)
    html = viewer.get(f"/app/account/invoices/{invoice.id}").get_data(as_text=True)
    assert "requisites are not complete" in html


def test_the_migration_gives_every_old_invoice_one_line(app, org, database):
    from migrations import m0602_invoice_lines, migrator_for

    first, second = issue(org), issue(org, "99.90", number="2026-0012")
    InvoiceLine.delete().execute()  # as before the migration
    Invoice.update(description="").where(Invoice.id == second.id).execute()
    m0602_invoice_lines.upgrade(database, migrator_for(database))
    m0602_invoice_lines.upgrade(database, migrator_for(database))  # runs again without doubling
    lines = {line.invoice_id: line for line in InvoiceLine.select()}
    assert len(lines) == 2
    assert (lines[first.id].description, lines[first.id].amount, lines[first.id].quantity) == (
        "Тариф «Бизнес»", Decimal("1200.00"), Decimal(1))
    assert lines[second.id].price == Decimal("99.90") and lines[second.id].unit == "service"

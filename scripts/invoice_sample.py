"""Write docs/invoice-ru.pdf (and docs/invoice-ru.png, its first page, with pdftoppm): the demo
organization's latest invoice in Russian, sold by a sample operator with valid requisites.

Usage: PYTHONPATH=. .venv/bin/python scripts/invoice_sample.py
"""
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SELLER = {  # fictitious, but every number passes its check digits (services.checksums)
    "INVOICE_SELLER_NAME": "ООО «Кабинет Сервис»",
    "INVOICE_SELLER_INN": "7709876545",
    "INVOICE_SELLER_KPP": "770901001",
    "INVOICE_SELLER_ADDRESS": "105064, г. Москва, ул. Земляной Вал, д. 9, офис 512",
    "INVOICE_SELLER_BANK": "ПАО Сбербанк, г. Москва",
    "INVOICE_SELLER_BIC": "044525225",
    "INVOICE_SELLER_CORR_ACCOUNT": "30101810400000000225",
    "INVOICE_SELLER_ACCOUNT": "40702810700000067890",
    "INVOICE_SELLER_DIRECTOR": "Иванов И. И.",
    "INVOICE_SELLER_ACCOUNTANT": "Петрова А. С.",
    "INVOICE_VAT_RATE": "20",
}


def main():
    sys.path.insert(0, str(ROOT))
    from flask_babel import force_locale

    from app import create_app
    from migrations import upgrade
    from models import Invoice, InvoiceLine, db
    from services import invoice_document
    from services.demo import load_demo

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/demo.db", "INSTANCE_PATH": tmp,
                          **SELLER})
        with app.app_context(), app.test_request_context():
            upgrade(db.obj)
            org = load_demo()
            invoice = Invoice.select().where(Invoice.organization == org.id).order_by(Invoice.issued_on.desc()).get()
            # The demo's invoices have one line; this one shows several, with the VAT rate set.
            InvoiceLine.delete().where(InvoiceLine.invoice == invoice.id).execute()
            for position, (text, quantity, unit, price) in enumerate([
                ("Тариф «Бизнес»: личный кабинет для 25 сотрудников", 1, "month", "4900.00"),
                ("Дополнительные пользователи сверх тарифа", 4, "piece", "200.00"),
                ("SMS-уведомления (пакет 1 000 сообщений)", 1, "service", "200.00"),
            ], 1):
                InvoiceLine.create(invoice=invoice, position=position, description=text, quantity=quantity, unit=unit,
                                   price=price, amount=str(quantity * float(price)))
            Invoice.update(vat_rate=20).where(Invoice.id == invoice.id).execute()
            invoice = Invoice.get_by_id(invoice.id)
            with force_locale("ru"):
                pdf = invoice_document.render_pdf(invoice_document.build(invoice, app.config))
    target = ROOT / "docs" / "invoice-ru.pdf"
    target.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-singlefile", str(target), str(target.with_suffix(""))], check=True)
    print(target, target.with_suffix(".png"))


if __name__ == "__main__":
    main()

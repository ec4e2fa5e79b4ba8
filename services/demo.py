"""Demo data for trying Kabinet: one Russian LLC with an owner, an administrator and an employee."""
from decimal import Decimal

from models import Organization, User, db

from . import passwords
from .permissions import add_to_group, administrators_group

# A domain the app's own e-mail check accepts (example.com is reserved for examples, and never receives mail):
# `.local` or `.test` addresses are refused by it, so the demo people could not save their own forms.
DEMO_DOMAIN = "demo.example.com"
DEMO_PEOPLE = (
    (f"owner@{DEMO_DOMAIN}", "owner-demo-password-42", "owner"),
    (f"admin@{DEMO_DOMAIN}", "admin-demo-password-42", "admin"),
    (f"employee@{DEMO_DOMAIN}", "employee-demo-password-42", "employee"),
)
DEMO_NAMES = {"owner": "Анна Смирнова", "admin": "Борис Иванов", "employee": "Ольга Кузнецова"}
# The owner's low-balance alert: below the demo balance of 1 234,50 ₽, above it after one `flask demo-charge`.
DEMO_THRESHOLD = Decimal("1000.00")
DEMO_CHARGE = Decimal("500.00")


def load_demo():
    """Create the demo organization and people (the caller checks that the database is empty)."""
    with db.atomic():
        org = Organization.create(
            name="ООО «Ромашка Софт»",
            legal_form="llc",
            tin="7704123450",
            kpp="770401001",
            ogrn="1027704123457",
            okved="62.01 Разработка компьютерного программного обеспечения",
            legal_address="119021, г. Москва, ул. Льва Толстого, д. 16",
            balance=Decimal("1234.50"),
            currency="RUB",
        )
        owner = None
        for email, password, role in DEMO_PEOPLE:
            user = User.create(
                organization=org,
                email=email,
                email_verified=True,
                full_name=DEMO_NAMES[role],
                password_hash=passwords.hash_password(password),
                role=role,
                country="RU",
                created_by=owner,
            )
            owner = owner or user
            if role in ("owner", "admin"):
                add_to_group(user, administrators_group(org))
        load_demo_account(org, owner)
        load_demo_clients(org)
    return org


def load_demo_clients(org):
    """Two client tags and a few clients, so the clients list, tag and country visibility and masking can be tried."""
    from models import ClientTag

    from .clients import import_clients

    vip, wholesale = (ClientTag.create(organization=org, caption=c).id for c in ("VIP", "Опт"))
    import_clients(org.id, [
        {"name": "ООО «Северный ветер»", "email": "info@veter.example.com", "phone": "+74951234567",
         "country": "RU", "tags": [vip]},
        {"name": "ИП Кузнецов Андрей Викторович", "email": "kuznetsov@example.org", "phone": "+79161234567",
         "country": "RU", "tags": [wholesale]},
        {"name": "ТОО «Астана Трейд»", "email": "sales@astana.example.com", "phone": "+77172123456",
         "country": "KZ", "tags": [vip, wholesale]},
        {"name": "ОАО «Минск Софт»", "email": "office@minsk.example.com", "phone": "+375171234567",
         "country": "BY", "tags": []},
    ])


def load_demo_account(org, owner):
    """Billing details, a year of monthly invoices with payments and charges, and one processing agreement."""
    from datetime import date, datetime, timedelta

    from models import BillingDetails, Invoice, Organization, ProcessingAgreement

    from .invoices import change_balance

    BillingDetails.create(
        organization=org, postal_address="119021, г. Москва, а/я 16", bank_name="ПАО Сбербанк", bik="044525225",
        account_number="40702810938000012345", correspondent_account="30101810400000000225",
        billing_email=f"buh@{DEMO_DOMAIN}",
    )
    Organization.update(balance=0).where(Organization.id == org.id).execute()
    today = date.today()
    first = date(today.year - 1, today.month, 1)
    # Chosen so that the year ends at the foundation's demo balance of 1 234,50 ₽.
    change_balance(org.id, Decimal("11234.50"), "Начальный остаток", at=datetime(first.year, first.month, 1, 9, 0))
    numbers = {}
    for i in range(12):
        start = date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
        amount = Decimal("4900.00") if i < 6 else Decimal("5900.00")
        status = "paid" if i < 10 else ("overdue" if i == 10 else "issued")
        numbers[start.year] = numbers.get(start.year, 0) + 1
        invoice = Invoice.create(
            organization=org, number=f"{start.year}-{numbers[start.year]:04d}", issued_on=start, period_start=start,
            period_end=end, amount=amount, currency=org.currency, status=status,
            description="Тариф «Стандарт»" if i < 6 else "Тариф «Бизнес»",
        )
        at = datetime(start.year, start.month, 3, 9, 0)
        if status == "paid":
            Invoice.update(paid_at=at).where(Invoice.id == invoice.id).execute()
            change_balance(org.id, amount, f"invoice:{invoice.number}", invoice=invoice, at=at)
        change_balance(org.id, -amount + Decimal("150.00"), f"Списание за {start:%m.%Y}", at=at + timedelta(days=27))
    ProcessingAgreement.create(
        organization=org, processor="ООО «Облачные сервисы»", purpose="Хранение резервных копий",
        data_categories="ФИО, e-mail, телефоны клиентов", legal_basis="Договор поручения № 12 от 01.02.2026",
        starts_on=first, created_by=owner, document=demo_document(org, owner),
    )
    # The employee is the bookkeeper: sees settlements read-only, with seed 000's "contact your manager" note.
    from models import Group, GroupPermission, User

    bookkeeping = Group.create(organization=org, name="Бухгалтерия")
    GroupPermission.create(group=bookkeeping, permission="billing.view")
    for user in User.select().where(User.organization == org.id, User.role == "employee"):
        add_to_group(user, bookkeeping)
    from .notifications import set_threshold

    set_threshold(User.get_by_id(owner.id), DEMO_THRESHOLD)


def demo_charge(amount=DEMO_CHARGE):
    """Charge the demo organization as the product would (services.invoices.change_balance), so the owner's
    low-balance alert can be tried; None when there is no demo organization. Returns the balance entry."""
    from datetime import date

    from .invoices import change_balance

    owner = User.get_or_none(User.email == DEMO_PEOPLE[0][0])
    if owner is None:
        return None
    return change_balance(owner.organization_id, -Decimal(amount), f"Демо-списание {date.today():%d.%m.%Y}")


def demo_document(org, owner):
    """The agreement's signed copy in the file manager (a small PDF), when an app's config says where files go."""
    import io

    from flask import current_app, has_app_context
    from fpdf import FPDF

    from .files import save_upload
    from .invoice_pdf import FONTS

    if not has_app_context():
        return None
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_page()
    pdf.set_font("DejaVu", "", 14)
    pdf.multi_cell(0, 8, "Договор поручения обработки персональных данных № 12\nот 01.02.2026\n\n"
                         "ООО «Ромашка Софт» поручает ООО «Облачные сервисы» хранение резервных копий.")
    return save_upload(current_app.config, org.id, owner, io.BytesIO(bytes(pdf.output())),
                       "Договор поручения № 12.pdf")

"""The demo (`flask demo`) lets a newcomer try every flow: its addresses pass the app's own e-mail check, a saved
address is checked again only when it changes (so an older demo's `.local` addresses still save and reset), and
`flask demo-charge` lowers the balance the way the product does, firing the owner's low-balance alert."""
import re
from decimal import Decimal

import pytest

from models import BillingDetails, Notification, Organization, OutboxMessage, User
from services.demo import DEMO_PEOPLE, demo_charge, load_demo
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in

EDIT = "/app/personal-data/edit"


@pytest.fixture
def demo(app):
    with app.app_context():
        return load_demo()


def billing_fields(client):
    """The billing form as the page fills it in (what a person sends back after changing nothing)."""
    html = client.get("/app/account/billing").get_data(as_text=True)
    form = html[html.index('<form method="post" action="/app/account/billing"'):]
    form = form[:form.index("</form>")]
    values = dict(re.findall(r'name="(\w+)"[^>]*?value="([^"]*)"', form))
    values.update(re.findall(r'<select[^>]*name="(\w+)".*?<option[^>]*selected[^>]*value="([^"]*)"', form, re.S))
    values.update(re.findall(r'<select[^>]*name="(\w+)".*?<option[^>]*value="([^"]*)"[^>]*selected', form, re.S))
    return values


def test_every_demo_address_passes_the_apps_own_check(demo, app):
    from blueprints.forms import normalize_email

    billing = BillingDetails.get(BillingDetails.organization == demo.id).billing_email
    with app.test_request_context():
        for email in [e for e, _p, _r in DEMO_PEOPLE] + [billing]:
            assert normalize_email(email) == email


def test_demo_owner_saves_her_forms_unchanged_and_adds_a_colleague_in_the_demo_domain(demo, client):
    owner_email, owner_password, _role = DEMO_PEOPLE[0]
    sign_in(client, owner_email, owner_password)
    html = client.get(EDIT).get_data(as_text=True)
    token = csrf_from(html)
    data = {"csrf_token": token, "full_name": "Анна Смирнова-Ким", "email": owner_email, "phone": "+7 912 345-67-89",
            "new_password": "", "repeat": "", "current_password": owner_password}
    assert client.post(EDIT, data=data).status_code == 303
    assert User.get(User.email == owner_email).full_name == "Анна Смирнова-Ким"

    response = client.post("/app/account/billing", data=billing_fields(client))
    assert response.status_code == 303, response.get_data(as_text=True)[:300]

    response = form_post(client, "/admin/users/new", {"full_name": "Олег Новиков", "email": "oleg@demo.example.com",
                                                     "send_to_email": ""})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert User.get_or_none(User.email == "oleg@demo.example.com") is not None


@pytest.fixture
def old_demo(org):
    """A person and billing e-mail saved under older rules (the first demo's `.local` addresses), contacts locked."""
    Organization.update(contacts_locked=True).where(Organization.id == org.id).execute()
    BillingDetails.create(organization=org, billing_email="buh@demo.kabinet.local")
    return make_user(org, "owner@demo.kabinet.local", email_verified=True, phone="+79123456789", phone_verified=True)


def test_an_old_local_address_still_saves_when_unchanged_but_not_a_new_one(client, org, old_demo):
    sign_in(client, "owner@demo.kabinet.local")
    fields = {"full_name": "Anna Renamed", "email": "Owner@demo.kabinet.local", "phone": "+7 912 345-67-89",
              "new_password": "", "repeat": "", "current_password": PASSWORD}
    assert form_post(client, EDIT, fields).status_code == 303
    assert User.get_by_id(old_demo.id).full_name == "Anna Renamed"
    Organization.update(contacts_locked=False).where(Organization.id == org.id).execute()
    response = form_post(client, EDIT, {**fields, "email": "other@demo.kabinet.local"})
    assert response.status_code == 422 and "Enter a valid e-mail address" in response.get_data(as_text=True)
    assert User.get_by_id(old_demo.id).email == "owner@demo.kabinet.local"


def test_an_old_local_billing_email_saves_when_unchanged_but_not_a_new_one(client, org, old_demo):
    from services.permissions import grant

    grant(old_demo, "billing.view", "billing.edit")
    sign_in(client, "owner@demo.kabinet.local")
    fields = {**billing_fields(client), "legal_form": "llc", "legal_address": "Москва, ул. Льва Толстого, 16"}
    assert fields["billing_email"] == "buh@demo.kabinet.local"
    assert client.post("/app/account/billing", data={**fields, "bank_name": "АО Банк"}).status_code == 303
    assert BillingDetails.get(BillingDetails.organization == org.id).bank_name == "АО Банк"
    response = client.post("/app/account/billing", data={**fields, "billing_email": "new@demo.kabinet.local"})
    assert response.status_code == 422
    assert BillingDetails.get(BillingDetails.organization == org.id).billing_email == "buh@demo.kabinet.local"


def test_the_events_log_finds_an_old_local_address(admin_client, old_demo):
    from services import audit

    audit.record("signin", actor=old_demo, target=old_demo.email)
    html = admin_client.get("/admin/events?actor=Owner@demo.kabinet.local").get_data(as_text=True)
    assert "There is no user" not in html and "valid e-mail" not in html
    assert html.count(">owner@demo.kabinet.local<") >= 1


def test_forgot_password_mails_an_old_local_address_like_any_other(client, old_demo, smtp):
    known = form_post(client, "/forgot-password", {"email": "owner@demo.kabinet.local"})
    unknown = form_post(client, "/forgot-password", {"email": "nobody@demo.kabinet.local"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda html: re.sub(r'value="[^"]+"|"X-CSRFToken": "[^"]+"', "", html)  # noqa: E731
    assert strip(known.get_data(as_text=True)) == strip(unknown.get_data(as_text=True))
    assert smtp.wait_for(1)[-1].message["To"] == "owner@demo.kabinet.local"


def test_the_demo_administrator_sees_tagged_clients(demo, client):
    email, password, _role = DEMO_PEOPLE[1]
    sign_in(client, email, password)
    html = client.get("/admin/clients").get_data(as_text=True)
    assert "ТОО «Астана Трейд»" in html and '<span class="tag">VIP</span>' in html
    assert "Опт" in client.get("/admin/client-tags").get_data(as_text=True)


def test_the_demo_administrator_can_sign_in_as_the_employee(demo, client):
    sign_in(client, *DEMO_PEOPLE[1][:2])
    employee = User.get(User.email == DEMO_PEOPLE[2][0])
    response = form_post(client, f"/admin/users/{employee.id}/impersonate", {}, page="/admin/users")
    assert response.status_code == 303
    page = client.get("/app/personal-data").get_data(as_text=True)
    assert "You are viewing the account of Ольга Кузнецова (employee@demo.example.com)" in page


def test_demo_charge_lowers_the_balance_and_fires_the_owners_alert_once(demo, app):
    owner = User.get(User.email == DEMO_PEOPLE[0][0])
    assert Organization.get_by_id(demo.id).balance == Decimal("1234.50")
    with app.app_context():
        entry = demo_charge()
    assert entry.balance_after == Decimal("734.50") and entry.change == Decimal("-500.00")
    alerts = Notification.select().where(Notification.user == owner.id, Notification.category == "low_balance")
    assert alerts.count() == 1
    assert OutboxMessage.select().where(OutboxMessage.user == owner.id, OutboxMessage.category == "low_balance",
                               OutboxMessage.channel == "email").count() == 1
    with app.app_context():
        demo_charge("100.00")
    assert alerts.count() == 1  # once, until the balance is back above the threshold


@pytest.mark.parametrize("language, title, text", [
    ("en", "Low balance", "The balance is RUB 734.50, below your alert threshold of RUB 1,000.00."),
    ("ru", "Низкий баланс", "Баланс — 734,50 ₽, ниже вашего порога оповещения 1 000,00 ₽."),
])
def test_the_owner_reads_the_demo_alert_in_her_language(demo, app, client, language, title, text):
    User.update(language=language).where(User.email == DEMO_PEOPLE[0][0]).execute()
    with app.app_context():
        demo_charge()
    sign_in(client, *DEMO_PEOPLE[0][:2])
    feed = client.get("/app/notifications").get_data(as_text=True).replace("\xa0", " ")
    assert title in feed and text in feed


def test_demo_charge_without_a_demo_does_nothing(app, org):
    with app.app_context():
        assert demo_charge() is None
    assert Organization.get_by_id(org.id).balance == Decimal("1234.50")


def test_a_mail_server_keeps_an_old_local_sender_when_unchanged(app, signed_in, user):
    from models import MailServer
    from tests.test_mail_servers import BASE, GOOD, add_server

    server = add_server(app, user, from_email="robot@demo.kabinet.local")
    fields = {**GOOD, "host": "mail.example.org", "password": "", "from_email": "robot@demo.kabinet.local"}
    assert form_post(signed_in, f"{BASE}/{server.id}", fields).status_code == 303
    assert MailServer.get_by_id(server.id).host == "mail.example.org"
    response = form_post(signed_in, f"{BASE}/{server.id}", {**fields, "from_email": "other@demo.kabinet.local"})
    assert response.status_code == 422
    assert MailServer.get_by_id(server.id).from_email == "robot@demo.kabinet.local"

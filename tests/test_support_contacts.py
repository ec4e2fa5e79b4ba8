"""Where a person is told to contact support (locked contacts, a disabled account), the page says how:
the organization's support e-mail, phone and page, or the instance's defaults from config."""
from models import Organization, User
from services.permissions import grant
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in
from tests.test_admin_organization import COMPANY, post


def test_the_organization_sets_its_support_contacts_shown_where_contacts_are_locked(app, client, org, user):
    grant(user, "billing.edit")
    sign_in(client)
    response = post(client, {**COMPANY, "contacts_locked": "y", "support_email": "Help@Corp.example",
                             "support_phone": "+7 912 345-67-89", "support_url": "https://corp.example/help"})
    assert response.status_code == 303
    saved = Organization.get_by_id(org.id)
    assert (saved.support_email, saved.support_phone, saved.support_url) == \
        ("help@corp.example", "+79123456789", "https://corp.example/help")
    User.update(email_verified=True, phone="+79001234567", phone_verified=True).where(User.id == user.id).execute()
    page = client.get("/app/personal-data").get_data(as_text=True)
    assert "can only be changed by support" in page
    assert 'href="mailto:help@corp.example"' in page and 'href="tel:+79123456789"' in page
    assert 'href="https://corp.example/help"' in page


def test_bad_support_contacts_are_refused_at_the_field(client, org, user):
    grant(user, "billing.edit")
    sign_in(client)
    for field, value, message in (("support_email", "not an address", ""),
                                  ("support_phone", "12", "Enter the phone number with its country code"),
                                  ("support_url", "javascript:alert(1)", "Enter a web address starting with https://"),
                                  ("support_url", "x" * 400, "")):
        response = post(client, {**COMPANY, field: value})
        assert response.status_code == 422, field
        assert message in response.get_data(as_text=True)
    assert Organization.get_by_id(org.id).support_url == ""


def test_a_disabled_account_is_told_the_instance_default_when_the_organization_has_none(app, client, org):
    app.config.update(SUPPORT_EMAIL="support@kabinet.example", SUPPORT_URL="https://kabinet.example/support")
    make_user(org, "off@example.com", status="disabled")
    response = form_post(client, "/login", {"email": "off@example.com", "password": PASSWORD})
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "This account is disabled" in html
    assert 'href="mailto:support@kabinet.example"' in html and 'href="https://kabinet.example/support"' in html
    Organization.update(support_email="help@corp.example").where(Organization.id == org.id).execute()
    html = form_post(client, "/login", {"email": "off@example.com", "password": PASSWORD}).get_data(as_text=True)
    assert "mailto:help@corp.example" in html and "https://kabinet.example/support" in html
    # a wrong password learns nothing about the organization
    html = form_post(client, "/login", {"email": "off@example.com", "password": "wrong"}).get_data(as_text=True)
    assert "help@corp.example" not in html


def test_russian(app, client, org):
    app.config.update(SUPPORT_EMAIL="support@kabinet.example")
    make_user(org, "off@example.com", status="disabled", language="ru")
    client.set_cookie("lang", "ru")
    html = form_post(client, "/login", {"email": "off@example.com", "password": PASSWORD},
                     headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Поддержка:" in html

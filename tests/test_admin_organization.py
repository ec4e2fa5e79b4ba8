"""The organization's legal data (issue 3: TIN, OGRN, OGRNIP and KPP checked with their check digits
wherever they are entered) and the contact lock of seed 001, on /admin/organization."""
import pytest

from models import AuditEvent, Organization, User
from services.checksums import valid_kpp, valid_ogrn, valid_ogrnip, valid_tin
from services.permissions import grant
from tests.conftest import csrf_from, make_user, sign_in

COMPANY = {
    "name": "ООО «Новое имя»",
    "legal_form": "llc",
    "tin": "7704123450",
    "legal_address": "119021, Москва, ул. Льва Толстого, 16",
    "kpp": "770401001",
    "ogrn": "1027704123457",
    "okved": "62.01",
    "ogrnip": "",
}
ENTREPRENEUR = {
    "name": "ИП Петров Пётр Петрович",
    "legal_form": "ie",
    "tin": "500123456750",
    "legal_address": "Москва",
    "ogrnip": "304500100000125",
    "kpp": "",
    "ogrn": "",
    "okved": "",
}


@pytest.fixture
def manager(signed_in, user):
    grant(user, "billing.edit")
    return signed_in


def post(client, data, headers=None):
    token = csrf_from(client.get("/admin/organization").get_data(as_text=True))
    return client.post("/admin/organization", data={"csrf_token": token, **data}, headers=headers or {})


def stored(org):
    return Organization.get_by_id(org.id)


def test_sample_identifiers_are_valid():
    assert valid_tin(COMPANY["tin"]) and valid_kpp(COMPANY["kpp"]) and valid_ogrn(COMPANY["ogrn"])
    assert valid_tin(ENTREPRENEUR["tin"]) and valid_ogrnip(ENTREPRENEUR["ogrnip"])


def test_the_page_needs_billing_edit(signed_in, org):
    assert signed_in.get("/admin/organization").status_code == 403
    token = csrf_from(signed_in.get("/app/personal-data").get_data(as_text=True))
    response = signed_in.post("/admin/organization", data={"csrf_token": token, **COMPANY})
    assert response.status_code == 403 and stored(org).name == "ООО «Тест»"


def test_the_form_is_filled_in_and_listed_in_the_back_office(manager, org):
    html = manager.get("/admin/organization").get_data(as_text=True)
    assert 'value="7704123450"' in html and 'value="770401001"' in html and "ООО «Тест»" in html
    assert 'href="/admin/organization"' in manager.get("/admin/").headers.get("Location", "") + html


def test_a_company_is_saved_audited_and_shown_on_the_company_card(manager, org, user):
    response = post(manager, {**COMPANY, "contacts_locked": "y"})
    assert response.status_code == 303
    org = stored(org)
    assert (org.name, org.tin, org.kpp, org.ogrn, org.okved, org.ogrnip) == (
        COMPANY["name"], "7704123450", "770401001", "1027704123457", "62.01", None)
    assert org.contacts_locked is True
    event = AuditEvent.get(AuditEvent.action == "organization.updated")
    assert event.actor_id == user.id and "contacts_locked" in event.details
    card = manager.get("/app/personal-data").get_data(as_text=True)
    assert "ООО «Новое имя»" in card and "62.01" in card and "account manager" in card


def test_an_entrepreneur_needs_a_12_digit_tin_and_an_ogrnip_and_loses_company_codes(manager, org):
    response = post(manager, {**ENTREPRENEUR, "tin": COMPANY["tin"], "ogrnip": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "TIN has 12 digits" in html and "needs an OGRNIP" in html
    assert stored(org).legal_form == "llc"
    assert post(manager, {**ENTREPRENEUR, "kpp": "770401001", "ogrn": "1027704123457"}).status_code == 303
    org = stored(org)
    assert (org.legal_form, org.tin, org.ogrnip, org.kpp, org.ogrn) == ("ie", "500123456750", "304500100000125", None, None)
    card = manager.get("/app/personal-data").get_data(as_text=True)
    assert "304500100000125" in card and "Individual entrepreneur" in card and "770401001" not in card


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("tin", "7704123451", "valid TIN"),  # wrong check digit
        ("tin", "77041234", "valid TIN"),
        ("kpp", "77040100", "valid KPP"),
        ("kpp", "7704-1001", "valid KPP"),
        ("ogrn", "1027704123458", "valid OGRN"),
        ("ogrn", "", "needs an OGRN"),
        ("kpp", "", "needs a KPP"),
        ("name", "x" * 10_000, "At most 300"),
        ("name", "", "required"),
        ("legal_address", "a\x00b", "control characters"),
        ("legal_form", "plc", "Not a valid choice"),
    ],
)
def test_bad_company_data_is_refused_at_the_field_and_nothing_is_saved(manager, org, field, value, message):
    before = stored(org).__data__
    response = post(manager, {**COMPANY, field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stored(org).__data__ == before


def test_a_wrong_ogrnip_check_digit_is_refused(manager, org):
    response = post(manager, {**ENTREPRENEUR, "ogrnip": "304500100000126"})
    assert response.status_code == 422 and "valid OGRNIP" in response.get_data(as_text=True)
    assert stored(org).legal_form == "llc"


def test_htmx_gets_the_card_back_with_the_error_and_the_input_kept(manager, org):
    token = csrf_from(manager.get("/admin/organization").get_data(as_text=True))
    response = manager.post("/admin/organization", data={"csrf_token": token, **COMPANY, "tin": "7704123451"},
                            headers={"HX-Request": "true", "X-CSRFToken": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html.lstrip().startswith('<section id="organization-card"')
    assert 'value="7704123451"' in html and "<html" not in html


def test_messages_in_russian(manager, org, user):
    User.update(language="ru").where(User.id == user.id).execute()
    html = post(manager, {**COMPANY, "ogrn": "1027704123458"}).get_data(as_text=True)
    assert "ОГРН" in html and "valid OGRN" not in html


def test_the_contact_lock_reaches_the_members_page(manager, org, user, app):
    User.update(email_verified=True).where(User.id == user.id).execute()
    assert post(manager, {**COMPANY, "contacts_locked": "y"}).status_code == 303
    html = manager.get("/app/personal-data").get_data(as_text=True)
    assert "can only be changed by support" in html
    assert post(manager, COMPANY).status_code == 303  # unticked: unlocked again
    assert stored(org).contacts_locked is False


def test_another_organization_is_never_touched(manager, org):
    other = Organization.create(name="Other Ltd", tin="500123456750", legal_form="ie", ogrnip="304500100000125")
    make_user(other, email="other@example.com")
    assert post(manager, {**COMPANY, "id": str(other.id), "organization": str(other.id)}).status_code == 303
    other = Organization.get_by_id(other.id)
    assert (other.name, other.legal_form, other.tin) == ("Other Ltd", "ie", "500123456750")
    assert stored(org).name == COMPANY["name"]


def test_a_member_of_another_organization_with_the_permission_edits_only_their_own(app, org):
    other = Organization.create(name="Other Ltd")
    stranger = make_user(other, email="stranger@example.com")
    grant(stranger, "billing.edit")
    client = app.test_client()
    sign_in(client, "stranger@example.com")
    html = client.get("/admin/organization").get_data(as_text=True)
    assert "Other Ltd" in html and "ООО «Тест»" not in html

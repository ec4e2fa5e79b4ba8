"""Data processing agreements (issue 8, seed 003 "data entrustment and sub-entrustment cards"):
list, add, edit, end; a document from the file manager; other organizations' cards 404."""
from datetime import date

import pytest

from models import AuditEvent, Organization, ProcessingAgreement, StoredFile
from services.permissions import grant
from tests.conftest import csrf_from, form_post, make_user, sign_in

HTMX = {"HX-Request": "true"}
CARD = {
    "processor": "ООО «Облако»", "purpose": "Хранение резервных копий", "data_categories": "ФИО, e-mail",
    "legal_basis": "Договор № 12", "starts_on": "2026-01-01", "ends_on": "", "document": "0",
}


@pytest.fixture
def dpo(client, org):
    user = make_user(org, "dpo@example.com")
    grant(user, "gdpr.manage")
    sign_in(client, "dpo@example.com")
    return client


def test_add_list_edit_and_end_an_agreement(dpo, org):
    stored = StoredFile.create(organization=org, name="Договор.pdf", storage_name="a" * 32, size=10, kind="pdf")
    response = form_post(dpo, "/app/account/gdpr/new", {**CARD, "is_subprocessing": "y", "document": str(stored.id)})
    assert response.status_code == 303
    card = ProcessingAgreement.get()
    assert card.is_subprocessing and card.document_id == stored.id and card.ends_on is None
    listing = dpo.get("/app/account/gdpr").get_data(as_text=True)
    assert "ООО «Облако»" in listing and "sub-entrustment" in listing and "Договор.pdf" in listing
    assert "open-ended" in listing

    response = form_post(dpo, f"/app/account/gdpr/{card.id}/edit", {**CARD, "purpose": "Рассылки"})
    assert response.status_code == 303
    card = ProcessingAgreement.get()
    assert card.purpose == "Рассылки" and not card.is_subprocessing and card.document_id is None

    response = form_post(dpo, f"/app/account/gdpr/{card.id}/end", {}, page="/app/account/gdpr")
    assert response.status_code == 303
    assert ProcessingAgreement.get().ends_on == date.today()
    assert "ended" in dpo.get("/app/account/gdpr").get_data(as_text=True)
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert ["agreement.created", "agreement.updated", "agreement.ended"] == [a for a in actions if a.startswith("agr")]


@pytest.mark.parametrize("field,value,message", [
    ("processor", "", "This field is required."),
    ("purpose", "x" * 10_000, "At most 500 characters."),
    ("starts_on", "yesterday", "Not a valid date value."),
    ("ends_on", "2025-01-01", "The end date is before the start date."),
    ("document", "abc", "Invalid Choice"),
])
def test_bad_cards_come_back_with_messages_and_nothing_saved(dpo, field, value, message):
    response = form_post(dpo, "/app/account/gdpr/new", {**CARD, field: value})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert not ProcessingAgreement.select().exists()


def test_another_organizations_document_cannot_be_attached(dpo, org):
    theirs = StoredFile.create(organization=Organization.create(name="Чужая"), name="x.pdf", storage_name="b" * 32,
                               size=1, kind="pdf")
    response = form_post(dpo, "/app/account/gdpr/new", {**CARD, "document": str(theirs.id)})
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)


def test_htmx_add_answers_with_the_form_fragment(dpo):
    token = csrf_from(dpo.get("/app/account/gdpr/new").get_data(as_text=True))
    bad = dpo.post("/app/account/gdpr/new", data={**CARD, "processor": ""}, headers={**HTMX, "X-CSRFToken": token})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "<html" not in body and 'id="agreement-form"' in body
    good = dpo.post("/app/account/gdpr/new", data=CARD, headers={**HTMX, "X-CSRFToken": token})
    assert good.headers["HX-Redirect"] == "/app/account/gdpr"


def test_other_organizations_cards_are_404(dpo):
    other = Organization.create(name="Чужая")
    theirs = ProcessingAgreement.create(organization=other, processor="P", purpose="p", data_categories="d",
                                        legal_basis="b", starts_on=date(2026, 1, 1))
    assert dpo.get(f"/app/account/gdpr/{theirs.id}/edit").status_code == 404
    response = form_post(dpo, f"/app/account/gdpr/{theirs.id}/end", {}, page="/app/account/gdpr")
    assert response.status_code == 404 and ProcessingAgreement.get_by_id(theirs.id).ends_on is None
    assert "P</td>" not in dpo.get("/app/account/gdpr").get_data(as_text=True)


def test_russian_gdpr_page(client, org):
    user = make_user(org, "ru@example.com", language="ru")
    grant(user, "gdpr.manage")
    sign_in(client, "ru@example.com")
    page = client.get("/app/account/gdpr").get_data(as_text=True)
    assert "Поручения на обработку данных" in page and "Добавить поручение" in page

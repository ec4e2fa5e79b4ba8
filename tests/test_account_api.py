"""POST /api/v1/invoices (issue 8): the operator issues invoices with a write key whose owner holds
billing.edit; the page's validation applies; errors are JSON."""
import pytest

from models import Invoice
from services.permissions import grant
from tests.conftest import make_user


@pytest.fixture
def api(app):
    from services import apikeys

    return apikeys


BODY = {"issued_on": "2026-03-01", "period_start": "2026-03-01", "period_end": "2026-03-31", "amount": "4900.00",
        "description": "Тариф «Стандарт»"}


def key_for(api, user, scopes):
    return {"Authorization": f"Bearer {api.create_key(user, 'k', scopes)[0]}"}


def test_an_admin_key_issues_an_invoice(api, client, org):
    boss = make_user(org, "boss@example.com")
    grant(boss, "billing.edit")
    response = client.post("/api/v1/invoices", json=BODY, headers=key_for(api, boss, ["write"]))
    assert response.status_code == 201
    body = response.get_json()
    assert body["number"] == "2026-0001" and body["amount"] == "4900.00" and body["status"] == "issued"
    assert Invoice.get().organization_id == org.id
    paid = client.post("/api/v1/invoices", json={**BODY, "number": "A-7", "status": "paid", "amount": 10},
                       headers=key_for(api, boss, ["write"]))
    assert paid.status_code == 201 and paid.get_json()["status"] == "paid"


@pytest.mark.parametrize("body,status,code", [
    ({**BODY, "amount": "-1"}, 422, "invalid"),
    ({**BODY, "period_end": "2026-02-01"}, 422, "invalid"),
    ({**BODY, "issued_on": "not a date"}, 422, "invalid"),
    ({**BODY, "number": "x" * 10_000}, 422, "invalid"),
    ({**BODY, "organization": 2}, 422, "unknown_field"),
    ({**BODY, "amount": {"$gt": 0}}, 422, "invalid"),
    (["not", "an", "object"], 400, "bad_request"),
])
def test_bad_bodies_get_json_errors_and_nothing_is_stored(api, client, org, body, status, code):
    boss = make_user(org, "boss@example.com")
    grant(boss, "billing.edit")
    response = client.post("/api/v1/invoices", json=body, headers=key_for(api, boss, ["write"]))
    assert response.status_code == status and response.get_json()["code"] == code
    assert not Invoice.select().exists()


def test_keys_without_the_scope_or_the_permission_are_refused(api, client, org):
    clerk = make_user(org, "clerk@example.com")
    boss = make_user(org, "boss@example.com")
    grant(boss, "billing.edit")
    assert client.post("/api/v1/invoices", json=BODY).status_code == 401
    assert client.post("/api/v1/invoices", json=BODY, headers=key_for(api, boss, ["read"])).status_code == 403
    refused = client.post("/api/v1/invoices", json=BODY, headers=key_for(api, clerk, ["write"]))
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    assert not Invoice.select().exists()


def test_the_route_is_in_the_openapi_document(api, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert set(document["paths"]["/invoices"]) == {"post"}
    assert "201" in document["paths"]["/invoices"]["post"]["responses"]

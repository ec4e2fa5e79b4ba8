"""Input a browser or API client can send never ends in a 500 (DESIGN.md, "Bad input"; SECURITY.md 19 for
ids): ids at and past the integer edge, dates at the calendar's edges, a field left out of a form,
JSON with lone surrogates or nested 100,000 deep. The every-route fuzz (test_every_route.py) draws the
same values for every route; these tests pin each class down."""
import json

import pytest

from blueprints.bounds import ID_MAX, bounded_id
from models import User
from services import apikeys
from tests.conftest import csrf_from
from tests.security_helpers import HTMX

TOO_BIG = [str(ID_MAX + 1), str(2**64), "9" * 20, "9" * 5000]


@pytest.fixture
def api(app, admin):
    """A read+write key of the organization's owner (who may also issue invoices)."""
    key, _row = apikeys.create_key(admin, "bounds", ["read", "write"])
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("server_id", TOO_BIG)
def test_ids_past_the_integer_edge_are_not_found_on_pages_and_in_the_api(app, signed_in, api, server_id):
    assert signed_in.get(f"/app/personal-data/mail-servers/{server_id}").status_code == 404
    response = app.test_client().get(f"/api/v1/mail-servers/{server_id}", headers=api)
    assert response.status_code == 404 and response.is_json and response.json["code"] == "not_found"


def test_the_largest_id_a_column_holds_is_simply_not_found(signed_in):
    assert signed_in.get(f"/app/personal-data/mail-servers/{ID_MAX}").status_code == 404


@pytest.mark.parametrize("url", ["/app/security/history?before={}", "/app/notifications?before={}",
                                 "/app/operations?before={}"])
@pytest.mark.parametrize("value", ["²", "١٢", "-1", *TOO_BIG])
def test_ids_in_query_strings_beyond_ascii_digits_or_the_edge_are_ignored(signed_in, url, value):
    assert signed_in.get(url.format(value)).status_code == 200


@pytest.mark.parametrize("url", ["/admin/users?group={}", "/admin/client-tags?edit={}", "/admin/clients?after={}"])
def test_back_office_ids_in_query_strings_are_ignored(admin_client, url):
    for value in ["²", *TOO_BIG]:
        assert admin_client.get(url.format(value)).status_code == 200, value


def test_bounded_id():
    assert bounded_id("42") == 42 and bounded_id(str(ID_MAX)) == ID_MAX
    assert [bounded_id(v) for v in ["", "²", "١", "-1", "+1", " 1", *TOO_BIG, None]] == [None] * 11


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01", "since=0001-01-01&until=9999-12-31",
                                   "until=1899-12-31", "since=3000-01-01"])
@pytest.mark.parametrize("zone", ["Europe/Moscow", "America/Los_Angeles"])
def test_event_filters_at_the_calendars_edges_are_refused_at_the_field(admin_client, admin, query, zone):
    User.update(time_zone=zone).where(User.id == admin.id).execute()
    response = admin_client.get(f"/admin/events?{query}")
    assert response.status_code == 422
    assert "Enter a date from 1900 to 2999." in response.get_data(as_text=True)
    User.update(language="ru").where(User.id == admin.id).execute()
    assert "Введите дату с 1900 по 2999 год." in admin_client.get(f"/admin/events?{query}").get_data(as_text=True)


def test_event_filters_inside_the_bounds_still_work(admin_client):
    assert admin_client.get("/admin/events?since=1900-01-01&until=2999-12-31").status_code == 200


def test_invoice_search_and_issue_dates_are_bounded(admin_client, admin):
    assert admin_client.get("/app/account/invoices?date_from=0001-01-01&date_to=9999-12-31").status_code in (200, 422)
    html = admin_client.get("/app/account/invoices?date_from=0001-01-01").get_data(as_text=True)
    assert "Enter a date from 1900 to 2999." in html


def test_autosave_without_its_field_changes_nothing(app, signed_in, user):
    User.update(short_info="Keeps bees").where(User.id == user.id).execute()
    token = csrf_from(signed_in.get("/app/personal-data").get_data(as_text=True))
    for headers in ({}, {**HTMX, "X-CSRFToken": token}):
        response = signed_in.post("/app/personal-data/field/short_info", data={"csrf_token": token}, headers=headers)
        assert response.status_code == 400
        response = signed_in.post("/app/personal-data/field/full_name", data={"csrf_token": token}, headers=headers)
        assert response.status_code == 400
    assert User.get_by_id(user.id).short_info == "Keeps bees"
    assert User.get_by_id(user.id).full_name == "Anna Test"


@pytest.mark.parametrize("body", [
    '{"full_name": "\\ud800"}',
    '{"short_info": "a\\udfffb"}',
    '{"\\ud800": "x"}',
    '{"full_name": "a\\u0000b"}',
    "[" * 100_000 + "]" * 100_000,
    '{"full_name": ' + "[" * 50 + "]" * 50 + "}",
    '{"a": ' * 100_000 + "1" + "}" * 100_000,
])
def test_json_that_cannot_be_stored_is_refused_with_400(app, admin, api, body):
    client = app.test_client()
    for method, url in (("PATCH", "/api/v1/me"), ("POST", "/api/v1/invoices")):
        response = client.open(url, method=method, data=body, headers={**api, "Content-Type": "application/json"})
        assert response.status_code == 400, (url, response.status_code)
        assert response.is_json and set(response.json) >= {"code", "message"}
    assert User.get_by_id(admin.id).full_name == "Boss Admin"


def test_json_with_ordinary_unicode_still_saves(app, admin, api):
    response = app.test_client().patch("/api/v1/me", data=json.dumps({"full_name": "Анна 🐝"}),
                                       headers={**api, "Content-Type": "application/json"})
    assert response.status_code == 200 and User.get_by_id(admin.id).full_name == "Анна 🐝"


def test_deep_json_to_an_html_form_or_a_passkey_step_is_a_4xx(app, signed_in):
    token = csrf_from(signed_in.get("/app/personal-data").get_data(as_text=True))
    deep = "[" * 100_000 + "]" * 100_000
    for url in ("/app/personal-data/field/short_info", "/login/passkey", "/app/security/passkeys/"):
        response = signed_in.post(url, data=deep, headers={"X-CSRFToken": token, "Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, url

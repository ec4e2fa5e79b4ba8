"""The product's operations (POST /api/v1/operations ...): started, progress reported with counts and a
status line, finished or failed once; /app/operations shows them to the organization with live progress
(htmx polling with JavaScript, a refresh link without), and the end is told as for every job."""
import json

import pytest

from models import Notification, Operation, User, Webhook, WebhookDelivery
from services import crypto, service_keys
from tests.conftest import make_user, sign_in

API = "/api/v1/operations"


@pytest.fixture
def key(app, org, user):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    return service_keys.create_key(org.id, None, "Importer", ["read", "write"])[0]


def call(client, key, path="", body=None, method="POST"):
    return client.open(API + path, method=method, json=body, headers={"Authorization": f"Bearer {key}"})


def test_an_operation_reports_progress_on_the_list_and_tells_its_person_when_it_ends(app, client, key, org, user):
    Webhook.create(organization=org, url="https://hooks.example.com/k", events="operation.finished",
                   secret_encrypted=crypto.encrypt("s", app.config))
    started = call(client, key, body={"title": "Import of 12 000 contacts", "total": 12000, "user_id": user.id})
    assert started.status_code == 201, started.get_json()
    op = started.get_json()
    assert op["status"] == "pending" and op["total"] == 12000 and op["progress"] == 0
    colleague = make_user(org, "boris@example.com")
    sign_in(client, colleague.email)
    html = client.get("/app/operations").get_data(as_text=True)
    assert "Import of 12 000 contacts" in html, "the product's jobs are the whole organization's"
    reported = call(client, key, f"/{op['id']}/progress", {"done": 3000, "status_line": "Checking addresses"})
    assert reported.status_code == 200 and reported.get_json()["progress"] == 25
    html = client.get("/app/operations").get_data(as_text=True)
    table = html.split('id="operations"')[1]
    assert "hx-trigger=\"every" in table.split(">")[0], "with JavaScript the table polls itself while it runs"
    assert '<noscript> <a href="/app/operations">Refresh</a></noscript>' in table, "without, a link reloads it"
    assert 'value="25"' in table and "3000 of 12000" in table and "Checking addresses" in table
    assert call(client, key, f"/{op['id']}/progress", {"percent": 90}).get_json()["progress"] == 90
    done = call(client, key, f"/{op['id']}/finish", {"result": "11 950 imported", "result_url": "/app/account/files"})
    assert done.status_code == 200 and done.get_json()["status"] == "completed" and done.get_json()["progress"] == 100
    again = call(client, key, f"/{op['id']}/finish", {})
    assert again.status_code == 409 and again.get_json()["code"] == "finished"
    assert call(client, key, f"/{op['id']}/progress", {"percent": 5}).status_code == 409
    told = Notification.get(Notification.user == user.id)
    assert told.category == "operations" and json.loads(told.data)["title"] == "Import of 12 000 contacts"
    assert not Notification.select().where(Notification.user == colleague.id, Notification.category == "operations").exists()
    assert json.loads(WebhookDelivery.get().payload)["data"]["title"] == "Import of 12 000 contacts"
    table = client.get("/app/operations").get_data(as_text=True).split('id="operations"')[1]
    assert "hx-trigger" not in table.split(">")[0] and "<noscript>" not in table and "11 950 imported" in table
    User.update(language="ru").where(User.id == user.id).execute()
    anna = app.test_client()
    sign_in(anna)
    feed = anna.get("/app/notifications").get_data(as_text=True)
    assert "Import of 12 000 contacts" in feed and "Операция завершена" in feed


def test_failing_and_bad_input(client, key, org, user):
    op = call(client, key, body={"title": "Export"}).get_json()
    assert Operation.get_by_id(op["id"]).user_id is None, "a service key's job may be for nobody in particular"
    for path, body, field in [("", {}, "title"), ("", {"title": "x", "user_id": 10**6}, "user_id"),
                              ("", {"title": "x", "total": -1}, "total"),
                              (f"/{op['id']}/progress", {"percent": 101}, "percent"),
                              (f"/{op['id']}/finish", {"result_url": "https://evil.example"}, "result_url"),
                              (f"/{op['id']}/finish", {"result_url": "//evil.example"}, "result_url"),
                              (f"/{op['id']}/fail", {}, "error")]:
        response = call(client, key, path, body)
        assert response.status_code == 422 and field in response.get_json()["fields"], (path, body, response.get_json())
    assert call(client, key, "", {"title": "x", "total": 1.5}).status_code == 422
    assert call(client, key, "", {"title": "x", "total": True}).status_code == 422
    failed = call(client, key, f"/{op['id']}/fail", {"error": "The file is not CSV"})
    assert failed.status_code == 200 and failed.get_json()["status"] == "failed"
    assert call(client, key, f"/{op['id']}/fail", {"error": "again"}).status_code == 409
    data_export = Operation.create(organization=org, user=user, kind="data_export")
    assert call(client, key, f"/{data_export.id}", method="GET").status_code == 404, "only the product's jobs"
    assert call(client, key, f"/{op['id']}", method="GET").get_json()["error"] == "The file is not CSV"

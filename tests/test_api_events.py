"""POST /api/v1/events: the product reports what happened; each event goes to the webhooks subscribed to
its type and, for a type with a notification category, to the people concerned by their channels; once
per Idempotency-Key; the catalog is documented and grows by configuration (PRODUCT_EVENTS)."""
import json

import pytest

from models import Notification, OutboxMessage, Webhook, WebhookDelivery
from services import crypto, product_events, service_keys
from services.permissions import grant
from tests.conftest import make_app, make_user

API = "/api/v1/events"


@pytest.fixture
def key(app, org, user):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    return service_keys.create_key(org.id, None, "Product", ["write"])[0]


def hook(app, org, events):
    return Webhook.create(organization=org, url="https://hooks.example.com/k", events=events,
                          secret_encrypted=crypto.encrypt("s", app.config))


def send(client, key, body, idem="evt-1", **headers):
    return client.post(API, json=body, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem, **headers})


def test_an_event_goes_to_subscribed_webhooks_only_and_once(app, client, key, org):
    clicks = hook(app, org, "link.clicked message.opened")
    hook(app, org, "dispatch.sent")
    body = {"type": "link.clicked", "data": {"url": "https://example.com/sale", "message": "M-7"}}
    first = send(client, key, body)
    assert first.status_code == 202 and first.get_json() == {"id": "evt-1", "type": "link.clicked", "webhooks": 1,
                                                             "notified": 0}
    delivery = WebhookDelivery.get()
    assert delivery.webhook_id == clicks.id and delivery.event == "link.clicked"
    assert json.loads(delivery.payload)["data"] == {"id": "evt-1", "data": body["data"]}
    again = send(client, key, body)
    assert again.status_code == 202 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true" and WebhookDelivery.select().count() == 1
    changed = send(client, key, {**body, "data": {"url": "x"}})
    assert changed.status_code == 422 and "Idempotency-Key" in changed.get_json()["fields"]


def test_a_request_status_change_tells_the_people_concerned_in_their_language(app, client, key, org, user):
    boris = make_user(org, "boris@example.com", language="ru")
    body = {"type": "request.status_changed", "data": {"ref": "R-1042", "status": "In progress"},
            "user_ids": [boris.id]}
    answer = send(client, key, body)
    assert answer.status_code == 202 and answer.get_json()["notified"] == 1
    told = Notification.get()
    assert told.user_id == boris.id and told.category == "requests"
    channels = {m.channel for m in OutboxMessage.select().where(OutboxMessage.user == boris.id)}
    assert channels == {"email", "in_app"}, "the person's default channels of the matrix"
    from services.notifications import render_for

    with app.test_request_context():
        title, text = render_for(boris, told.category, json.loads(told.data))
    assert title == "Статус заявки изменился" and "R-1042" in text
    # without names: everyone who may see the category (imports need clients.import)
    grant(user, "clients.import")
    imported = send(client, key, {"type": "import.finished", "data": {"count": 120, "file": "leads.csv"}}, idem="e2")
    assert imported.get_json()["notified"] == 1
    assert Notification.select().where(Notification.category == "imports").get().user_id == user.id


def test_bad_events_are_named_and_send_nothing(app, client, key, org):
    hook(app, org, "link.clicked request.status_changed")
    cases = [({}, "type"), ({"type": "nope.nope"}, "type"), ({"type": "link.clicked", "data": [1]}, "data"),
             ({"type": "request.status_changed", "data": {"ref": "R-1"}}, "data"),
             ({"type": "link.clicked", "data": {"x": "y" * 5000}}, "data"),
             ({"type": "link.clicked", "user_ids": ["1"]}, "user_ids"),
             ({"type": "link.clicked", "user_ids": [10**6]}, "user_ids"),
             ({"type": "link.clicked", "extra": 1}, "extra")]
    for body, field in cases:
        response = send(client, key, body)
        assert response.status_code == 422 and field in response.get_json()["fields"], (body, response.get_json())
    russian = send(client, key, {"type": "nope.nope"}, **{"Accept-Language": "ru"}).get_json()["fields"]["type"][0]
    assert russian.startswith("Выберите тип события из каталога")
    assert client.post(API, json={"type": "link.clicked"}, headers={
        "Authorization": f"Bearer {key}"}).get_json()["fields"] == {"Idempotency-Key": ["Send the Idempotency-Key header."]}
    assert WebhookDelivery.select().count() == 0


def test_the_catalog_is_documented_and_grows_by_configuration(config, database, org, user):
    config["PRODUCT_EVENTS"] = json.dumps({"order.paid": {"label": "Order paid", "category": "billing",
                                                          "fields": ["number"]}})
    app = make_app(config)
    client = app.test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    schema = document["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"dispatch.sent", "message.opened", "link.clicked", "request.status_changed", "import.finished",
            "order.paid"} <= set(schema["properties"]["type"]["enum"])
    grant(user, "billing.view")
    key = service_keys.create_key(org.id, None, "Shop", ["write"])[0]
    hook(app, org, "order.paid")
    paid = send(client, key, {"type": "order.paid", "data": {"number": "A-17", "text": "Order A-17 paid"}})
    assert paid.status_code == 202 and paid.get_json()["webhooks"] == 1 and paid.get_json()["notified"] == 1
    assert json.loads(Notification.get().data)["text"].endswith("Order A-17 paid")
    for bad in ('{"Order": {}}', '{"x.y": {"category": "nope"}}', "not json"):
        config["PRODUCT_EVENTS"] = bad
        with pytest.raises(product_events.CatalogError):
            make_app(config)

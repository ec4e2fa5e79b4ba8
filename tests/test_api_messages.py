"""POST /api/v1/notifications: the product tells one person or everyone holding a permission, in a
category of the matrix, by their channels, each in their own language; once per Idempotency-Key."""
import json

import pytest

from models import Notification, OutboxMessage, User
from services import service_keys
from services.notifications import render_for
from services.permissions import grant
from tests.conftest import make_user

API = "/api/v1/notifications"
TITLE = {"en": "Request answered", "ru": "На заявку ответили"}
TEXT = {"en": "Request R-1042 got an answer.", "ru": "На заявку R-1042 пришёл ответ."}


@pytest.fixture
def key(app, org, user):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    return service_keys.create_key(org.id, None, "Helpdesk", ["write"])[0]


def send(client, key, body, idem="n-1", **headers):
    return client.post(API, json=body, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem, **headers})


def test_one_person_is_told_in_their_language_by_their_channels_once(app, client, key, org, user):
    boris = make_user(org, "boris@example.com", language="ru")
    body = {"category": "requests", "user_id": boris.id, "title": TITLE, "text": TEXT}
    answer = send(client, key, body)
    assert answer.status_code == 202 and answer.get_json() == {"id": "n-1", "notified": 1}
    assert send(client, key, body).get_json() == answer.get_json(), "the same key: nothing more is sent"
    told = Notification.get()
    assert told.user_id == boris.id and told.category == "requests"
    assert {m.channel for m in OutboxMessage.select()} == {"email", "in_app"}
    with app.test_request_context():
        assert render_for(boris, "requests", json.loads(told.data)) == (TITLE["ru"], TEXT["ru"])
        assert render_for(User.get_by_id(user.id), "requests", json.loads(told.data)) == (TITLE["en"], TEXT["en"])


def test_everyone_holding_a_permission_who_may_see_the_category(client, key, org, user):
    boris = make_user(org, "boris@example.com")
    make_user(org, "vera@example.com")
    grant(user, "clients.import")
    grant(boris, "billing.view")
    imports = send(client, key, {"category": "imports", "permission": "clients.import", "title": TITLE, "text": TEXT})
    assert imports.get_json()["notified"] == 1 and Notification.get().user_id == user.id
    # billing is seen with billing.view: a holder of clients.view alone is left out
    grant(User.get(User.email == "vera@example.com"), "clients.view")
    billing = send(client, key, {"category": "billing", "permission": "clients.view", "title": TITLE, "text": TEXT},
                   idem="n-2")
    assert billing.get_json()["notified"] == 0


def test_bad_input_names_the_field(client, key, org):
    good = {"category": "requests", "user_id": 1, "title": TITLE, "text": TEXT}
    cases = [({**good, "category": "spam"}, "category"), ({**good, "title": {"en": "Only English"}}, "title"),
             ({**good, "text": {"en": "a", "ru": " "}}, "text"),
             ({**good, "title": "plain"}, "title"), ({**good, "permission": "users.view"}, "user_id"),
             ({k: v for k, v in good.items() if k != "user_id"}, "user_id"), ({**good, "user_id": 10**6}, "user_id"),
             ({**good, "user_id": None, "permission": "nope"}, "permission"), ({**good, "cc": 1}, "cc")]
    for body, field in cases:
        response = send(client, key, body)
        assert response.status_code == 422 and field in response.get_json()["fields"], (body, response.get_json())
    # No column stores a NUL: such a body is refused whole, as every JSON body is (blueprints/bounds.py).
    refused = send(client, key, {**good, "text": {"en": "a\x00", "ru": "б"}})
    assert refused.status_code == 400 and refused.get_json()["code"] == "bad_request"
    russian = send(client, key, {**good, "category": "spam"}, **{"Accept-Language": "ru"})
    assert russian.get_json()["fields"]["category"][0].startswith("Выберите категорию")
    assert Notification.select().count() == 0

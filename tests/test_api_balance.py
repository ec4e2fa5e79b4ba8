"""POST /api/v1/balance/charges and /credits: one change per Idempotency-Key (also when requests race on
PostgreSQL), the same answer again, another body under a used key refused; the balance history shows
the entries; the low-balance alert goes once when a charge crosses a threshold and re-arms above it."""
import threading
import uuid
from decimal import Decimal

import pytest

from models import BalanceEntry, IdempotencyRecord, Notification, Organization, db
from services import invoices, service_keys
from services.notifications import set_threshold
from services.permissions import grant
from tests.conftest import TEST_DATABASE_URL, sign_in

API = "/api/v1/balance"


@pytest.fixture
def key(app, org, user):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    Organization.update(balance=Decimal("1000.00")).where(Organization.id == org.id).execute()
    return service_keys.create_key(org.id, user, "Billing", ["read", "write"])[0]


def post(client, path, key, body, idem=None, **headers):
    headers = {"Authorization": f"Bearer {key}", **headers}
    if idem is not False:
        headers["Idempotency-Key"] = idem or uuid.uuid4().hex
    return client.post(f"{API}/{path}", json=body, headers=headers)


def balance(org):
    return Organization.get_by_id(org.id).balance


def test_a_charge_and_a_credit_change_the_balance_and_show_in_the_history(client, key, org, user):
    charged = post(client, "charges", key, {"amount": "150.50", "description": "SMS mailing, 1505 messages"})
    assert charged.status_code == 201, charged.get_json()
    assert charged.get_json()["change"] == "-150.50" and charged.get_json()["balance_after"] == "849.50"
    invoice = invoices.issue_invoice(Organization.get_by_id(org.id), Decimal("500"), *[invoices.utcnow().date()] * 2)
    credited = post(client, "credits", key, {"amount": 500, "description": "Payment", "invoice_id": invoice.id})
    assert credited.status_code == 201 and credited.get_json()["invoice_id"] == invoice.id
    assert balance(org) == Decimal("1349.50")
    grant(user, "billing.view")
    sign_in(client)
    page = client.get("/app/account/balance").get_data(as_text=True)
    assert "SMS mailing, 1505 messages" in page and "Payment" in page
    assert f'/app/account/invoices/{invoice.id}' in page


def test_the_same_key_twice_is_one_change_and_the_same_answer(client, key, org):
    body = {"amount": "10.00", "description": "Webinar seat"}
    first = post(client, "charges", key, body, idem="order-42")
    again = post(client, "charges", key, body, idem="order-42")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert BalanceEntry.select().count() == 1 and balance(org) == Decimal("990.00")
    other = post(client, "charges", key, {**body, "amount": "11.00"}, idem="order-42")
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["fields"]
    moved = post(client, "credits", key, body, idem="order-42")
    assert moved.status_code == 422, "a key used for a charge cannot become a credit"
    assert BalanceEntry.select().count() == 1


def test_bad_input_names_the_field_and_uses_no_key(client, key, org):
    cases = [({"amount": "-5", "description": "x"}, "amount"), ({"amount": "NaN", "description": "x"}, "amount"),
             ({"amount": "1.005", "description": "x"}, "amount"), ({"amount": "1e400", "description": "x"}, "amount"),
             ({"amount": "5"}, "description"), ({"amount": "5", "description": "x", "invoice_id": 999}, "invoice_id"),
             ({"amount": "5", "description": "x", "invoice_id": "abc"}, "invoice_id")]
    for body, field in cases:
        response = post(client, "charges", key, body, idem="k1")
        assert response.status_code == 422 and field in response.get_json()["fields"], (body, response.get_json())
    missing = post(client, "charges", key, {"amount": "5", "description": "x"}, idem=False)
    assert missing.status_code == 422 and "Idempotency-Key" in missing.get_json()["fields"]
    russian = post(client, "charges", key, {"amount": "5", "description": "x"}, idem=False, **{"Accept-Language": "ru"})
    assert russian.get_json()["fields"] == {"Idempotency-Key": ["Передайте заголовок Idempotency-Key."]}
    assert post(client, "charges", key, {"amount": True, "description": "x"}).status_code == 422
    assert post(client, "charges", key, {"amount": "5", "description": "x", "extra": 1}).status_code == 422
    assert client.post(f"{API}/charges", data="nope", headers={"Authorization": f"Bearer {key}",
                                                                 "Idempotency-Key": "k"}).status_code == 400
    assert IdempotencyRecord.select().count() == 0 and BalanceEntry.select().count() == 0
    assert post(client, "charges", key, {"amount": "5", "description": "x"}, idem="k1").status_code == 201
    other_org = Organization.create(name="Other LLC")
    invoice = invoices.issue_invoice(other_org, Decimal("1"), *[invoices.utcnow().date()] * 2)
    theirs = post(client, "credits", key, {"amount": "5", "description": "x", "invoice_id": invoice.id})
    assert theirs.status_code == 422 and "invoice_id" in theirs.get_json()["fields"]


def test_a_persons_key_needs_billing_edit(client, key, user):
    from services import apikeys

    personal = apikeys.create_key(user, "p", ["write"])[0]
    body = {"amount": "5", "description": "x"}
    assert post(client, "charges", personal, body).status_code == 403
    grant(user, "billing.edit")
    made = post(client, "charges", personal, body)
    assert made.status_code == 201 and BalanceEntry.get().actor_id == user.id


def test_the_low_balance_alert_goes_once_when_a_charge_crosses_it_and_rearms_above(client, key, org, user):
    set_threshold(user, Decimal("500"))
    alerts = lambda: Notification.select().where(Notification.user == user.id, Notification.category == "low_balance").count()  # noqa: E731
    post(client, "charges", key, {"amount": "400", "description": "a"})
    assert alerts() == 0, "600 is still above 500"
    post(client, "charges", key, {"amount": "200", "description": "b"})
    assert alerts() == 1, "400 crossed 500"
    post(client, "charges", key, {"amount": "100", "description": "c"})
    assert alerts() == 1, "once per fall"
    post(client, "credits", key, {"amount": "300", "description": "d"})
    post(client, "charges", key, {"amount": "200", "description": "e"})
    assert alerts() == 2, "re-armed at 600, crossed again at 400"


def wait_for_blocked_inserts(count):
    """On PostgreSQL: until `count` other sessions wait on a lock (the unique index), or 10 s."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        db.execute_sql("SELECT pg_stat_clear_snapshot()")  # the view is otherwise frozen for the transaction
        waiting = db.execute_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND datname = current_database()").fetchone()[0]
        if waiting >= count:
            return True
        time.sleep(0.01)  # polling pg_stat_activity: the only way to see another session wait
    return False


def test_racing_requests_with_one_key_make_one_change(app, key, org, monkeypatch):
    """Threads start together (a barrier); on PostgreSQL the first to insert the key holds its transaction open
    until the others are seen waiting on the unique index, so the race is real, not luck. On SQLite the
    database lock serializes writers: the same code runs, the race cannot interleave there."""
    threads_count = 6
    held = {"waited": None}
    original = invoices.change_balance

    def slow_change(*args, **kwargs):
        if TEST_DATABASE_URL and held["waited"] is None:
            held["waited"] = wait_for_blocked_inserts(threads_count - 1)
        return original(*args, **kwargs)

    monkeypatch.setattr(invoices, "change_balance", slow_change)
    barrier = threading.Barrier(threads_count)
    answers = []

    def run():
        with app.test_client() as client:
            barrier.wait()
            response = post(client, "charges", key, {"amount": "25.00", "description": "race"}, idem="same-key")
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=run) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == threads_count
    assert {status for status, _body in answers} == {201}, answers
    assert len({str(body) for _status, body in answers}) == 1, "every caller got the same answer"
    assert BalanceEntry.select().count() == 1 and balance(org) == Decimal("975.00")
    if TEST_DATABASE_URL:
        assert held["waited"], "the other requests waited on the key's row"

"""Notifications (issue 7): notify() and the outbox, delivery to real peers (aiosmtpd, HTTP stand-ins for
the SMS gateway, Telegram and Slack), retries with backoff, a worker killed half-way, the low-balance latch."""
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from models import LowBalanceAlert, Notification, OutboxMessage, UserAdminSettings, db, utcnow
from services import invoices, notifications, results
from services.notifications import deliver_notifications, notify, set_preference, set_threshold
from tests.conftest import make_user
from tests.http_peers import http_peer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def peers(app, smtp):
    """The SMS gateway, Telegram and Slack as real HTTP servers on 127.0.0.1, and the mail server."""
    with http_peer() as sms, http_peer(ok_body={"ok": True, "result": {}}) as telegram, http_peer() as slack:
        app.config.update(
            SMS_BACKEND="http", SMS_HTTP_URL=sms.url + "/send", SMS_HTTP_ALLOW_PRIVATE=True, SMS_HTTP_TIMEOUT=1,
            TELEGRAM_API_URL=telegram.url, TELEGRAM_BOT_TOKEN="123:abc", SLACK_API_URL=slack.url + "/api",
            SLACK_BOT_TOKEN="xoxb-test", NOTIFY_ALLOW_PRIVATE=True, NOTIFY_HTTP_TIMEOUT=1, NOTIFY_RETRY_SECONDS=0,
        )
        yield {"sms": sms, "telegram": telegram, "slack": slack, "email": smtp}


@pytest.fixture
def reachable(org):
    """A person reachable on every channel, who ticked all of them for payments and invoices."""
    person = make_user(org, "reach@example.com", phone="+79123456789", phone_verified=True, language="ru",
                       time_zone="Asia/Yekaterinburg")
    UserAdminSettings.create(user=person, telegram_chat_id="-100200", slack_chat_id="C0123")
    for channel in ("sms", "telegram", "slack"):
        set_preference(person, "billing", channel, True)
    return person


PAYMENT = {"kind": "payment", "number": "2026-0001", "amount": "1500.00", "currency": "RUB",
           "at": "2026-03-01T10:00:00"}


def test_notify_writes_one_row_per_chosen_channel_in_the_callers_transaction(app, peers, reachable, user):
    with app.app_context():
        assert notify(reachable, "billing", PAYMENT) == ["email", "sms", "telegram", "slack", "in_app"]
        # no phone, no chat ids: only e-mail and in-app, even when ticked
        set_preference(user, "billing", "sms", True)
        assert notify(user, "billing", PAYMENT) == ["email", "in_app"]
        with pytest.raises(RuntimeError), db.atomic():
            notify(reachable, "billing", PAYMENT)
            raise RuntimeError("the change that caused it failed")
    assert OutboxMessage.select().where(OutboxMessage.status == "pending").count() == 4 + 1
    assert Notification.select().count() == 2


def test_a_repeated_key_adds_nothing(app, reachable):
    with app.app_context():
        notify(reachable, "billing", PAYMENT, key="invoice:1:paid")
        notify(reachable, "billing", PAYMENT, key="invoice:1:paid")
    assert Notification.select().count() == 1
    assert OutboxMessage.select().where(OutboxMessage.channel == "email").count() == 1


def test_every_channel_delivers_once_in_the_recipients_language_and_zone(app, peers, reachable):
    with app.app_context():
        notify(reachable, "security", {"kind": "signin", "ip": "203.0.113.7", "device": "Firefox",
                                       "at": "2026-03-01T10:00:00"})
        for channel in ("sms", "telegram", "slack"):
            set_preference(reachable, "security", channel, True)
        notify(reachable, "billing", PAYMENT)
        assert deliver_notifications()["sent"] == 5
        assert deliver_notifications() == {"sent": 0, "retry": 0, "failed": 0}
    mails = peers["email"].wait_for(2)
    subjects = sorted(m.message["Subject"] for m in mails)
    assert subjects == ["Новый вход", "Получена оплата"]
    signin = next(m.message for m in mails if m.message["Subject"] == "Новый вход").get_content()
    assert "15:00" in signin  # 10:00 UTC is 15:00 in Yekaterinburg
    assert "1\u00a0500,00\u00a0₽" in peers["telegram"].texts()[0]
    assert peers["telegram"].requests[0][0] == "/bot123:abc/sendMessage"
    assert peers["telegram"].delivered[0]["chat_id"] == "-100200"
    path, headers, body = peers["slack"].requests[0]
    assert (path, headers["Authorization"], body["channel"]) == ("/api/chat.postMessage", "Bearer xoxb-test", "C0123")
    assert peers["sms"].delivered[0]["to"] == "+79123456789"
    assert OutboxMessage.select().where(OutboxMessage.status != "sent").count() == 0


@pytest.mark.parametrize("trouble", [[429], [500], ["hang"], ["drop"], [500, 429, "hang"]])
def test_telegram_trouble_is_retried_until_it_arrives(app, peers, reachable, trouble):
    peers["telegram"].script = list(trouble)
    with app.app_context():
        notify(reachable, "billing", PAYMENT)
        for _ in range(len(trouble)):
            counts = deliver_notifications()
            assert counts["retry"] >= 1 and counts["failed"] == 0
            OutboxMessage.update(next_attempt_at=utcnow()).execute()  # skip the backoff's wait
        deliver_notifications()
    assert len(peers["telegram"].delivered) == 1
    row = OutboxMessage.get(OutboxMessage.channel == "telegram")
    assert (row.status, row.attempts) == ("sent", len(trouble) + 1)


def test_backoff_doubles_and_a_429_retry_after_is_respected(app):
    config = {"NOTIFY_RETRY_SECONDS": 30}
    assert [notifications.backoff_seconds(config, n) for n in (1, 2, 3, 8)] == [30, 60, 120, 3600]
    assert notifications.backoff_seconds(config, 1, retry_after=300) == 300


def test_after_the_last_attempt_the_row_is_failed_and_kept(app, peers, reachable):
    peers["slack"].default = 500
    app.config.update(NOTIFY_MAX_ATTEMPTS=3)
    with app.app_context():
        notify(reachable, "billing", PAYMENT)
        for _ in range(4):
            deliver_notifications()
            OutboxMessage.update(next_attempt_at=utcnow()).where(OutboxMessage.status == "pending").execute()
    row = OutboxMessage.get(OutboxMessage.channel == "slack")
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "answered 500")
    assert len(peers["slack"].requests) == 3


def test_slack_ok_false_and_a_bad_token_fail_without_retrying(app, peers, reachable):
    peers["slack"].ok_body = {"ok": False, "error": "channel_not_found"}
    peers["telegram"].default = 401
    with app.app_context():
        notify(reachable, "billing", PAYMENT)
        assert deliver_notifications()["failed"] == 2
    assert OutboxMessage.get(OutboxMessage.channel == "slack").last_error == "slack: channel_not_found"


def test_private_api_address_is_refused_unless_allowed(app, peers, reachable):
    app.config.update(NOTIFY_ALLOW_PRIVATE=False)
    with app.app_context():
        notify(reachable, "billing", PAYMENT)
        deliver_notifications()
    assert peers["telegram"].requests == [] and peers["slack"].requests == []
    assert OutboxMessage.get(OutboxMessage.channel == "telegram").status == "failed"


def test_two_workers_never_claim_the_same_row(app, reachable):
    with app.app_context():
        for n in range(40):
            notify(reachable, "billing", PAYMENT, key=f"k{n}")
    claimed, barrier = [], threading.Barrier(2)

    def worker():
        with db.connection_context():
            barrier.wait()
            claimed.append([row_id for row_id, _attempts in notifications.claim_due(100, 60)])

    threads = [threading.Thread(target=worker) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == OutboxMessage.select().where(OutboxMessage.status == "sending").count()


WORKER = """
import os, sys
sys.path.insert(0, {root!r})
from app import create_app
from models import open_database
from services.notifications import deliver_notifications
app = create_app({{"DATABASE": open_database({url!r}), "SECRET_KEY": "x", "INSTANCE_PATH": {instance!r},
    "TELEGRAM_API_URL": {telegram!r}, "TELEGRAM_BOT_TOKEN": "1:t", "NOTIFY_ALLOW_PRIVATE": True,
    "NOTIFY_HTTP_TIMEOUT": 5, "NOTIFY_LEASE_SECONDS": 1, "NOTIFY_RETRY_SECONDS": 0}})
with app.app_context():
    print(deliver_notifications(), flush=True)
"""


def test_a_worker_killed_half_way_loses_nothing_and_a_clean_restart_sends_each_once(app, database_url, reachable, tmp_path):
    """The Telegram stand-in kills the worker process while it waits for the 4th answer; the next worker
    picks up the rest once the lease is over, and every message arrives exactly once."""
    app.config.update(TELEGRAM_BOT_TOKEN="1:t")
    set_preference(reachable, "billing", "email", False)
    with app.app_context():
        for n in range(8):
            notify(reachable, "billing", {**PAYMENT, "number": f"2026-{n:04d}"}, key=f"invoice:{n}")
    OutboxMessage.delete().where(OutboxMessage.channel.not_in(("telegram",))).execute()
    worker = {}

    def kill_worker():
        worker["process"].kill()
        worker["process"].wait()

    with http_peer(script=[200, 200, 200, kill_worker]) as telegram:
        script = WORKER.format(root=str(ROOT), url=database_url, instance=str(tmp_path), telegram=telegram.url)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        log = (tmp_path / "worker.log").open("w")
        worker["process"] = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT,
                                             stdout=subprocess.DEVNULL, stderr=log)
        worker["process"].wait(60)
        log.close()
        assert worker["process"].returncode != 0, (tmp_path / "worker.log").read_text()[-2000:]
        assert len(telegram.delivered) == 3
        stuck = OutboxMessage.select().where(OutboxMessage.status == "sending").count()
        assert stuck >= 1  # the killed worker's lease, not yet over
        time.sleep(1.2)
        rerun = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
    texts = telegram.texts()
    assert len(texts) == 8 and len(set(texts)) == 8  # each of the 8 invoices once
    assert OutboxMessage.select().where(OutboxMessage.status != "sent").count() == 0


def balance(org, value):
    from models import Organization

    current = Organization.get_by_id(org.id).balance or 0
    invoices.change_balance(org.id, Decimal(value) - Decimal(current), "test")


def test_low_balance_alert_goes_once_per_fall_and_re_arms_above(app, org, user):
    with app.app_context():
        set_threshold(user, Decimal("100.00"))  # balance is 1234.50
        balance(org, "500")
        assert Notification.select().count() == 0
        balance(org, "99.99")
        balance(org, "50")
        balance(org, "10")
        assert Notification.select().count() == 1
        balance(org, "100")  # at the threshold: re-armed
        balance(org, "20")
        assert Notification.select().count() == 2
        data = json.loads(Notification.select().order_by(Notification.id.desc()).get().data)
        assert (data["kind"], data["balance"], data["threshold"]) == ("low_balance", "20.00", "100.00")


def test_a_threshold_set_below_the_current_balance_waits_for_a_recovery(app, org, user):
    with app.app_context():
        set_threshold(user, Decimal("5000"))
        assert LowBalanceAlert.get_by_id(user.id).alerted
        balance(org, "100")
        assert Notification.select().count() == 0
        set_threshold(user, None)
        assert not LowBalanceAlert.select().exists()


# --- events wired to notify() ------------------------------------------------------------------------


def test_a_new_sign_in_is_a_security_notification(app, client, user):
    from tests.conftest import sign_in

    sign_in(client)
    row = Notification.get(Notification.user == user.id)
    data = json.loads(row.data)
    assert (row.category, data["kind"], data["ip"]) == ("security", "signin", "127.0.0.1")
    assert OutboxMessage.get(OutboxMessage.channel == "email").category == "security"


def test_a_password_change_keeps_its_mandatory_mail_and_adds_the_chosen_channels(app, client, user, smtp):
    """SECURITY.md 13: the direct e-mail stays; notify() adds in-app (and SMS/Telegram/Slack if ticked)."""
    from blueprints.auth import notify_password_changed

    with app.test_request_context():
        notify_password_changed(user)
    assert smtp.wait_for(1)[0].message["Subject"] == "Your Kabinet password was changed"
    assert json.loads(Notification.get(Notification.user == user.id).data)["kind"] == "password"
    assert not OutboxMessage.select().where(OutboxMessage.channel == "email").exists()


def test_a_client_import_is_an_operation_and_tells_the_importer(app, client, org):
    import io

    from models import Operation
    from services.permissions import grant
    from tests.conftest import csrf_from, sign_in

    importer = make_user(org, "imp@example.com")
    grant(importer, "clients.view", "clients.import")
    sign_in(client, "imp@example.com")
    token = csrf_from(client.get("/admin/clients").get_data(as_text=True))
    response = client.post("/admin/clients/import", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(b"name\nA\nB\n"), "c.csv")})
    assert response.status_code == 303
    operation = Operation.get()
    assert (operation.kind, operation.status, operation.progress, operation.user_id) == (
        "client_import", "completed", 100, importer.id)
    assert operation.started_at and operation.finished_at
    with app.test_request_context(headers={"Accept-Language": "ru"}):  # stored as what happened, worded when shown
        assert results.message_text(operation.result) == "Импортировано 2 клиента."
    note = Notification.get(Notification.user == importer.id, Notification.category == "imports")
    assert json.loads(note.data)["operation_id"] == operation.id


def test_a_row_claimed_again_by_another_worker_is_skipped(app, peers, reachable, monkeypatch):
    """The lease ran out while this worker was busy and another one claimed the row: only one sends it."""
    with app.app_context():
        set_preference(reachable, "billing", "email", False)
        notify(reachable, "billing", PAYMENT)
        real_claim = notifications.claim_due

        def claim_then_lose(limit, lease):
            ids = real_claim(limit, lease)
            OutboxMessage.update(attempts=OutboxMessage.attempts + 1).where(
                OutboxMessage.channel == "telegram").execute()  # the other worker's claim
            return ids

        monkeypatch.setattr(notifications, "claim_due", claim_then_lose)
        deliver_notifications()
    assert peers["telegram"].requests == [] and len(peers["slack"].delivered) == 1


def test_a_finished_operation_is_an_operation_finished_webhook_event(app, org, user):
    import pytest as _pytest

    webhooks = _pytest.importorskip("services.webhooks")
    from models import WebhookDelivery
    from services import operations

    webhooks.create_endpoint(org.id, user, "https://hooks.example.com/k", ["operation.finished"],
                             {"SECRET_KEY": "test-secret"})
    with app.test_request_context():
        job = operations.start_operation(user, "data_export")
        operations.fail_operation(job, "disk full")
        operations.fail_operation(job, "again")  # ends once: no second event
    [delivery] = WebhookDelivery.select()
    payload = json.loads(delivery.payload)
    assert delivery.event == "operation.finished"
    assert "disk full" in json.dumps(payload) and '"failed"' in json.dumps(payload)


def test_a_stored_result_goes_to_webhooks_worded_in_english_with_its_key(app, org, user):
    """The list and the notification word a result in their reader's language; the webhook, for a program,
    carries the English wording with the message key and figures."""
    import pytest as _pytest

    webhooks = _pytest.importorskip("services.webhooks")
    from models import WebhookDelivery
    from services import operations

    webhooks.create_endpoint(org.id, user, "https://hooks.example.com/k", ["operation.finished"],
                             {"SECRET_KEY": "test-secret"})
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        job = operations.start_operation(user, "client_import")
        operations.finish_operation(job, result=results.stored_message("clients_imported", count=5))
    payload = json.loads(WebhookDelivery.get().payload)["data"]
    assert (payload["result"], payload["result_key"], payload["result_figures"]) == (
        "5 clients imported.", "clients_imported", {"count": 5})

"""examples/kabinet_client.py (the standard library only) against a live server: a charge retried with its
key changes the balance once, an operation runs to its end, an event and a notification go out, bad input
comes back as KabinetError naming the field; the command line runs with no site-packages at all."""
import json
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from models import BalanceEntry, Notification, Operation, Organization, Webhook, WebhookDelivery
from services import crypto, service_keys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import kabinet_client  # noqa: E402


@pytest.fixture
def server(app):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    live = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=live.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{live.server_port}"
    live.shutdown()
    live.server_close()
    thread.join(5)


@pytest.fixture
def key(org):
    Organization.update(balance=Decimal("100.00")).where(Organization.id == org.id).execute()
    return service_keys.create_key(org.id, None, "Example", ["read", "write"])[0]


def test_the_example_client_reports_everything_a_product_does(app, server, key, org, user):
    client = kabinet_client.Kabinet(server, key)
    first = client.charge("30.00", "Mailing", idempotency_key="mailing-1")
    assert client.charge("30.00", "Mailing", idempotency_key="mailing-1") == first, "a retry is answered the same"
    assert first["balance_after"] == "70.00" and BalanceEntry.select().count() == 1
    with pytest.raises(kabinet_client.KabinetError) as refused:
        client.charge("-1", "Mailing")
    assert refused.value.status == 422 and "amount" in refused.value.fields
    job = client.start_operation("Import of 3 contacts", total=3, user_id=user.id)
    assert client.progress(job["id"], done=2, status_line="Two of three")["progress"] == 66
    assert client.finish(job["id"], result="3 imported")["status"] == "completed"
    assert Operation.get_by_id(job["id"]).status == "completed"
    assert Notification.select().where(Notification.user == user.id, Notification.category == "operations").exists()
    Webhook.create(organization=org, url="https://hooks.example.com/k", events="link.clicked",
                   secret_encrypted=crypto.encrypt("s", app.config))
    assert client.event("link.clicked", {"url": "https://example.com"})["webhooks"] == 1
    assert WebhookDelivery.select().count() == 1
    told = client.notify("requests", {"en": "Hello", "ru": "Привет"}, {"en": "Text", "ru": "Текст"}, user_id=user.id)
    assert told["notified"] == 1


def test_the_command_line_needs_nothing_but_the_standard_library(server, key):
    env = {"KABINET_URL": server, "KABINET_KEY": key, "PATH": os.environ.get("PATH", "")}
    script = str(ROOT / "examples" / "kabinet_client.py")
    run = subprocess.run([sys.executable, "-I", "-S", script, "charge", "12.50", "SMS", "cli-1"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["change"] == "-12.50"
    bad = subprocess.run([sys.executable, "-I", "-S", script, "event", "nope.nope"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1 and "type" in bad.stderr

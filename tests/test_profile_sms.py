"""The SMS service (console and http backends against a real HTTP server) and the one-time code rules."""
import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models import OneTimeCode, db, utcnow
from services import codes
from services.sms import BACKENDS, SmsError, send_sms
from tests.conftest import make_user
from tests.races import hold_after, run_together
from tests.smtp_peers import closed_port


class Gateway:
    """A real HTTP server on 127.0.0.1 standing in for an SMS gateway; `status` is what it answers."""

    def __init__(self):
        self.requests = []
        self.status = 200
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gateway.requests.append({"headers": dict(self.headers), "body": json.loads(body or b"{}"), "path": self.path})
                self.send_response(gateway.status)
                if gateway.status in (301, 302):
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(app):
    """The app's SMS goes to a real HTTP gateway on 127.0.0.1."""
    server = Gateway()
    app.config.update(
        SMS_BACKEND="http", SMS_HTTP_URL=server.url, SMS_HTTP_TOKEN="gw-token", SMS_HTTP_ALLOW_PRIVATE=True, SMS_HTTP_TIMEOUT=2
    )
    yield server
    server.close()


def test_console_backend_appends_to_the_outbox(app, capsys):
    send_sms(app.config, "+79123456789", "Код: 123456")
    lines = (app.config["INSTANCE_PATH"] + "/sms-outbox.jsonl", )
    with open(lines[0], encoding="utf-8") as f:
        record = json.loads(f.readlines()[-1])
    assert record["to"] == "+79123456789" and record["text"] == "Код: 123456"
    assert "Код: 123456" in capsys.readouterr().out


def test_http_backend_posts_json_with_a_bearer_token(app, gateway):
    send_sms(app.config, "+79123456789", "hello")
    request = gateway.requests[0]
    assert request["headers"]["Authorization"] == "Bearer gw-token"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == {"to": "+79123456789", "text": "hello", "sender": "Kabinet"}


@pytest.mark.parametrize("status", [500, 401, 302])
def test_http_backend_failures_raise_and_are_logged(app, gateway, caplog, status):
    gateway.status = status
    with caplog.at_level(logging.WARNING), pytest.raises(SmsError):
        send_sms(app.config, "+79123456789", "secret text 654321")
    assert len(gateway.requests) == 1  # a redirect is not followed (SECURITY.md 26)
    assert "SMS to +79123456789 failed" in caplog.text and "654321" not in caplog.text


def test_http_backend_unreachable_gateway(app):
    app.config.update(SMS_BACKEND="http", SMS_HTTP_URL=f"http://127.0.0.1:{closed_port()}/", SMS_HTTP_ALLOW_PRIVATE=True)
    with pytest.raises(SmsError, match="unreachable"):
        send_sms(app.config, "+79123456789", "x")


def test_http_backend_refuses_private_addresses_unless_allowed(app, gateway):
    app.config.update(SMS_HTTP_ALLOW_PRIVATE=False)
    with pytest.raises(SmsError, match="private address"):
        send_sms(app.config, "+79123456789", "x")
    assert gateway.requests == []


def test_unknown_backend(app):
    app.config.update(SMS_BACKEND="carrier-pigeon")
    with pytest.raises(SmsError):
        send_sms(app.config, "+79123456789", "x")


def test_a_provider_is_one_class():
    assert set(BACKENDS) == {"console", "http"}


# --- codes ------------------------------------------------------------------------------------------


@pytest.fixture
def person(app, org):
    with app.app_context():  # codes are keyed with the app's secret
        yield make_user(org)


def age_codes(seconds):
    """Move every code `seconds` into the past, as if that much time had gone by."""
    for row in OneTimeCode.select():
        OneTimeCode.update(created_at=row.created_at - timedelta(seconds=seconds), expires_at=row.expires_at - timedelta(seconds=seconds)).where(OneTimeCode.id == row.id).execute()


def issue(person, target="+79123456789"):
    sent = []
    codes.issue_code(person, "phone", target, sent.append)
    return sent[-1]


def test_code_is_six_random_digits_stored_as_a_keyed_hash(person):
    code = issue(person)
    assert len(code) == 6 and code.isdigit()
    row = OneTimeCode.get()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at - row.created_at == timedelta(minutes=10)


def test_right_code_works_once(person):
    code = issue(person)
    assert codes.check_code(person, "phone", "+79123456789", code).status == "ok"
    assert codes.check_code(person, "phone", "+79123456789", code).status == "missing"


def test_code_is_bound_to_purpose_and_target(person):
    code = issue(person)
    assert codes.check_code(person, "phone", "+79990000000", code).status == "other_target"
    assert codes.check_code(person, "email", "+79123456789", code).status == "missing"
    assert codes.check_code(person, "phone", "+79123456789", code).status == "ok"


def test_five_wrong_tries_void_the_code(person):
    code = issue(person)
    wrong = "000000" if code != "000000" else "111111"
    results = [codes.check_code(person, "phone", "+79123456789", wrong) for _ in range(5)]
    assert [r.tries_left for r in results[:4]] == [4, 3, 2, 1] and results[4].status == "locked"
    assert codes.check_code(person, "phone", "+79123456789", code).status == "missing"


def test_expired_code(person):
    code = issue(person)
    OneTimeCode.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert codes.check_code(person, "phone", "+79123456789", code).status == "expired"


def test_resend_waits_a_minute_and_replaces_the_old_code(person):
    first = issue(person)
    with pytest.raises(codes.CodeThrottled) as exc:
        issue(person)
    assert exc.value.reason == "resend" and 55 <= exc.value.seconds <= 60
    age_codes(61)
    second = issue(person)
    if first != second:
        assert codes.check_code(person, "phone", "+79123456789", first).status == "wrong"
    assert codes.check_code(person, "phone", "+79123456789", second).status == "ok"


def test_two_sends_at_once_send_one_code(app, person, monkeypatch):
    """SECURITY.md 7 under concurrency (issue item 5): the sends are counted, then a code is added. Two
    requests at once send one code; the other is told to wait, as a resend within the minute is."""
    hold_after(monkeypatch, codes, "throttle")

    def send():
        with app.app_context(), db.connection_context():
            return issue(person)

    results = run_together(send, send)
    assert sorted("a code" if r.isdigit() else r for r in results) == ["CodeThrottled('resend')", "a code"]
    assert OneTimeCode.select().count() == 1


def test_five_sends_an_hour_per_person(person):
    for i in range(5):
        issue(person, f"+7912345678{i}")
        age_codes(61)
    with pytest.raises(codes.CodeThrottled) as exc:
        issue(person, "+79123456789")
    assert exc.value.reason == "person" and exc.value.seconds > 3000


def test_five_sends_an_hour_per_number(app, org, person):
    for i in range(5):
        issue(make_user(org, email=f"p{i}@example.com"), "+79123456789")
    with pytest.raises(codes.CodeThrottled) as exc:
        issue(make_user(org, email="last@example.com"), "+79123456789")
    assert exc.value.reason == "target"


def test_people_texting_one_number_at_once_stay_within_its_limit(app, org, monkeypatch):
    """Four codes already went to the number this hour; two other people ask for one at the same moment:
    one gets it, the other is told the number has had enough (the target is locked, not only the person)."""
    with app.app_context():
        for i in range(4):
            issue(make_user(org, email=f"p{i}@example.com"), "+79123456789")
    racers = [make_user(org, email=f"r{i}@example.com") for i in range(2)]
    hold_after(monkeypatch, codes, "throttle")

    def send(person):
        with app.app_context(), db.connection_context():
            return issue(person)

    results = run_together(lambda: send(racers[0]), lambda: send(racers[1]))
    assert sorted("a code" if r.isdigit() else r for r in results) == ["CodeThrottled('target')", "a code"]
    assert OneTimeCode.select().where(OneTimeCode.target == "+79123456789").count() == 5


def test_failed_send_leaves_the_old_code_working(person):
    code = issue(person)
    age_codes(61)

    def broken(_code):
        raise SmsError("down")

    with pytest.raises(SmsError):
        codes.issue_code(person, "phone", "+79123456789", broken)
    assert OneTimeCode.select().count() == 1
    assert codes.check_code(person, "phone", "+79123456789", code).status == "ok"


def test_old_codes_are_purged_after_a_day(person):
    issue(person)
    codes.purge_old_codes()
    assert OneTimeCode.select().count() == 1
    age_codes(86401)
    assert codes.purge_old_codes() == 1 and OneTimeCode.select().count() == 0

"""Mail servers behind the page: encryption and key rotation, the status checks and the scheduler job (issue 4)."""
import logging
import time

import pytest

from models import MailServer, utcnow
from services import crypto, scheduler
from services.mail_servers import check_servers, poll_mail_servers, send_mail, store_result
from services.mailer import MailError
from services.smtp_probe import ProbeResult
from tests.smtp_peers import closed_port, hangup_peer, silent_peer, smtp_server
from tests.test_mail_servers import SECRET, add_server

@pytest.fixture(autouse=True)
def allow_loopback(app):
    app.config["MAIL_ALLOW_PRIVATE"] = True  # the real SMTP peers listen on 127.0.0.1


# --- secrets at rest --------------------------------------------------------------------------------


def test_encrypt_round_trips_and_hides_the_text():
    config = {"SECRET_KEY": "k", "ENCRYPTION_KEY": ""}
    token = crypto.encrypt("пароль ✓", config)
    assert "пароль" not in token and token != crypto.encrypt("пароль ✓", config)  # fresh IV each time
    assert crypto.decrypt(token, config) == "пароль ✓"
    assert crypto.encrypt("", config) == "" and crypto.decrypt("", config) == ""


def test_a_token_does_not_open_with_another_key_or_when_tampered():
    token = crypto.encrypt("secret", {"ENCRYPTION_KEY": "one"})
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(token, {"ENCRYPTION_KEY": "two"})
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(token[:-4] + "AAAA", {"ENCRYPTION_KEY": "one"})
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt("not a token", {"ENCRYPTION_KEY": "one"})


def test_without_an_encryption_key_the_secret_key_is_used_and_still_opens_after_one_is_set():
    token = crypto.encrypt("secret", {"SECRET_KEY": "app secret"})
    assert crypto.decrypt(token, {"SECRET_KEY": "app secret", "ENCRYPTION_KEY": "new"}) == "secret"


def test_rotate_key_re_encrypts_every_secret_with_the_first_key(app, org):
    """README "Rotating the encryption key": put the new key first, run `flask rotate-key`, drop the old."""
    from tests.conftest import make_user

    user = make_user(org)
    app.config["ENCRYPTION_KEY"] = "old key"
    with app.app_context():
        servers = [add_server(app, user, password=f"pw{i}") for i in range(3)]
        add_server(app, user, password="", username="")  # no password: nothing to rotate
    app.config["ENCRYPTION_KEY"] = "new key,old key"
    result = app.test_cli_runner().invoke(args=["rotate-key"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 3 secret(s)" in result.output
    only_new = {"ENCRYPTION_KEY": "new key"}  # and no SECRET_KEY fallback
    for i, server in enumerate(servers):
        assert crypto.decrypt(MailServer.get_by_id(server.id).password_token, only_new) == f"pw{i}"


def test_rotate_key_reports_secrets_no_key_opens_and_fails(app, org):
    from tests.conftest import make_user

    user = make_user(org)
    server = add_server(app, user)
    MailServer.update(password_token=crypto.encrypt("x", {"ENCRYPTION_KEY": "lost key"})).execute()
    result = app.test_cli_runner().invoke(args=["rotate-key"])
    assert result.exit_code == 1
    assert f"mail_server:{server.id}" in result.output


# --- status checks ----------------------------------------------------------------------------------


@pytest.fixture
def owner(app, org):
    from tests.conftest import make_user

    return make_user(org)


def config_for(app, timeout=2, ssl_context=None):
    app.config.update(MAIL_PROBE_TIMEOUT=timeout, MAIL_SSL_CONTEXT=ssl_context)
    return app.config


def test_live_servers_go_online_in_every_security_mode(app, owner):
    with smtp_server() as plain, smtp_server(tls="starttls", auth=("ann", SECRET)) as starttls, \
            smtp_server(tls="implicit", auth=("ann", SECRET), certificate=starttls.certificate) as implicit:
        servers = [
            add_server(app, owner, host=plain.host, port=plain.port, security="none", username=""),
            add_server(app, owner, host=starttls.host, port=starttls.port, security="starttls", username="ann"),
            add_server(app, owner, host=implicit.host, port=implicit.port, security="ssl", username="ann"),
        ]
        results = check_servers(servers, config_for(app, ssl_context=starttls.ssl_context))
    assert [result.online for _, result in results] == [True, True, True]
    for server in MailServer.select():
        assert server.status == "online" and server.checked_at is not None and server.reason is None


def test_failures_are_stored_offline_with_their_reason_and_code(app, owner):
    with smtp_server(tls="starttls", auth=("ann", "other")) as refused_auth, silent_peer() as silent, \
            hangup_peer() as hangup, smtp_server(tls="implicit") as untrusted:
        cases = {
            "auth": add_server(app, owner, host=refused_auth.host, port=refused_auth.port, username="ann"),
            "refused": add_server(app, owner, host="127.0.0.1", port=closed_port(), security="none"),
            "timeout": add_server(app, owner, host=silent.host, port=silent.port, security="none"),
            "protocol": add_server(app, owner, host=hangup.host, port=hangup.port, security="none"),
            # A certificate nobody vouches for: the check uses the system CAs here, not the test CA.
            "tls": add_server(app, owner, host=untrusted.host, port=untrusted.port, security="ssl", username=""),
        }
        contexts = refused_auth.ssl_context
        started = time.monotonic()
        check_servers(list(cases.values())[:4], config_for(app, timeout=1, ssl_context=contexts))
        check_servers([cases["tls"]], config_for(app, timeout=1, ssl_context=None))
        elapsed = time.monotonic() - started
    for reason, server in cases.items():
        stored = MailServer.get_by_id(server.id)
        assert (stored.status, stored.reason) == ("offline", reason), reason
    assert MailServer.get_by_id(cases["auth"].id).reply_code == 535
    assert elapsed < 4  # concurrent: the silent socket's timeout is paid once, not added to the others


def test_a_result_is_not_stored_over_an_edit_made_while_the_check_ran(app, owner):
    server = add_server(app, owner)
    MailServer.update(updated_at=utcnow(), host="edited.example.com").where(MailServer.id == server.id).execute()
    assert store_result(server, ProbeResult(True, None, None, "")) == 0
    assert MailServer.get_by_id(server.id).status == "checking"


def test_a_password_no_key_opens_is_reported_offline_without_stopping_the_others(app, owner):
    with smtp_server() as plain:
        broken = add_server(app, owner, host=plain.host, port=plain.port, security="none")
        MailServer.update(password_token="garbage").where(MailServer.id == broken.id).execute()
        fine = add_server(app, owner, host=plain.host, port=plain.port, security="none", username="")
        check_servers([MailServer.get_by_id(broken.id), fine], config_for(app))
    assert MailServer.get_by_id(broken.id).status == "offline"
    assert MailServer.get_by_id(fine.id).status == "online"


def test_the_scheduler_polls_every_server_at_the_configured_interval(app, owner):
    job = {job_id: (func, interval) for job_id, func, interval in scheduler.JOBS}["poll_mail_servers"]
    assert job == (poll_mail_servers, "MAIL_POLL_SECONDS") and app.config["MAIL_POLL_SECONDS"] == 60
    assert app.config["MAIL_PROBE_TIMEOUT"] == 10
    with smtp_server() as plain:
        add_server(app, owner, host=plain.host, port=plain.port, security="none", username="")
        add_server(app, owner, host="127.0.0.1", port=closed_port(), security="none", username="")
        scheduler.in_app_context(app, poll_mail_servers)()  # exactly what the scheduler runs
    assert sorted(s.status for s in MailServer.select()) == ["offline", "online"]


def test_the_password_never_reaches_the_logs(app, owner, caplog):
    caplog.set_level(logging.DEBUG)
    with smtp_server(tls="starttls", auth=("ann", "the real one")) as peer:
        server = add_server(app, owner, host=peer.host, port=peer.port, username="ann")
        check_servers([server], config_for(app, ssl_context=peer.ssl_context))
        with pytest.raises(MailError) as error:
            send_mail(server, "bob@example.com", "Hi", "Hello", config=app.config)
    assert "535" in str(error.value)
    assert SECRET not in caplog.text and SECRET not in str(error.value)
    assert MailServer.get_by_id(server.id).reason == "auth"


def test_send_mail_delivers_text_and_html_through_a_persons_server(app, owner):
    with smtp_server(tls="starttls", auth=("ann", SECRET)) as peer:
        server = add_server(app, owner, host=peer.host, port=peer.port, username="ann", from_name="Анна")
        config_for(app, ssl_context=peer.ssl_context)
        send_mail(server, "bob@example.com", "Привет", "text body", html="<p>html body</p>", config=app.config)
        received = peer.wait_for(1)[0]
    message = received.message
    assert received.login == "ann" and received.rcpt_tos == ["bob@example.com"]
    assert message["Subject"] == "Привет" and "Анна" in message["From"]
    assert message.get_body(("html",)).get_content().strip() == "<p>html body</p>"


def test_the_api_view_never_holds_the_password(app, owner):
    import json

    from services.mail_servers import api_view

    server = add_server(app, owner, status="offline", reason="auth", reply_code=535, checked_at=utcnow())
    view = api_view(MailServer.get_by_id(server.id))
    text = json.dumps(view)
    assert SECRET not in text and server.password_token not in text and "password_token" not in view
    assert view["has_password"] is True and view["reply_code"] == 535 and view["checked_at"].endswith("Z")


def test_the_json_api_lists_only_the_key_owners_servers_without_passwords(app, client, owner):
    from models import Organization
    from services import apikeys
    from tests.conftest import make_user

    mine = add_server(app, owner, status="online", checked_at=utcnow())
    stranger = make_user(Organization.create(name="Other"), email="olga@example.com")
    theirs = add_server(app, stranger)
    headers = {"Authorization": f"Bearer {apikeys.create_key(owner, 'k', ['read'])[0]}"}
    listed = client.get("/api/v1/mail-servers", headers=headers)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.get_json()["items"]] == [mine.id]
    assert SECRET not in listed.get_data(as_text=True) and "password_token" not in listed.get_data(as_text=True)
    assert client.get(f"/api/v1/mail-servers/{mine.id}", headers=headers).get_json()["status"] == "online"
    other = client.get(f"/api/v1/mail-servers/{theirs.id}", headers=headers)
    assert other.status_code == 404 and other.get_json()["code"] == "not_found"
    assert client.get("/api/v1/mail-servers").status_code == 401

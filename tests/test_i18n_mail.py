"""Mail and SMS in the reader's language (issue "What a person sees", item 3, and its Russian scan).

A person who never chose a language reads Russian pages (their browser asks for Russian): everything the
app sends them, whoever makes it go (an administrator reading English, the scheduler, they themselves),
is Russian, and every e-mail carries Date and a Message-ID in the sender's domain."""
import json
from email.utils import parsedate_to_datetime
from pathlib import Path

from flask_login import login_user

from models import MailServer, User
from services import otp
from services.notifications import deliver_notifications, notify, set_preference
from services.results import stored_message
from tests.conftest import csrf_from, make_user, sign_in
from tests.test_i18n import english_words

KINDS = {  # every notification text, by the category it is told in
    "billing": [{"kind": "invoice", "number": "2026-0001", "amount": "4900.00", "currency": "RUB"},
                {"kind": "payment", "number": "2026-0001", "amount": "4900.00", "currency": "RUB"}],
    "low_balance": [{"kind": "low_balance", "balance": "10.00", "threshold": "100.00", "currency": "RUB"}],
    "security": [{"kind": "signin", "ip": "203.0.113.5", "device": "Firefox / Linux"}, {"kind": "password"},
                 {"kind": "two_factor"}],
    "imports": [{"kind": "client_import", "count": 3, "file": "clients.csv"}],
    "operations": [{"kind": "operation", "operation_kind": "client_import", "status": "completed",
                    "result": stored_message("clients_imported", count=3)},
                   {"kind": "operation", "operation_kind": "data_export", "status": "completed",
                    "result": stored_message("export_ready", bytes=2970)},
                   {"kind": "operation", "operation_kind": "data_export", "status": "failed",
                    "error": stored_message("export_failed")}],
    "requests": [{"kind": "request", "ref": "R-17", "status": "закрыта"}],  # the status as the team's product words it
}


def reader_in_russian(app, org):
    """Anna, language "the browser's", having seen her pages in Russian; the phone confirmed."""
    reader = make_user(org, "anna@example.com", full_name="Анна", phone="+79161234567", phone_verified=True)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru-RU,ru;q=0.9,en;q=0.5"
    sign_in(client)
    assert client.get("/app/personal-data").status_code == 200
    reader = User.get_by_id(reader.id)
    assert (reader.language, reader.page_language) == (None, "ru")
    return reader, client


def send_everything(app, reader, admin):
    """Every mail and SMS the app sends a person, each made to go the way the app makes it go."""
    from blueprints import auth
    from blueprints.person import contacts, security
    from blueprints.admin import user_security, users

    with app.test_request_context("/app/personal-data", headers={"Accept-Language": "en"}):  # someone reading English
        login_user(admin)
        auth.send_reset_link(reader, app.config)
        auth.notify_password_changed(reader)
        contacts.send_email_change_link(reader, "anna.new@example.com")
        contacts.notify_old_address(reader, "anna.old@example.com", reader.email)
        for what in ("totp", "email", "off", "recovery", "changed_totp", "changed_email", "passkey_added",
                     "passkey_removed"):
            security.notify_2fa_change(reader, what)
        users.send_set_password_link(reader, invite=True)
        users.send_set_password_link(reader, invite=False)
        user_security.notify_two_factor_changed(reader, "email")
        user_security.notify_two_factor_changed(reader, "off")
    with app.test_request_context("/", headers={"Accept-Language": "ru"}):  # the person themselves, on a Russian page
        for purpose in ("signin", "2fa_setup"):
            _secret, challenge = otp.start_challenge(reader, purpose, target=reader.email)
            auth.mail_code(reader, challenge, purpose)
        auth.notify_recovery_code_used(reader, 3)
        assert contacts.send_phone_code(reader, "+79161234567") is None
    with app.app_context():  # the scheduler: no request, no browser
        for category, items in KINDS.items():
            set_preference(reader, category, "sms", True)
            for data in items:
                notify(reader, category, data, exclude=("in_app",))
        counts = deliver_notifications(app.config)
    assert counts["failed"] == counts["retry"] == 0


def test_every_mail_and_sms_is_in_the_readers_language_with_date_and_message_id(app, org, smtp):
    reader, client = reader_in_russian(app, org)
    admin = make_user(org, "boss@example.com", full_name="Boss Admin", role="owner", language="en")
    send_everything(app, reader, admin)
    # The test message of a person's own mail server, sent from their page.
    app.config["MAIL_ALLOW_PRIVATE"] = True
    server = MailServer.create(owner=reader, organization=org, host=smtp.host, port=smtp.port, security="none",
                               from_email="anna@mail.example.org", status="online")
    token = csrf_from(client.get("/app/personal-data").get_data(as_text=True))
    assert client.post(f"/app/personal-data/mail-servers/{server.id}/test", data={"csrf_token": token}).status_code == 303
    mails = [received.message for received in smtp.messages]
    texts = [json.loads(line)["text"] for line in
             Path(app.config["INSTANCE_PATH"], "sms-outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(mails) >= 30 and len(texts) >= 12
    allowed = {"Boss", "Admin", "clients", "csv"}  # the administrator's name and a file's, as people typed them
    problems = []
    for mail in mails:
        subject, body = mail["Subject"], mail.get_body(("plain",)).get_content()
        domain = mail["From"].addresses[0].domain
        if parsedate_to_datetime(mail["Date"]) is None or not mail["Message-ID"].endswith(f"@{domain}>"):
            problems.append(f"{subject}: Date {mail['Date']!r}, Message-ID {mail['Message-ID']!r}")
        if english_words(f"{subject}\n{body}", allowed) or not any("а" <= ch <= "я" for ch in body):
            problems.append(f"{subject}: {english_words(subject + body, allowed)}")
    problems += [f"SMS {text}: {english_words(text, allowed)}" for text in texts if english_words(text, allowed)]
    assert problems == [], "\n".join(problems)


def test_a_page_remembers_its_language_once_and_mail_follows_it(app, org, smtp):
    """The language is written when it changes, not on every page; a chosen language wins over it."""
    from blueprints import auth

    reader, _client = reader_in_russian(app, org)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(client)
    client.get("/app/personal-data")
    assert User.get_by_id(reader.id).page_language == "en"
    with app.test_request_context("/", headers={"Accept-Language": "ru"}):
        auth.notify_password_changed(User.get_by_id(reader.id))
    assert smtp.messages[-1].message["Subject"] == "Your Kabinet password was changed"
    User.update(language="ru").where(User.id == reader.id).execute()
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        auth.notify_password_changed(User.get_by_id(reader.id))
    assert smtp.messages[-1].message["Subject"] == "Ваш пароль в Kabinet изменён"


def test_an_unchanged_language_is_not_written_again(app, org, monkeypatch):
    reader_in_russian(app, org)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    sign_in(client)
    writes, update = [], User.update

    def counting_update(*args, **kwargs):
        writes.append(kwargs)
        return update(*args, **kwargs)

    monkeypatch.setattr(User, "update", counting_update)
    for _ in range(3):
        client.get("/app/personal-data")
    assert [w for w in writes if "page_language" in w] == []

"""Mail servers: the table, add/edit/delete as plain and htmx posts, ownership, bad input, test sends (issue 4)."""
import re
import time
from datetime import timedelta

import pytest

from models import AuditEvent, MailServer, UserSession, utcnow
from services import crypto
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in
from tests.smtp_peers import smtp_server

BASE = "/app/personal-data/mail-servers"
SECRET = "s3cret-SMTP-pass"
GOOD = {
    "host": "smtp.example.com",
    "port": "587",
    "security": "starttls",
    "username": "anna@example.com",
    "password": SECRET,
    "from_email": "anna@example.com",
    "from_name": "Anna",
}


@pytest.fixture(autouse=True)
def mail_settings(app):
    # Saved servers point at hosts that do not exist; tests that want the after-save check turn it on.
    app.config["MAIL_CHECK_AFTER_SAVE"] = False
    app.config["MAIL_ALLOW_PRIVATE"] = True  # the real SMTP peers listen on 127.0.0.1


def add_server(app, owner, password=SECRET, **fields):
    values = {
        "host": "smtp.example.com",
        "port": 587,
        "security": "starttls",
        "username": "anna@example.com",
        "from_email": "anna@example.com",
        "from_name": "Anna",
        **fields,
    }
    token = crypto.encrypt(password, app.config)
    return MailServer.create(owner=owner, organization=owner.organization_id, password_token=token, **values)


def htmx_headers(client, page="/app/personal-data"):
    return {"HX-Request": "true", "X-CSRFToken": csrf_from(client.get(page).get_data(as_text=True))}


# --- adding ---------------------------------------------------------------------------------------


def test_add_as_plain_form_stores_an_encrypted_password_and_lists_the_server(app, signed_in, user):
    response = form_post(signed_in, f"{BASE}/new", GOOD)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/app/personal-data#mail-servers")
    server = MailServer.get()
    assert (server.owner_id, server.organization_id, server.status) == (user.id, user.organization_id, "checking")
    assert SECRET not in server.password_token  # SECURITY.md 24: encrypted at rest
    assert crypto.decrypt(server.password_token, app.config) == SECRET
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert "Mail server smtp.example.com:587 added." in page  # flash
    row = re.search(r'<tr data-row-link>.*?</tr>', page, re.S).group(0)
    assert "smtp.example.com:587" in row and "anna@example.com" in row and "Checking" in row
    assert SECRET not in page
    event = AuditEvent.get(AuditEvent.action == "mail_server.created")
    assert event.actor_id == user.id and SECRET not in event.details


def test_add_form_suggests_ports_and_explains_gmail_app_passwords(signed_in):
    page = signed_in.get(f"{BASE}/new").get_data(as_text=True)
    assert all(f'<option value="{port}">' in page for port in (587, 465, 25))
    assert "app password" in page and "smtp.gmail.com" in page
    assert '<option selected value="starttls">TLS (STARTTLS)</option>' in page


def test_add_with_htmx_opens_a_dialog_and_answers_with_hx_redirect(signed_in):
    headers = htmx_headers(signed_in)
    dialog = signed_in.get(f"{BASE}/new", headers=headers)
    body = dialog.get_data(as_text=True)
    assert dialog.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith("<dialog data-open-modal")
    saved = signed_in.post(f"{BASE}/new", data=GOOD, headers=headers)
    assert saved.status_code == 204
    assert saved.headers["HX-Redirect"].endswith("/app/personal-data")  # a new page load, not a scroll
    assert MailServer.select().count() == 1


BAD_INPUT = [
    ("host", "smtp gmail.com", "Enter the server's name"),
    ("host", "http://smtp.gmail.com", "Enter the server's name"),
    ("host", "smtp.gmail.com/path", "Enter the server's name"),
    ("host", "smtp.gmail.com:587", "Enter the server's name"),
    ("host", "", "This field is required."),
    ("port", "0", "Enter a port number from 1 to 65535"),
    ("port", "70000", "Enter a port number from 1 to 65535"),
    ("port", "5" * 10_000, "At most 5 characters."),
    ("port", "65536", "Enter a port number from 1 to 65535"),
    ("port", "abc", "Enter a port number from 1 to 65535"),
    ("port", "٥٨٧", "Enter a port number from 1 to 65535"),  # Arabic-Indic digits pass str.isdigit
    ("security", "tls1.3", "Not a valid choice"),
    ("from_email", "not-an-address", "Enter a valid e-mail address"),
    ("from_name", "Anna\r\nBcc: everyone@example.com", "Use letters, digits and punctuation only."),
    ("host", "a" * 10_000, "At most 253 characters."),
    ("username", "a" * 10_000, "At most 254 characters."),
    ("password", "a" * 10_000, "At most 500 characters."),
    ("from_email", "a" * 10_000, "At most 254 characters."),
    ("from_name", "a" * 10_000, "At most 100 characters."),
]


@pytest.mark.parametrize("name,value,message", BAD_INPUT)
def test_bad_input_is_refused_at_the_field_and_nothing_is_saved(signed_in, name, value, message):
    response = form_post(signed_in, f"{BASE}/new", {**GOOD, name: value})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    error = re.search(rf'id="mail-{name}-error">([^<]*)<', body)
    assert error and message in error.group(1).replace("&#39;", "'")
    assert MailServer.select().count() == 0
    assert SECRET not in body  # the password is not echoed back, even on error


@pytest.mark.parametrize("data", [{}, {"host": "smtp.example.com", "port": "25", "from_email": "a@example.com"}])
def test_missing_fields_are_told_apart_from_empty_ones_without_breaking(signed_in, data):
    response = form_post(signed_in, f"{BASE}/new", data)
    assert response.status_code in (303, 422)
    assert (response.status_code == 303) == bool(data)  # only the address, port and sender are needed
    if data:
        assert MailServer.get().security == "starttls" and MailServer.get().username == ""


def test_bad_input_with_htmx_returns_the_form_fragment_with_input_kept(signed_in):
    response = signed_in.post(f"{BASE}/new", data={**GOOD, "port": "0"}, headers=htmx_headers(signed_in))
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in body
    assert body.lstrip().startswith('<form id="mail-server-form"')
    assert 'value="smtp.example.com"' in body and 'aria-invalid="true"' in body


def test_a_username_without_a_password_is_refused_when_adding(signed_in):
    response = form_post(signed_in, f"{BASE}/new", {**GOOD, "password": ""})
    assert response.status_code == 422
    assert "Enter the password for this username." in response.get_data(as_text=True)


def test_a_server_without_authentication_needs_no_password(signed_in):
    response = form_post(signed_in, f"{BASE}/new", {**GOOD, "username": "", "password": "", "security": "none"})
    assert response.status_code == 303
    assert MailServer.get().password_token == ""


def test_international_host_names_and_ip_addresses_are_accepted(signed_in):
    for host in ("почта.рф", "192.0.2.10", "2001:db8::25"):
        assert form_post(signed_in, f"{BASE}/new", {**GOOD, "host": host}).status_code == 303
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert "[2001:db8::25]:587" in page


def test_messages_are_translated_into_russian(signed_in, user):
    user.language = "ru"
    user.save()
    response = form_post(signed_in, f"{BASE}/new", {**GOOD, "port": "abc"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a port number" not in body
    assert re.search(r'id="mail-port-error">[^<]*[а-я]', body)


# --- editing --------------------------------------------------------------------------------------


def test_each_row_links_to_its_edit_form_which_never_shows_the_password(app, signed_in, user):
    server = add_server(app, user)
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert f'href="{BASE}/{server.id}"' in page
    form = signed_in.get(f"{BASE}/{server.id}").get_data(as_text=True)
    assert 'value="smtp.example.com"' in form and 'value="anna@example.com"' in form
    assert not re.search(r'value="[^"]', re.search(r'<input[^>]*id="mail-password"[^>]*>', form).group(0))
    assert SECRET not in form and server.password_token not in form
    assert "Leave empty to keep the saved password." in form


def test_edit_with_an_empty_password_keeps_the_stored_one(app, signed_in, user):
    server = add_server(app, user)
    response = form_post(signed_in, f"{BASE}/{server.id}", {**GOOD, "host": "mail.example.org", "password": ""})
    assert response.status_code == 303
    server = MailServer.get_by_id(server.id)
    assert server.host == "mail.example.org" and server.status == "checking"
    assert crypto.decrypt(server.password_token, app.config) == SECRET
    event = AuditEvent.get(AuditEvent.action == "mail_server.updated")
    assert '"host"' in event.details and '"password_changed": false' in event.details


def test_edit_with_a_new_password_replaces_it(app, signed_in, user):
    server = add_server(app, user)
    form_post(signed_in, f"{BASE}/{server.id}", {**GOOD, "password": "another one"})
    assert crypto.decrypt(MailServer.get_by_id(server.id).password_token, app.config) == "another one"


def test_removing_the_username_forgets_the_password(app, signed_in, user):
    server = add_server(app, user)
    form_post(signed_in, f"{BASE}/{server.id}", {**GOOD, "username": "", "password": ""})
    assert MailServer.get_by_id(server.id).password_token == ""


def test_edit_with_htmx_opens_the_filled_form_in_a_dialog(app, signed_in, user):
    server = add_server(app, user)
    headers = htmx_headers(signed_in)
    body = signed_in.get(f"{BASE}/{server.id}", headers=headers).get_data(as_text=True)
    assert body.lstrip().startswith("<dialog data-open-modal") and 'value="smtp.example.com"' in body
    saved = signed_in.post(f"{BASE}/{server.id}", data={**GOOD, "from_name": "Sales"}, headers=headers)
    assert saved.status_code == 204 and "HX-Redirect" in saved.headers
    assert MailServer.get_by_id(server.id).from_name == "Sales"


def test_saving_needs_the_current_password_when_the_last_one_is_old(app, signed_in, user):
    """SECURITY.md 11: SMTP credentials change only with a recent password check."""
    UserSession.update(reauth_at=utcnow() - timedelta(minutes=16)).execute()
    page = signed_in.get(f"{BASE}/new").get_data(as_text=True)
    assert 'id="mail-current_password"' in page
    refused = form_post(signed_in, f"{BASE}/new", {**GOOD, "current_password": "wrong"})
    assert refused.status_code == 422 and MailServer.select().count() == 0
    assert "Enter your current Kabinet password" in refused.get_data(as_text=True)
    accepted = form_post(signed_in, f"{BASE}/new", {**GOOD, "current_password": PASSWORD})
    assert accepted.status_code == 303 and MailServer.select().count() == 1
    # The check counts as a fresh sign-in for the next quarter of an hour.
    assert 'id="mail-current_password"' not in signed_in.get(f"{BASE}/new").get_data(as_text=True)


def test_a_fresh_sign_in_needs_no_extra_password(signed_in):
    assert 'id="mail-current_password"' not in signed_in.get(f"{BASE}/new").get_data(as_text=True)


# --- ownership --------------------------------------------------------------------------------------


@pytest.fixture
def strangers_server(app, org):
    """A server of a colleague in the same organization, and one of a person in another organization."""
    from models import Organization

    colleague = make_user(org, email="boris@example.com")
    other_org = Organization.create(name="Other")
    outsider = make_user(other_org, email="olga@example.com")
    return add_server(app, colleague, host="colleague.example.com"), add_server(app, outsider, host="outsider.example.com")


def test_other_peoples_servers_are_not_listed(signed_in, strangers_server):
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert "colleague.example.com" not in page and "outsider.example.com" not in page
    status = signed_in.get(f"{BASE}/status").get_data(as_text=True)
    assert all(f"mail-status-{server.id}" not in status for server in strangers_server)


@pytest.mark.parametrize("which", [0, 1])
def test_other_peoples_server_ids_give_404_everywhere(app, signed_in, user, strangers_server, which):
    """SECURITY.md 19: another person's id looks like a missing one, on pages and fragments."""
    server = strangers_server[which]
    mine = add_server(app, user)
    token = csrf_from(signed_in.get("/app/personal-data").get_data(as_text=True))
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    assert signed_in.get(f"{BASE}/{server.id}").status_code == 404
    assert signed_in.get(f"{BASE}/{server.id}", headers=headers).status_code == 404
    assert signed_in.post(f"{BASE}/{server.id}", data={**GOOD, "csrf_token": token}).status_code == 404
    assert signed_in.post(f"{BASE}/{server.id}/test", data={"csrf_token": token}).status_code == 404
    for ids in ([server.id], [mine.id, server.id]):
        response = signed_in.post(f"{BASE}/delete", data={"ids": ids, "confirm": "yes", "csrf_token": token})
        assert response.status_code == 404
    assert MailServer.select().count() == 3
    assert MailServer.get_by_id(server.id).host == server.host


@pytest.mark.parametrize("ids", [["abc"], ["-1"], ["1" * 40], ["999999"], [""]])
def test_malformed_or_unknown_ids_give_404(signed_in, ids):
    token = csrf_from(signed_in.get("/app/personal-data").get_data(as_text=True))
    assert signed_in.post(f"{BASE}/delete", data={"ids": ids, "csrf_token": token}).status_code == 404
    assert signed_in.get(f"{BASE}/abc").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(app, client, user):
    server = add_server(app, user)
    assert client.get(f"{BASE}/{server.id}").status_code == 302
    response = client.get(f"{BASE}/status", headers={"HX-Request": "true"})
    assert response.status_code == 401 and "/login" in response.headers["HX-Redirect"]


# --- deleting ---------------------------------------------------------------------------------------


def test_delete_without_js_asks_on_a_page_naming_how_many_then_deletes(app, signed_in, user):
    one, two, three = (add_server(app, user, host=f"s{i}.example.com") for i in range(3))
    asked = form_post(signed_in, f"{BASE}/delete", {"ids": [one.id, two.id]}, page="/app/personal-data")
    body = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "<html" in body
    assert "Delete 2 mail servers?" in body and "s0.example.com" in body and "s2.example.com" not in body
    assert MailServer.select().count() == 3
    token = csrf_from(body)
    done = signed_in.post(f"{BASE}/delete", data={"ids": [one.id, two.id], "confirm": "yes", "csrf_token": token})
    assert done.status_code == 303
    assert [s.id for s in MailServer.select()] == [three.id]
    assert "2 mail servers deleted." in signed_in.get("/app/personal-data").get_data(as_text=True)
    assert AuditEvent.get(AuditEvent.action == "mail_server.deleted").details == '{"count": 2}'


def test_delete_with_htmx_shows_a_confirmation_dialog(app, signed_in, user):
    server = add_server(app, user)
    headers = htmx_headers(signed_in)
    asked = signed_in.post(f"{BASE}/delete", data={"ids": [server.id]}, headers=headers)
    body = asked.get_data(as_text=True)
    assert asked.status_code == 200 and body.lstrip().startswith("<dialog data-open-modal")
    assert "Delete 1 mail server?" in body
    done = signed_in.post(f"{BASE}/delete", data={"ids": [server.id], "confirm": "yes"}, headers=headers)
    assert done.status_code == 204 and "HX-Redirect" in done.headers
    assert MailServer.select().count() == 0


def test_only_ticked_servers_are_deleted_and_a_select_all_field_means_nothing(app, signed_in, user, strangers_server):
    mine = [add_server(app, user, host=f"s{i}.example.com") for i in range(3)]
    asked = form_post(signed_in, f"{BASE}/delete", {"all": "1"}, page="/app/personal-data")
    assert asked.status_code == 422 and "Select the mail servers to delete first." in asked.get_data(as_text=True)
    asked = form_post(signed_in, f"{BASE}/delete", {"all": "1", "ids": [mine[0].id, mine[2].id]},
                      page="/app/personal-data")
    assert "Delete 2 mail servers?" in asked.get_data(as_text=True)
    token = csrf_from(asked.get_data(as_text=True))
    signed_in.post(f"{BASE}/delete", data={"all": "1", "ids": [mine[0].id, mine[2].id], "confirm": "yes",
                                          "csrf_token": token})
    assert sorted(s.id for s in MailServer.select()) == sorted([mine[1].id] + [s.id for s in strangers_server])
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert 'class="js-only" data-select-all' in page and 'name="all"' not in page


def test_delete_with_nothing_selected_says_so(app, signed_in, user):
    add_server(app, user)
    response = form_post(signed_in, f"{BASE}/delete", {}, page="/app/personal-data")
    assert response.status_code == 422
    assert "Select the mail servers to delete first." in response.get_data(as_text=True)
    assert MailServer.select().count() == 1


def test_delete_needs_a_csrf_token(app, signed_in, user):
    server = add_server(app, user)
    assert signed_in.post(f"{BASE}/delete", data={"ids": [server.id], "confirm": "yes"}).status_code == 403
    assert MailServer.select().count() == 1


# --- status -----------------------------------------------------------------------------------------


def test_first_render_shows_the_stored_status_with_reason_code_and_local_time(app, signed_in, user):
    user.time_zone = "Europe/Moscow"
    user.save()
    checked = utcnow().replace(hour=9, minute=30, second=0, microsecond=0)
    server = add_server(app, user, status="offline", reason="auth", reply_code=535, checked_at=checked)
    add_server(app, user, host="ok.example.com", status="online", checked_at=checked)
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    cell = re.search(rf'<span id="mail-status-{server.id}".*?</span>\s*</td>', page, re.S).group(0)
    assert "Offline" in cell and "authentication failed (535)" in cell
    assert "12:30" in cell  # 09:30 UTC shown in Moscow time
    assert "Online" in page
    assert 'hx-trigger="every 1s"' in page  # the poller is part of the section


def test_status_endpoint_returns_only_out_of_band_status_cells(app, signed_in, user):
    one = add_server(app, user, status="online", checked_at=utcnow())
    two = add_server(app, user, status="offline", reason="timeout", checked_at=utcnow())
    response = signed_in.get(f"{BASE}/status", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "<table" not in body
    assert body.count('hx-swap-oob="true"') == 2
    assert f'id="mail-status-{one.id}"' in body and f'id="mail-status-{two.id}"' in body
    assert "timed out" in body
    assert len(body.encode()) < 2048
    assert signed_in.get(f"{BASE}/status").status_code == 302  # not a page of its own


def test_no_poller_when_there_are_no_servers(signed_in):
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert "No mail servers yet." in page and "every 1s" not in page


def test_status_in_russian(app, signed_in, user):
    user.language = "ru"
    user.save()
    add_server(app, user, status="offline", reason="refused", checked_at=utcnow())
    body = signed_in.get(f"{BASE}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Offline" not in body and "refused" not in body


def test_saving_checks_the_server_in_the_background(app, signed_in):
    app.config["MAIL_CHECK_AFTER_SAVE"] = True
    with smtp_server() as peer:
        started = time.monotonic()
        response = form_post(
            signed_in, f"{BASE}/new", {**GOOD, "host": peer.host, "port": str(peer.port), "security": "none",
                                       "username": "", "password": ""}
        )
        assert response.status_code == 303
        server = MailServer.get()
        while server.status == "checking" and time.monotonic() - started < 10:
            time.sleep(0.05)
            server = MailServer.get_by_id(server.id)
    assert server.status == "online" and server.checked_at is not None


# --- test e-mail ------------------------------------------------------------------------------------


def test_test_send_delivers_to_the_person_through_the_server(app, signed_in, user):
    with smtp_server(tls="implicit", auth=("anna@example.com", SECRET)) as peer:
        app.config["MAIL_SSL_CONTEXT"] = peer.ssl_context
        server = add_server(app, user, host=peer.host, port=peer.port, security="ssl", from_name="Anna Sales")
        response = form_post(signed_in, f"{BASE}/{server.id}/test", {}, page=f"{BASE}/{server.id}")
        assert response.status_code == 303
        received = peer.wait_for(1)[0]
    assert received.rcpt_tos == [user.email] and received.login == "anna@example.com"
    assert received.message["From"] == "Anna Sales <anna@example.com>"
    assert "Test e-mail sent to anna@example.com." in signed_in.get(f"{BASE}/{server.id}").get_data(as_text=True)


def test_test_send_with_htmx_reports_the_smtp_error_in_place(app, signed_in, user, caplog):
    with smtp_server(tls="starttls", auth=("anna@example.com", "the real one")) as peer:
        app.config["MAIL_SSL_CONTEXT"] = peer.ssl_context
        server = add_server(app, user, host=peer.host, port=peer.port, security="starttls")
        headers = htmx_headers(signed_in, f"{BASE}/{server.id}")
        response = signed_in.post(f"{BASE}/{server.id}/test", headers=headers)
        assert peer.messages == []
    body = response.get_data(as_text=True)
    assert response.status_code == 502
    assert body.lstrip().startswith('<p id="mail-test-result"') and "535" in body and "not sent" in body
    assert SECRET not in body and SECRET not in caplog.text


def test_test_sends_are_rate_limited(app, signed_in, user):
    app.config["MAIL_TEST_LIMIT"] = "1 per hour"
    server = add_server(app, user, host="127.0.0.1", port=1, security="none", username="")
    headers = htmx_headers(signed_in)
    signed_in.post(f"{BASE}/{server.id}/test", headers=headers)
    second = signed_in.post(f"{BASE}/{server.id}/test", headers=headers)
    assert second.status_code == 429 and "Too many test e-mails" in second.get_data(as_text=True)


def test_status_polling_does_not_keep_an_unattended_page_signed_in(app, signed_in, user):
    """SECURITY.md 15: the idle timeout still ends a session whose only traffic is the status poller."""
    poll = {"HX-Request": "true", "X-Background-Poll": "1"}
    seen = utcnow() - timedelta(minutes=20)
    UserSession.update(last_seen_at=seen).execute()
    assert signed_in.get(f"{BASE}/status", headers=poll).status_code == 200
    assert UserSession.get().last_seen_at == seen  # not counted as activity
    UserSession.update(last_seen_at=utcnow() - timedelta(minutes=31)).execute()
    response = signed_in.get(f"{BASE}/status", headers=poll)
    assert response.status_code == 401 and "/login" in response.headers["HX-Redirect"]


def test_private_addresses_are_refused_unless_allowed(app, signed_in, user):
    """Without MAIL_ALLOW_PRIVATE nobody can point the checks at the internal network."""
    app.config["MAIL_ALLOW_PRIVATE"] = False
    for host in ("10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "fd00::25"):
        response = form_post(signed_in, f"{BASE}/new", {**GOOD, "host": host})
        assert response.status_code == 422, host
        assert "private network" in response.get_data(as_text=True)
    assert form_post(signed_in, f"{BASE}/new", {**GOOD, "host": "8.8.8.8"}).status_code == 303


def test_a_name_resolving_to_a_private_address_is_neither_probed_nor_sent_through(app, signed_in, user):
    app.config["MAIL_ALLOW_PRIVATE"] = False
    with smtp_server() as peer:
        server = add_server(app, user, host="localhost", port=peer.port, security="none", username="")
        from services.mail_servers import check_servers

        check_servers([server], app.config)
        response = signed_in.post(f"{BASE}/{server.id}/test", headers=htmx_headers(signed_in))
        assert peer.messages == []
    stored = MailServer.get_by_id(server.id)
    assert (stored.status, stored.reason) == ("offline", "blocked")
    assert response.status_code == 422 and "private network" in response.get_data(as_text=True)
    assert "private address not allowed" in signed_in.get("/app/personal-data").get_data(as_text=True)


@pytest.fixture
def changing_dns(monkeypatch):
    """mail.rebind.example answers a public address to the first lookup and 127.0.0.1 to every later one
    (DNS rebinding); returns the list of lookups made."""
    import socket

    real, lookups = socket.getaddrinfo, []

    def answer(host, port, *args, **kwargs):
        if host != "mail.rebind.example":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    return lookups


def test_a_changing_dns_answer_never_reaches_a_private_address(app, signed_in, user, changing_dns):
    """SECURITY.md 26: the check and the test mail connect to the address that was checked, not to a second
    lookup's answer (as webhooks do)."""
    from services.mail_servers import check_servers

    app.config.update(MAIL_ALLOW_PRIVATE=False, MAIL_PROBE_TIMEOUT=0.5)
    with smtp_server() as peer:
        server = add_server(app, user, host="mail.rebind.example", port=peer.port, security="none", username="")
        check_servers([server], app.config)
        assert MailServer.get_by_id(server.id).status == "offline"
        changing_dns.clear()
        response = signed_in.post(f"{BASE}/{server.id}/test", headers=htmx_headers(signed_in))
        assert response.status_code == 502 and peer.messages == []  # the checked address did not answer
    assert len(changing_dns) == 1, "one lookup per check, the connection uses its answer"

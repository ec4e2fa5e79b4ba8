"""Autosave through faults, as a person sees it (issue: faults): a save typed while the database is down is
marked unsaved and lands by itself once the database is back; a save that cannot be sent says "No
connection" and lands once the browser is online again; the red banner goes when a save lands.

The app runs on a PostgreSQL database of its own, reached through a proxy the test cuts and restores
(the server's PostgreSQL itself is never stopped: other runs share it).
"""
import os
import time
from urllib.parse import urlsplit

import psycopg2
import pytest

import migrations
from models import Organization, User, db, open_database
from tests.conftest import PASSWORD, make_app, make_user
from tests.e2e.conftest import LiveServer, new_page, sign_in_page
from tests.fault_peers import CuttableProxy, need

SERVER = os.environ.get("FAULTS_POSTGRES_URL") or (os.environ.get("TEST_DATABASE_URL") or "").rsplit("/", 1)[0] \
    or "postgresql://postgres@127.0.0.1:5432"


def admin(sql):
    conn = psycopg2.connect(f"{SERVER}/postgres", connect_timeout=3)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


@pytest.fixture
def proxied_server(config, database):
    try:
        admin("SELECT 1")
    except psycopg2.Error as exc:
        need(False, f"needs PostgreSQL at {SERVER}: {exc}")
    name = f"kabinet_faults_{os.getpid()}"
    admin(f'DROP DATABASE IF EXISTS "{name}"')
    admin(f'CREATE DATABASE "{name}"')
    target = urlsplit(SERVER)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
    credentials = f"{target.username}@" if target.username else ""
    proxied = open_database(f"postgresql://{credentials}127.0.0.1:{proxy.port}/{name}")
    try:
        app = make_app({**config, "DATABASE": proxied, "SERVER_NAME": None})  # binds the models to it
        with proxied.connection_context():
            migrations.upgrade(proxied)
        with LiveServer(app) as server:
            server.proxy, server.database_name = proxy, name
            yield server
    finally:
        proxied.close_all()
        proxy.close()
        db.initialize(database)  # the next test's models talk to the run's database again
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def saved_name(server):
    """The stored name, read straight from the database (not through the proxy or the app's pool)."""
    if not hasattr(server, "proxy"):
        with server.app.app_context():
            return User.get(User.email == "anna@example.com").full_name
    with psycopg2.connect(f"{SERVER}/{server.database_name}") as conn, conn.cursor() as cur:
        cur.execute("SELECT full_name FROM \"user\" WHERE email = 'anna@example.com'")
        name = cur.fetchone()[0]
    conn.close()
    return name


def test_a_save_typed_while_the_database_is_down_lands_when_it_is_back(browser, proxied_server):
    server = proxied_server
    with server.app.app_context():
        make_user(Organization.create(name="Faults Ltd"), full_name="Anna")
    page = new_page(browser)
    try:
        sign_in_page(page, server, password=PASSWORD)
        field, state = page.locator("#full_name"), page.locator("#full_name-state")
        field.fill("Anna Petrova")
        state.get_by_text("Saved", exact=True).wait_for()

        # The database goes away while the person types: the field says it is not saved, the banner says why.
        server.proxy.cut()
        field.fill("Anna Sidorova")
        state.get_by_text("Not saved — will retry").wait_for()
        page.locator("#messages .flash.error").get_by_text("briefly unavailable").wait_for()
        assert field.get_attribute("data-unsaved") == ""
        server.proxy.restore()
        restored = time.monotonic()
        # Nobody types again: the retry lands the text, "Saved" shows and the banner is gone.
        state.get_by_text("Saved", exact=True).wait_for(timeout=20_000)
        print(f"database back: the unsaved text landed {time.monotonic() - restored:.1f} s later")
        assert page.locator("#messages .flash.error").count() == 0
        assert field.get_attribute("data-unsaved") is None
        assert saved_name(server) == "Anna Sidorova"

        # The same for a notification box: unticked while the database is away, saved once it is back.
        box = page.get_by_role("checkbox", name="Security (new sign-in, password or 2FA changed) E-mail")
        server.proxy.cut()
        box.uncheck()
        page.locator("#nt-state").get_by_text("Not saved — will retry").wait_for()
        server.proxy.restore()
        page.locator("#nt-state").get_by_text("Saved", exact=True).wait_for(timeout=20_000)
        page.reload()
        assert not box.is_checked()

        # The server cannot be reached at all: "No connection", and the save lands once back online.
        page.context.set_offline(True)
        field.fill("Anna Sidorova-Petrova")
        state.get_by_text("No connection — not saved, will retry").wait_for()
        assert saved_name(server) == "Anna Sidorova"
        # Leaving now would lose the text: the browser asks first.
        dialogs = []
        page.once("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
        page.locator("#topbar-label").click()
        page.get_by_role("link", name="Security").click()  # returns once the dialog is answered
        assert dialogs == ["beforeunload"] and page.url.endswith("/app/personal-data")
        page.context.set_offline(False)
        state.get_by_text("Saved", exact=True).wait_for(timeout=20_000)
        assert saved_name(server) == "Anna Sidorova-Petrova"
        assert page.csp_violations == []
    finally:
        page.context.close()


def test_requests_that_cannot_be_sent_say_no_connection_in_russian(browser, live_server):
    server = live_server
    with server.app.app_context():
        make_user(Organization.create(name="Faults Ltd"), full_name="Anna", language="ru")
    page = new_page(browser, locale="ru-RU")
    try:
        sign_in_page(page, server, password=PASSWORD)
        page.context.set_offline(True)
        page.locator("#region a.button").click()  # "Change" in Language and region: an htmx GET
        page.locator("#messages .flash.error").get_by_text("Нет соединения с сервером").wait_for()
        page.locator("#full_name").fill("Анна Петрова")
        page.locator("#full_name-state").get_by_text("Нет соединения — не сохранено, повторим попытку").wait_for()
        page.context.set_offline(False)
        page.locator("#full_name-state").get_by_text("Сохранено", exact=True).wait_for(timeout=20_000)
        assert saved_name(server) == "Анна Петрова"
    finally:
        page.context.close()

"""Fixtures: one database per run (SQLite, or PostgreSQL from TEST_DATABASE_URL), a fresh app and
empty tables per test, a real SMTP server, and helpers that drive the HTML as a browser would."""
import os
import re

import jinja2
import psycopg2
import pytest
from peewee import sort_models

import migrations
from app import create_app
from models import BaseModel, Organization, User, db, open_database
from services import passwords
from services.permissions import add_to_group, administrators_group

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "correct horse battery staple"


class SharedBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept in memory for the run, so each test's fresh app skips compiling them again
    (Jinja checks every entry against the template's source before using it)."""

    def __init__(self):
        self.store = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket):
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = SharedBytecodeCache()
_configure_passwords = passwords.configure


def configure_passwords_once(memory_kib, time_cost):
    """create_app() configures the hasher, which hashes a dummy password (one argon2 run); every test's app
    asks for the same settings, so only a change re-runs it."""
    if configure_passwords_once.settings != (memory_kib, time_cost):
        _configure_passwords(memory_kib, time_cost)
        configure_passwords_once.settings = (memory_kib, time_cost)


configure_passwords_once.settings = None
passwords.configure = configure_passwords_once


def make_app(config):
    """A fresh app, as every test gets, sharing the compiled templates of the run."""
    app = create_app(config)
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    return app


def all_models():
    found, todo = [], list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return found


def worker_database(url):
    """Under pytest-xdist each worker gets a database of its own, <name>_gw0, <name>_gw1, ... (created once)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base, name = url.rsplit("/", 1)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{name}_{worker}",))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}_{worker}"')
    conn.close()
    return f"{base}/{name}_{worker}"


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """The run's database, migrated once from empty."""
    if TEST_DATABASE_URL:
        url = worker_database(TEST_DATABASE_URL)
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            # Throwaway data: commits need not wait for the WAL flush (the suite's main cost on PostgreSQL).
            cur.execute("SELECT current_database()")
            cur.execute(f'ALTER DATABASE "{cur.fetchone()[0]}" SET synchronous_commit TO off')
        database = open_database(url)
    else:
        database = open_database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}")
    db.initialize(database)
    with database.connection_context():
        migrations.upgrade(database)
    yield database
    database.close_all()


@pytest.fixture
def database_url(database):
    """The run's database as a URL for a subprocess (under pytest-xdist, this worker's own database)."""
    return worker_database(TEST_DATABASE_URL) if TEST_DATABASE_URL else f"sqlite:///{database.database}"


def empty_tables(database):
    # Children before parents, so no row is left pointing at a deleted one.
    tables = [m._meta.table_name for m in reversed(sort_models(all_models())) if m._meta.table_name != "schema_migration"]
    with database.connection_context():
        if TEST_DATABASE_URL:
            # DELETE rather than TRUNCATE: a test leaves a few rows, and TRUNCATE makes new files for every
            # table and index (about 2 s per test on a busy machine, against 0.1 s). Ids restart at 1 as before.
            with database.atomic():
                for table in tables:
                    database.execute_sql(f'DELETE FROM "{table}"')
                database.execute_sql("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S' "
                                     "AND relnamespace = 'public'::regnamespace")
        else:
            database.execute_sql("PRAGMA foreign_keys = OFF")
            for table in tables:
                database.execute_sql(f'DELETE FROM "{table}"')
            database.execute_sql("PRAGMA foreign_keys = ON")


@pytest.fixture
def config(database, tmp_path):
    return {
        "TESTING": True,
        "DATABASE": database,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "ARGON2_MEMORY_KIB": 19456,  # SECURITY.md 3's floor keeps the suite fast
        "ARGON2_TIME_COST": 2,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": "localhost",
        # The browser tests wait for these refreshes: a second instead of the five a person's page uses.
        "MAIL_STATUS_POLL_SECONDS": 1,
        "EXPORT_LIST_POLL_SECONDS": 1,
    }


@pytest.fixture
def app(config, database):
    empty_tables(database)
    # No app context is held open here: each test-client request must get its own `g`.
    return make_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def org(app):
    return Organization.create(
        name="ООО «Тест»", tin="7704123450", kpp="770401001", ogrn="1027704123457", balance="1234.50"
    )


_password_hashes = {}


def password_hash(password):
    """One argon2 hash per password for the run: people made by the tests may share a salt."""
    if password not in _password_hashes:
        _password_hashes[password] = passwords.hash_password(password)
    return _password_hashes[password]


def make_user(org, email="anna@example.com", password=PASSWORD, **fields):
    fields.setdefault("full_name", "Anna Test")
    return User.create(organization=org, email=email, password_hash=password_hash(password), **fields)


@pytest.fixture
def user(org):
    return make_user(org)


def csrf_from(html):
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def form_post(client, url, data, page=None, headers=None):
    """POST `data` as the form on `page` (default: `url`) would, with its CSRF token."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_from(html), **data}, headers=headers or {})


def sign_in(client, email="anna@example.com", password=PASSWORD):
    response = form_post(client, "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def signed_in(client, user):
    sign_in(client)
    return client


@pytest.fixture
def admin(org):
    """boss@example.com, "Boss Admin": the organization's owner, in its Administrators group."""
    user = make_user(org, "boss@example.com", full_name="Boss Admin", role="owner")
    add_to_group(user, administrators_group(org))
    return user


@pytest.fixture
def admin_client(client, admin):
    """The test client signed in as `admin`."""
    sign_in(client, "boss@example.com")
    return client


@pytest.fixture
def smtp(app):
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that the app's mailer sends to."""
    from tests.smtp_peers import smtp_server

    with smtp_server() as server:
        app.config.update(MAIL_HOST=server.host, MAIL_PORT=server.port, MAIL_SECURITY="none")
        yield server

"""The PostgreSQL pool (models.base.RecentlyCheckedPool): a connection given back a moment ago is taken
again without asking the server `SELECT 1` (peewee's pool asked on every request); one that sat unused
for over a second is asked first, and one that broke is never handed out."""
import os

import pytest

from models import open_database

URL = os.environ.get("TEST_DATABASE_URL", "")


@pytest.fixture
def pool(monkeypatch):
    if not URL.startswith("postgres"):
        pytest.skip("the PostgreSQL pool: run with TEST_DATABASE_URL")
    database = open_database(URL)
    pings = []
    ping = database._adapter.is_connection_closed
    monkeypatch.setattr(database._adapter, "is_connection_closed", lambda conn: pings.append(conn) or ping(conn))
    yield database, pings
    database.close_all()


def borrow(database):
    database.connect()
    conn = database.connection()
    database.execute_sql("SELECT 1").fetchone()
    database.close()
    return conn


def test_a_connection_given_back_a_moment_ago_is_reused_without_a_ping(pool):
    database, pings = pool
    first = borrow(database)
    assert borrow(database) is first and borrow(database) is first
    assert pings == []


def test_a_connection_unused_for_over_a_second_is_pinged_first(pool):
    database, pings = pool
    first = borrow(database)
    database._returned[id(first)] -= database.PING_AFTER + 1  # as if given back two seconds ago
    assert borrow(database) is first
    assert pings == [first]


def test_a_broken_connection_is_discarded_not_handed_out(pool):
    database, pings = pool
    first = borrow(database)
    first.close()  # as psycopg2 marks a connection the server dropped
    second = borrow(database)
    assert second is not first and not second.closed

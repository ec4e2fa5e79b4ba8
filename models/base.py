"""The database proxy and the base model every table derives from."""
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import peewee
from playhouse.db_url import connect, register_database
from playhouse.pool import PooledPostgresqlDatabase

db = peewee.DatabaseProxy()


def utcnow():
    """Naive UTC now: times are stored in UTC without tzinfo, shown in the person's zone."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def open_database(url):
    """A pooled Database for `url`: a request borrows a connection and gives it back, never reconnects.

    Measured (DESIGN.md): connecting per request cut autosave throughput to a third.
    """
    scheme, rest = url.split("://", 1)
    scheme = {"postgres": "postgresql"}.get(scheme, scheme).split("+")[0]
    if scheme == "sqlite":
        # busy_timeout: a writer waits up to 5 s for the write lock before "database is locked" (a 503).
        pragmas = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": "normal"}
        # Pooled connections move between threads; each is used by one thread at a time.
        # lock_type: every transaction begins with BEGIN IMMEDIATE, taking the write lock first (write_transaction).
        return connect(
            f"sqlite+pool://{rest}", pragmas=pragmas, max_connections=64, stale_timeout=600, check_same_thread=False,
            lock_type="IMMEDIATE",
        )
    if scheme == "postgresql":
        scheme = "kabinet-postgresql"  # RecentlyCheckedPool below
    return connect(f"{scheme}+pool://{rest}", max_connections=32, stale_timeout=300)


class RecentlyCheckedPool(PooledPostgresqlDatabase):
    """peewee's PostgreSQL pool, which asks the server `SELECT 1` whenever a connection is taken from it:
    a round trip on every request, though the connection was given back a moment ago. Here only one that
    sat unused for PING_AFTER seconds is asked (so after an outage the first requests get fresh
    connections, as before). One that breaks within that second fails its request like a request in
    flight at that moment would (a translated 503), and psycopg2 marks it closed, so it is discarded."""

    PING_AFTER = 1.0  # seconds; bench/load.py: the ping was about 10 % of a sync worker's time

    def __init__(self, *args, **kwargs):
        self._returned = {}  # id(connection) -> monotonic time it was given back
        super().__init__(*args, **kwargs)

    def _is_closed(self, conn):
        returned = self._returned.pop(id(conn), None)
        if (not conn.closed and returned is not None and time.monotonic() - returned < self.PING_AFTER
                and self._adapter.txn_status(conn) == self._adapter.txn_idle):
            return False
        return super()._is_closed(conn)

    def _close(self, conn, close_conn=False):
        super()._close(conn, close_conn)
        if not close_conn:
            self._returned[id(conn)] = time.monotonic()


register_database(RecentlyCheckedPool, "kabinet-postgresql+pool")


@contextmanager
def write_transaction(lock=None, name=None):
    """A transaction that reads and then writes what it read decides (a quota check, the next number, a limit
    on how many, an import's plan). `lock` is (Model, id): the row that stands for what is counted.

    SQLite: BEGIN IMMEDIATE, the write lock first. A transaction that has read cannot wait for the lock: when
    another connection wrote meanwhile, its first write fails at once with "database is locked" whatever the
    busy_timeout (its snapshot is stale). Taken at BEGIN, the lock is waited for like any write (busy_timeout),
    and the reads see every earlier write. (open_database makes IMMEDIATE the default of every transaction;
    this says so again for a database opened otherwise.)
    PostgreSQL: the `lock` row is locked (SELECT ... FOR NO KEY UPDATE) first, so two such transactions for it
    run one after the other, and the second's reads (READ COMMITTED: each statement sees what was committed
    before it began) count what the first wrote: two uploads racing into a nearly full quota cannot both pass.
    NO KEY: rows that merely point at it (an audit event naming the person) are still inserted meanwhile, so a
    transaction holding the lock neither blocks nor deadlocks with one that only writes about that row.

    `name` stands for what is counted when no row does (a phone number that several people may text): on
    PostgreSQL a transaction-level advisory lock on its hash, taken after the row's, so the order is always
    the same and two such transactions cannot deadlock.

    Inside another transaction this is a savepoint: on SQLite the outer one holds the lock already (IMMEDIATE
    by default); on PostgreSQL the row stays locked until the outer one ends.
    """
    database = db.obj
    sqlite = isinstance(database, peewee.SqliteDatabase)
    with database.atomic(lock_type="IMMEDIATE") if sqlite else database.atomic() as transaction:
        if lock is not None and not sqlite:
            model, key = lock
            primary_key = model._meta.primary_key
            list(model.select(primary_key).where(primary_key == key).for_update("FOR NO KEY UPDATE"))
        if name is not None and not sqlite:
            database.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (name,))
        yield transaction


class Prepared:
    """A query that runs on (nearly) every request, its SQL written once per database kind and its rows
    turned into model instances directly. For these small indexed queries peewee spends more time
    writing SQL and resolving result columns than the database spends answering (bench/autosave.py).

    `build(*params)` returns the peewee query for those parameters. The SQL is kept only when the query's
    parameters are exactly `params` in order (so nothing else was inlined); otherwise it runs as built.
    A SELECT gives instances of the selected models, each joined model reachable through its foreign key
    (`session.user.organization`) without another query.
    """

    def __init__(self, build):
        self.build = build
        self.plans = {}  # database class -> (sql, layout) or None when the shape is not cacheable

    def execute(self, *params):
        """The cursor of the query run with `params`, and the column layout of its rows."""
        database = db.obj
        kind = type(database)
        plan = self.plans.get(kind, False)
        if plan is False:
            query = self.build(*params)
            sql, sql_params = query.sql()
            plan = (sql, self.layout(query)) if list(sql_params) == list(params) else None
            self.plans[kind] = plan
        if plan is None:
            query = self.build(*params)
            return database.execute_sql(*query.sql()), self.layout(query)
        return database.execute_sql(plan[0], params), plan[1]

    @staticmethod
    def layout(query):
        """[(model, [(column name, converter)])] in the order the SELECT returns them; [] for writes and
        for selections of expressions (read those with `row`)."""
        groups = []
        returning = getattr(query, "_returning", None) or []
        if not all(isinstance(field, peewee.Field) for field in returning):
            return groups
        for field in returning:
            if not groups or groups[-1][0] is not field.model:
                groups.append((field.model, []))
            groups[-1][1].append((field.name, field.python_value))
        return groups

    def first(self, *params):
        cursor, layout = self.execute(*params)
        row = cursor.fetchone()
        return None if row is None else self.instances(row, layout)[0]

    def row(self, *params):
        """The first row as the database returns it (a tuple), or None."""
        return self.execute(*params)[0].fetchone()

    def all(self, *params):
        cursor, layout = self.execute(*params)
        return [self.instances(row, layout)[0] for row in cursor.fetchall()]

    @staticmethod
    def instances(row, layout):
        made, at = [], 0
        for model, columns in layout:
            instance = model(__no_default__=1)
            data = instance.__data__
            for name, convert in columns:
                value = row[at]
                data[name] = value if value is None else convert(value)
                at += 1
            for earlier in made:  # link to the instance this one was joined through
                for fk in earlier._meta.refs:
                    if fk.rel_model is model and data.get(fk.rel_field.name) == earlier.__data__.get(fk.name):
                        earlier.__rel__[fk.name] = instance
            made.append(instance)
        return made


class EncryptedField(peewee.TextField):
    """Holds a token from services.crypto (never the plain secret); `flask rotate-key` re-encrypts these columns."""


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False

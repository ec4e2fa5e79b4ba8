"""The database proxy and the base model every table derives from."""
from datetime import datetime, timezone

import peewee
from playhouse.db_url import connect

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
        pragmas = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": "normal"}
        # Pooled connections move between threads; each is used by one thread at a time.
        return connect(
            f"sqlite+pool://{rest}", pragmas=pragmas, max_connections=64, stale_timeout=600, check_same_thread=False
        )
    return connect(f"{scheme}+pool://{rest}", max_connections=32, stale_timeout=300)


class EncryptedField(peewee.TextField):
    """Holds a token from services.crypto (never the plain secret); `flask rotate-key` re-encrypts these columns."""


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False

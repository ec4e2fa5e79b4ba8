"""Schema migrations: modules named mNNNN_<what>.py, applied once each, in name order.

Each module has `upgrade(db, migrator)`. Migrations are written to be idempotent
(create tables with safe=True, add a column only when it is missing) so the same
files bring both a fresh and an old database, SQLite or PostgreSQL, to the
current schema. Ranges: 0001-0099 core, 0100 personal data, 0200 mail servers,
0300 security, 0400 back office, 0500 notifications, 0600 account, 0700 integrations.
"""
import importlib
import pkgutil

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

from models import BaseModel, utcnow


class SchemaMigration(BaseModel):
    name = pw.CharField(max_length=100, primary_key=True)
    applied_at = pw.DateTimeField(default=utcnow)


def migration_names():
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("m"))


def migrator_for(db):
    return SqliteMigrator(db) if isinstance(db, pw.SqliteDatabase) else PostgresqlMigrator(db)


def add_column_if_missing(db, migrator, table, name, field):
    """Add `name` to `table` unless a fresh database already created it from the live model."""
    from playhouse.migrate import migrate

    if name not in {c.name for c in db.get_columns(table)}:
        migrate(migrator.add_column(table, name, field))


def upgrade(db):
    """Apply every migration not yet recorded; returns the names applied."""
    db.create_tables([SchemaMigration], safe=True)
    done = {m.name for m in SchemaMigration.select(SchemaMigration.name)}
    applied = []
    for name in migration_names():
        if name in done:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        with db.atomic():
            module.upgrade(db, migrator_for(db))
            SchemaMigration.create(name=name)
        applied.append(name)
    return applied

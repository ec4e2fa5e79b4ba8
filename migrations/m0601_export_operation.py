"""Data exports remember their row in the list of operations."""
import peewee as pw

from migrations import add_column_if_missing


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "data_export", "operation_id", pw.IntegerField(null=True))

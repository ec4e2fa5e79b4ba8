"""Operations reported by the product: a title, counts (done of total) and a short status line."""
import peewee as pw

from migrations import add_column_if_missing


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "operation", "title", pw.CharField(max_length=200, default=""))
    add_column_if_missing(db, migrator, "operation", "done", pw.BigIntegerField(null=True))
    add_column_if_missing(db, migrator, "operation", "total", pw.BigIntegerField(null=True))
    add_column_if_missing(db, migrator, "operation", "status_line", pw.CharField(max_length=200, default=""))

"""People remember the language their pages were last shown in: mail and SMS go in it when they chose none."""
import peewee as pw

from migrations import add_column_if_missing


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "user", "page_language", pw.CharField(max_length=5, null=True))

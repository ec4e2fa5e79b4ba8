"""Where a member is told to contact support (locked contacts, a disabled account): the organization's
support e-mail, phone and page; empty ones fall back to the instance's SUPPORT_* settings."""
import peewee as pw

from migrations import add_column_if_missing


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "organization", "support_email", pw.CharField(max_length=254, default=""))
    add_column_if_missing(db, migrator, "organization", "support_phone", pw.CharField(max_length=16, default=""))
    add_column_if_missing(db, migrator, "organization", "support_url", pw.CharField(max_length=300, default=""))

"""Webhook deliveries: the claim lease (locked_until) that lets several workers share the queue."""
import peewee as pw

from migrations import add_column_if_missing


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "webhook_delivery", "locked_until", pw.DateTimeField(null=True))

"""Webhooks an integrator can debug: every attempt's request and answer (webhook_attempt), and the
previous secret that keeps signing during a rotation's overlap."""
import peewee as pw

from migrations import add_column_if_missing
from models.security import WEBHOOK_ATTEMPT_MODELS


def upgrade(db, migrator):
    db.create_tables(WEBHOOK_ATTEMPT_MODELS, safe=True)
    add_column_if_missing(db, migrator, "webhook", "previous_secret_encrypted", pw.TextField(default=""))
    add_column_if_missing(db, migrator, "webhook", "previous_secret_until", pw.DateTimeField(null=True))

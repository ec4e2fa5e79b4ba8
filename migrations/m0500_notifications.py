"""Notifications: preferences, low-balance alerts, the outbox, the in-app feed, the list of operations."""
from models.notifications import NOTIFICATION_MODELS


def upgrade(db, migrator):
    db.create_tables(NOTIFICATION_MODELS, safe=True)

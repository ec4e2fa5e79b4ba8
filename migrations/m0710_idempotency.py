"""Stored answers of API requests sent with an Idempotency-Key."""
from models.integrations import IDEMPOTENCY_MODELS


def upgrade(db, migrator):
    db.create_tables(IDEMPOTENCY_MODELS, safe=True)

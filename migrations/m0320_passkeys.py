"""Passkeys (WebAuthn credentials) as a second factor."""
from models.security import PASSKEY_MODELS


def upgrade(db, migrator):
    db.create_tables(PASSKEY_MODELS, safe=True)

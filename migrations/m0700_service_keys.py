"""Service keys: the organization's API keys that belong to no person."""
from models.integrations import SERVICE_KEY_MODELS


def upgrade(db, migrator):
    db.create_tables(SERVICE_KEY_MODELS, safe=True)

"""The audit trail of each service key's uses (request, address, status), kept SERVICE_KEY_USES_DAYS."""
from models.integrations import SERVICE_KEY_USE_MODELS


def upgrade(db, migrator):
    db.create_tables(SERVICE_KEY_USE_MODELS, safe=True)

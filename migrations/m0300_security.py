"""Security center: TOTP secrets, recovery codes, sign-in challenges, API keys, webhooks and deliveries."""
from models.security import SECURITY_MODELS


def upgrade(db, migrator):
    db.create_tables(SECURITY_MODELS, safe=True)

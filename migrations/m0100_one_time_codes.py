"""Personal data: the one-time codes that bind a phone number."""
from models import OneTimeCode


def upgrade(db, migrator):
    db.create_tables([OneTimeCode], safe=True)

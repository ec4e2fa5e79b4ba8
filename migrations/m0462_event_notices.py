"""Event notifications (seed 004): the events waiting for the next per-minute digest."""
from models import EventNotice


def upgrade(db, migrator):
    db.create_tables([EventNotice], safe=True)

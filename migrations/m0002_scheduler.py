"""The scheduler's heartbeat table."""
from models import SchedulerHeartbeat


def upgrade(db, migrator):
    db.create_tables([SchedulerHeartbeat], safe=True)

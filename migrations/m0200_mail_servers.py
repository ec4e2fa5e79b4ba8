"""Mail servers (issue 4)."""
from models import MailServer


def upgrade(db, migrator):
    db.create_tables([MailServer], safe=True)

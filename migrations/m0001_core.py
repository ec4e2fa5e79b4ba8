"""Organizations, users, sessions, single-use tokens and audit events."""
from models import AuditEvent, Organization, Token, User, UserSession


def upgrade(db, migrator):
    db.create_tables([Organization, User, UserSession, Token, AuditEvent], safe=True)

"""Impersonation ("Sign in as"): audit events name the administrator who acted as someone else."""
import peewee as pw

from migrations import add_column_if_missing
from models import User


def upgrade(db, migrator):
    add_column_if_missing(
        db, migrator, "audit_event", "impersonator_id",
        pw.ForeignKeyField(User, field=User.id, null=True, on_delete="SET NULL"),
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS audit_event_impersonator ON audit_event (impersonator_id)")

"""Profile pictures in two sizes with a content digest, and the indexes the events log pages through.

The events log is read newest first by keyset on (created_at, id) within one organization, optionally
narrowed to one action or one target (actor filters use audit_event (actor_id, created_at) from the model)."""
import peewee as pw

from migrations import add_column_if_missing

EVENT_INDEXES = {
    "audit_event_org_time_id": "(organization_id, created_at, id)",
    "audit_event_org_action_time_id": "(organization_id, action, created_at, id)",
    "audit_event_org_target_time_id": "(organization_id, target, created_at, id)",
}


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "avatar", "small", pw.BlobField(null=True))
    add_column_if_missing(db, migrator, "avatar", "format", pw.CharField(max_length=4, default="png"))
    add_column_if_missing(db, migrator, "avatar", "digest", pw.CharField(max_length=16, default=""))
    for name, columns in EVENT_INDEXES.items():
        db.execute_sql(f"CREATE INDEX IF NOT EXISTS {name} ON audit_event {columns}")

"""The events log: how many days an organization keeps its events (None: all; the scheduler's
purge_old_events deletes older ones), and an index for the filter by address."""
import peewee as pw

from migrations import add_column_if_missing


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "organization", "events_retention_days", pw.IntegerField(null=True))
    db.execute_sql("CREATE INDEX IF NOT EXISTS audit_event_org_ip_created ON audit_event (organization_id, ip, created_at)")

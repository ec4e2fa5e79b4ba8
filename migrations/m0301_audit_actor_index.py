"""Sign-in history pages through a person's audit events newest first by id (keyset pagination)."""


def upgrade(db, migrator):
    db.execute_sql("CREATE INDEX IF NOT EXISTS audit_event_actor_id_id ON audit_event (actor_id, id)")

"""The users list (bench/admin_users.py): indexes for the narrow-filter probes and, on PostgreSQL,
for prefix ranges compared in byte order whatever the database's collation."""
import peewee as pw

INDEXES = {
    "user_admin_org_status": "(organization_id, status)",
    "user_admin_org_two_factor": "(organization_id, two_factor)",
}
POSTGRES_INDEXES = {
    "user_admin_org_email_c": '(organization_id, email COLLATE "C")',
    "user_admin_org_name_c": '(organization_id, full_name COLLATE "C")',
}


def upgrade(db, migrator):
    indexes = dict(INDEXES)
    if isinstance(db, pw.PostgresqlDatabase):
        indexes.update(POSTGRES_INDEXES)
    for name, columns in indexes.items():
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS {name} ON "user" {columns}')
    # Nothing reads lower(full_name): SQLite's lower() leaves Cyrillic as it is, so the search tries
    # the name's usual case forms on the plain column instead (userlist.search_ranges).
    db.execute_sql("DROP INDEX IF EXISTS user_admin_org_lower_name")

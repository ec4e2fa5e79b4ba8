"""Back office: groups, permissions, client tags, clients, admin settings, avatars, event comments,
and the indexes the users list pages through (keyset pagination, prefix search)."""
from models.admin import ADMIN_MODELS

USER_INDEXES = {
    "user_admin_org_id": "(organization_id, id)",
    "user_admin_org_created": "(organization_id, created_at, id)",
    "user_admin_org_name": "(organization_id, full_name, id)",
    "user_admin_org_email": "(organization_id, email)",
    "user_admin_org_lower_name": "(organization_id, lower(full_name))",
    "audit_event_org_action": "(organization_id, action, created_at)",
}


def upgrade(db, migrator):
    db.create_tables(ADMIN_MODELS, safe=True)
    for name, columns in USER_INDEXES.items():
        table = "audit_event" if name.startswith("audit") else "user"
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS {name} ON "{table}" {columns}')

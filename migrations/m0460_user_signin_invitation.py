"""The users list's "Last sign-in" and "Invitation pending": two columns on the user, and an index for
the invitation filter's probe (userlist.narrow counts the matching ids through it)."""
import peewee as pw

from migrations import add_column_if_missing


def upgrade(db, migrator):
    add_column_if_missing(db, migrator, "user", "last_signin_at", pw.DateTimeField(null=True))
    add_column_if_missing(db, migrator, "user", "invited_at", pw.DateTimeField(null=True))
    db.execute_sql('CREATE INDEX IF NOT EXISTS user_admin_org_invited ON "user" (organization_id, invited_at)')

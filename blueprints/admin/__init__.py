"""The back office under /admin: users, groups and permissions, client tags, clients, events log, and
the organization's legal data.

Every page needs a signed-in person (one before_request) and its own permission (a decorator on
each view); records of another organization answer 404.

Importing the package registers every route on its blueprint (blueprints.admin.core.bp)."""
from blueprints.admin import (  # noqa: F401  (routes register on core.bp)
    bulk, clients, event_export, event_retention, events, groups, impersonation, invitations, organization, user_manage,
    user_security, user_sessions, users,
)
from blueprints.admin.core import SECTIONS, bp  # noqa: F401

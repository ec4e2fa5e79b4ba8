"""The JSON API (/api/v1): bearer API keys, scopes, per-key rate limits, JSON errors, an OpenAPI document.

Importing the package registers every route on its blueprint (blueprints.api.core.bp)."""
from blueprints.api import (  # noqa: F401  (routes register on core.bp)
    admin_clients, admin_events, admin_groups, admin_users, balance, events, invoices, mail_servers, messages,
    operations,
)
from blueprints.api.core import bp  # noqa: F401

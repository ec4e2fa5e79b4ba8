"""Service keys (`kabs_…`): the organization's API keys, made by those who hold integrations.manage and
not tied to a person. Shown once, stored as SHA-256 hashes, optionally limited to an address list
(services.ipallow) and an expiry. Every use is counted on the key's row (last use, its address, a
counter) and kept in the key's own trail (ServiceKeyUse: request, address, status, refused uses too, for
SERVICE_KEY_USES_DAYS); creating and revoking are events of the log, which a row per request would flood."""
import secrets
from datetime import timedelta

from models import ServiceKey, ServiceKeyUse, utcnow

from . import ipallow
from .apikeys import SCOPES
from .tokens import digest

PREFIX = "kabs_"
NAME_MAX = 100
MAX_LIVE_KEYS = 50  # per organization
USES_SHOWN = 200  # on a key's page of uses, newest first


def create_key(organization_id, created_by, name, scopes, expires_at=None, allowed_ips=""):
    """A new key of the organization; returns (the full key, to show once, and the ServiceKey row)."""
    prefix = PREFIX + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ServiceKey.create(
        organization=organization_id, created_by=created_by, name=name, prefix=prefix, key_hash=digest(key),
        scopes=" ".join(s for s in SCOPES if s in scopes), expires_at=expires_at,
        allowed_ips=ipallow.normalized(allowed_ips),
    )
    return key, row


def is_service_key(key):
    return (key or "").startswith(PREFIX)


def authenticate(key, ip, method="", path=""):
    """(ServiceKey, problem): the live key for this secret used from `ip`, or None with "invalid",
    "revoked", "expired" or "address" (the key's address list leaves `ip` out). A use is counted; a
    refused use of a known key is kept in its trail at once (a granted one when answered: record_use)."""
    if not key or len(key) > 100 or not is_service_key(key):
        return None, "invalid"
    row = ServiceKey.get_or_none(ServiceKey.key_hash == digest(key))
    if row is None:
        return None, "invalid"
    now = utcnow()
    problem = ("revoked" if row.revoked_at is not None else
               "expired" if row.expires_at is not None and row.expires_at <= now else
               "address" if not ipallow.allowed(ip, row.allowed_ips) else None)
    if problem:
        record_use(row, ip, method, path, 403 if problem == "address" else 401)
        return None, problem
    ServiceKey.update(last_used_at=now, last_used_ip=(ip or "")[:45], use_count=ServiceKey.use_count + 1).where(
        ServiceKey.id == row.id).execute()
    return row, None


def record_use(row, ip, method, path, status):
    ServiceKeyUse.create(key=row.id, ip=(ip or "")[:45], method=method[:7], path=path[:200], status=status)


def recent_uses(row, limit=USES_SHOWN):
    return list(ServiceKeyUse.select().where(ServiceKeyUse.key == row.id)
                .order_by(ServiceKeyUse.at.desc(), ServiceKeyUse.id.desc()).limit(limit))


def forget_old_uses():
    """Scheduler job: uses older than SERVICE_KEY_USES_DAYS go."""
    from flask import current_app

    days = current_app.config["SERVICE_KEY_USES_DAYS"]
    return ServiceKeyUse.delete().where(ServiceKeyUse.at < utcnow() - timedelta(days=days)).execute()


def revoke(row, by=None):
    return ServiceKey.update(revoked_at=utcnow(), revoked_by=by).where(
        ServiceKey.id == row.id, ServiceKey.revoked_at.is_null()).execute()


def live_keys(organization_id):
    now = utcnow()
    return ServiceKey.select().where(
        ServiceKey.organization == organization_id, ServiceKey.revoked_at.is_null(),
        ServiceKey.expires_at.is_null() | (ServiceKey.expires_at > now))


def keys_of(organization_id):
    """Every key of the organization, live ones first, newest first (revoked keys stay for the record)."""
    return list(ServiceKey.select().where(ServiceKey.organization == organization_id)
                .order_by(ServiceKey.revoked_at.is_null(False), ServiceKey.id.desc()))


def state(row, now=None):
    now = now or utcnow()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


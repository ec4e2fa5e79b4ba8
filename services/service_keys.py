"""Service keys (`kabs_…`): the organization's API keys, made by those who hold integrations.manage and
not tied to a person. Shown once, stored as SHA-256 hashes, optionally limited to an address list
(services.ipallow) and an expiry. Every use is counted on the key's row (last use, its address, a
counter); creating and revoking are audit events — an event per request would flood the log."""
import secrets


from models import ServiceKey, utcnow

from . import ipallow
from .apikeys import SCOPES
from .tokens import digest

PREFIX = "kabs_"
NAME_MAX = 100
MAX_LIVE_KEYS = 50  # per organization


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


def authenticate(key, ip):
    """(ServiceKey, problem): the live key for this secret used from `ip`, or None with "invalid",
    "revoked", "expired" or "address" (the key's address list leaves `ip` out). A use is counted."""
    if not key or len(key) > 100 or not is_service_key(key):
        return None, "invalid"
    row = ServiceKey.get_or_none(ServiceKey.key_hash == digest(key))
    if row is None:
        return None, "invalid"
    if row.revoked_at is not None:
        return None, "revoked"
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None, "expired"
    if not ipallow.allowed(ip, row.allowed_ips):
        return None, "address"
    ServiceKey.update(last_used_at=now, last_used_ip=(ip or "")[:45], use_count=ServiceKey.use_count + 1).where(
        ServiceKey.id == row.id).execute()
    return row, None


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


"""API keys: shown once, stored as SHA-256 hashes, recognised by a short visible prefix (SECURITY.md 25)."""
import secrets
from datetime import timedelta

from models import ApiKey, User, utcnow

from .tokens import digest

SCOPES = ("read", "write")
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most once a minute per key


def create_key(user, name, scopes, expires_at=None):
    """A new key for `user`; returns (the full key, to show once, and the ApiKey row)."""
    prefix = "kab_" + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey.create(
        user=user, name=name, prefix=prefix, key_hash=digest(key),
        scopes=" ".join(s for s in SCOPES if s in scopes), expires_at=expires_at,
    )
    return key, row


def authenticate(key):
    """(ApiKey, problem): the live key for this secret, or None with "invalid", "revoked" or "expired"."""
    if not key or len(key) > 100 or not key.startswith("kab_"):
        return None, "invalid"
    row = ApiKey.get_or_none(ApiKey.key_hash == digest(key))  # a hash lookup: no timing on the secret
    if row is None:
        return None, "invalid"
    if row.revoked_at is not None:
        return None, "revoked"
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None, "expired"
    owner = User.get_or_none(User.id == row.user_id)
    if owner is None or not owner.is_active:
        return None, "invalid"
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        ApiKey.update(last_used_at=now).where(ApiKey.id == row.id).execute()
    return row, None


def revoke(row):
    return ApiKey.update(revoked_at=utcnow()).where(ApiKey.id == row.id, ApiKey.revoked_at.is_null()).execute()

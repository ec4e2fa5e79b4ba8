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


NAME_MAX = 100
MAX_LIVE_KEYS = 20  # keys one person may hold that are neither revoked nor expired
MAX_EXPIRY_DAYS = 3 * 366


def live_keys(user):
    """The person's keys that still work, for counting against MAX_LIVE_KEYS."""
    now = utcnow()
    return ApiKey.select().where(
        ApiKey.user == user.id, ApiKey.revoked_at.is_null(), (ApiKey.expires_at.is_null()) | (ApiKey.expires_at > now)
    )


def keys_of(user):
    """Every key of the person, live ones first, newest first (revoked keys stay listed for the record)."""
    return list(ApiKey.select().where(ApiKey.user == user.id).order_by(ApiKey.revoked_at.is_null(False), ApiKey.id.desc()))


def state(row, now=None):
    """"active", "expired" or "revoked"."""
    now = now or utcnow()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def update_key(row, name, scopes):
    """Rename a key and set its scopes; returns the names of what changed."""
    new_scopes = " ".join(s for s in SCOPES if s in scopes)
    changed = [field for field, old, new in (("name", row.name, name), ("scopes", row.scopes, new_scopes)) if old != new]
    if changed:
        ApiKey.update(name=name, scopes=new_scopes).where(ApiKey.id == row.id).execute()
    return changed

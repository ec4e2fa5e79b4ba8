"""The organization's integrations that belong to no person: service keys for /api/v1, and the stored
answers of requests sent with an Idempotency-Key."""
import peewee as pw

from .base import BaseModel, utcnow
from .core import Organization, User


class ServiceKey(BaseModel):
    """A bearer key that acts for the organization, not for a person: it outlives whoever made it.

    Only the hash and the visible prefix are kept. Each use writes `last_used_at`, `last_used_ip` and adds
    one to `use_count` (one UPDATE, no audit event per request: creating and revoking are audited)."""

    organization = pw.ForeignKeyField(Organization, backref="service_keys", on_delete="CASCADE")
    created_by = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    name = pw.CharField(max_length=100)
    prefix = pw.CharField(max_length=16)
    key_hash = pw.CharField(max_length=64, unique=True)
    scopes = pw.CharField(max_length=40, default="read")  # space-separated: read write
    allowed_ips = pw.TextField(default="")  # services.ipallow list; empty: any address
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(null=True)
    last_used_at = pw.DateTimeField(null=True)
    last_used_ip = pw.CharField(max_length=45, default="")
    use_count = pw.BigIntegerField(default=0)
    revoked_at = pw.DateTimeField(null=True)
    revoked_by = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")

    class Meta:
        indexes = ((("organization", "id"), False),)

    @property
    def scope_list(self):
        return self.scopes.split()

    @property
    def user(self):
        """A service key has no person: routes that need one refuse it (blueprints/api.py)."""
        return None

    user_id = None


SERVICE_KEY_MODELS = [ServiceKey]

"""The organization's integrations that belong to no person: service keys for /api/v1, and the stored
answers of requests sent with an Idempotency-Key."""
import peewee as pw

from .base import BaseModel, utcnow
from .core import Organization, User


class ServiceKey(BaseModel):
    """A bearer key that acts for the organization, not for a person: it outlives whoever made it.

    Only the hash and the visible prefix are kept. Each use writes `last_used_at`, `last_used_ip` and adds
    one to `use_count`, and is kept as a ServiceKeyUse; creating and revoking are events of the log."""

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


class ServiceKeyUse(BaseModel):
    """One request made with a service key (the audit trail of its uses, kept SERVICE_KEY_USES_DAYS): when,
    from where, what, and the answer's status. Refused uses of a known key (revoked, expired, from an
    address its list leaves out) are kept too. Not in the events log, which they would flood."""

    key = pw.ForeignKeyField(ServiceKey, backref="uses", on_delete="CASCADE")
    at = pw.DateTimeField(default=utcnow)
    ip = pw.CharField(max_length=45, default="")
    method = pw.CharField(max_length=7, default="")
    path = pw.CharField(max_length=200, default="")
    status = pw.SmallIntegerField(default=0)

    class Meta:
        indexes = ((("key", "at"), False),)


class IdempotencyRecord(BaseModel):
    """The answer to a request sent with an Idempotency-Key, written in the same transaction as its effect.

    The row is inserted first: a second request with the same key waits on the unique index until the
    first commits, then reads the stored answer (services/idempotency.py)."""

    organization = pw.ForeignKeyField(Organization, backref="+", on_delete="CASCADE")
    key = pw.CharField(max_length=100)
    request_hash = pw.CharField(max_length=64)  # SHA-256 of the method, path and JSON body
    status = pw.IntegerField(default=0)
    body = pw.TextField(default="")  # the JSON answer
    created_at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("organization", "key"), True),)


SERVICE_KEY_MODELS = [ServiceKey]
SERVICE_KEY_USE_MODELS = [ServiceKeyUse]
IDEMPOTENCY_MODELS = [IdempotencyRecord]

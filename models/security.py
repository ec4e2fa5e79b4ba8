"""Second factors, sign-in challenges, API keys and webhooks (the security center, issue 5)."""
import peewee as pw

from .base import BaseModel, EncryptedField, utcnow
from .core import Organization, User


class TotpSecret(BaseModel):
    """A person's authenticator-app secret and the last time step accepted (replay protection)."""

    user = pw.ForeignKeyField(User, backref="totp", on_delete="CASCADE", unique=True)
    secret = pw.CharField(max_length=64)
    last_step = pw.BigIntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)


class RecoveryCode(BaseModel):
    """One single-use recovery code; only its SHA-256 is stored."""

    user = pw.ForeignKeyField(User, backref="recovery_codes", on_delete="CASCADE")
    code_hash = pw.CharField(max_length=64)
    created_at = pw.DateTimeField(default=utcnow)
    used_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "code_hash"), False),)


class Challenge(BaseModel):
    """A pending second step or mailed code: bound to a person, a purpose and a target, tries counted here
    (not in the cookie, which a client could replay)."""

    user = pw.ForeignKeyField(User, backref="challenges", on_delete="CASCADE")
    purpose = pw.CharField(max_length=20)  # signin | setup-email | manage | passkey-add | passkey-signin
    token_hash = pw.CharField(max_length=64, unique=True)
    code_hash = pw.CharField(max_length=64, default="")  # mailed codes only
    target = pw.CharField(max_length=254, default="")  # the address a code went to
    data = pw.CharField(max_length=500, default="")  # e.g. where to go after signing in, a WebAuthn challenge
    tries = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)


class ApiKey(BaseModel):
    """A bearer key for /api/v1; the key itself is shown once, only its hash and prefix are kept."""

    user = pw.ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    prefix = pw.CharField(max_length=16)
    key_hash = pw.CharField(max_length=64, unique=True)
    scopes = pw.CharField(max_length=40, default="read")  # space-separated: read write
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(null=True)
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)

    @property
    def scope_list(self):
        return self.scopes.split()


class Webhook(BaseModel):
    """An endpoint that receives signed JSON events for an organization."""

    organization = pw.ForeignKeyField(Organization, backref="webhooks", on_delete="CASCADE")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    url = pw.CharField(max_length=500)
    events = pw.CharField(max_length=300, default="")  # space-separated event types
    secret_encrypted = EncryptedField()  # Fernet token (services.crypto); the secret is shown once
    enabled = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    # After "Make a new secret" with an overlap, the old secret also signs until previous_secret_until.
    previous_secret_encrypted = EncryptedField(default="")
    previous_secret_until = pw.DateTimeField(null=True)

    @property
    def event_list(self):
        return self.events.split()


class WebhookDelivery(BaseModel):
    """One event sent (or to be sent) to one webhook, with every attempt's outcome."""

    webhook = pw.ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    event = pw.CharField(max_length=60)
    payload = pw.TextField()
    state = pw.CharField(max_length=10, default="pending", index=True)  # pending | sending | delivered | failed
    attempts = pw.IntegerField(default=0)
    status_code = pw.IntegerField(null=True)
    duration_ms = pw.IntegerField(null=True)
    error = pw.CharField(max_length=300, default="")
    created_at = pw.DateTimeField(default=utcnow)
    last_attempt_at = pw.DateTimeField(null=True)
    next_attempt_at = pw.DateTimeField(null=True, index=True)
    locked_until = pw.DateTimeField(null=True)  # a worker's claim; after it passes another may take the row over

    class Meta:
        indexes = ((("webhook", "created_at"), False),)


class WebhookAttempt(BaseModel):
    """One attempt of a delivery as the integrator sees it: what was sent and what came back."""

    delivery = pw.ForeignKeyField(WebhookDelivery, backref="attempt_log", on_delete="CASCADE")
    number = pw.IntegerField()
    started_at = pw.DateTimeField(default=utcnow)
    request_headers = pw.TextField(default="[]")  # JSON [[name, value], ...]; the body is the delivery's payload
    status_code = pw.IntegerField(null=True)
    response_headers = pw.TextField(default="[]")  # JSON [[name, value], ...]
    response_body = pw.TextField(default="")  # the first 4 KB, decoded as UTF-8 with replacements
    duration_ms = pw.IntegerField(null=True)
    error = pw.CharField(max_length=300, default="")

    class Meta:
        indexes = ((("delivery", "number"), False),)


class Passkey(BaseModel):
    """A WebAuthn credential (security key or platform authenticator) a person uses as a second factor.

    Only the public key is kept; `sign_count` is the authenticator's counter at its last use (a clone
    that reports an older counter is refused)."""

    user = pw.ForeignKeyField(User, backref="passkeys", on_delete="CASCADE")
    name = pw.CharField(max_length=60)
    credential_id = pw.CharField(max_length=1400, unique=True)  # base64url; the spec allows 1023 bytes
    public_key = pw.TextField()  # COSE key, base64url
    sign_count = pw.BigIntegerField(default=0)
    transports = pw.CharField(max_length=100, default="")  # space-separated hints: usb nfc ble internal hybrid
    aaguid = pw.CharField(max_length=36, default="")
    created_at = pw.DateTimeField(default=utcnow)
    last_used_at = pw.DateTimeField(null=True)


SECURITY_MODELS = [TotpSecret, RecoveryCode, Challenge, ApiKey, Webhook, WebhookDelivery]
WEBHOOK_ATTEMPT_MODELS = [WebhookAttempt]  # created by migration m0350
PASSKEY_MODELS = [Passkey]  # created by migration m0320

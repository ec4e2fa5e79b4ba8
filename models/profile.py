"""One-time codes sent by SMS (or mail) to prove a phone number or an address."""
import peewee as pw

from .base import BaseModel, utcnow
from .core import User


class OneTimeCode(BaseModel):
    """A 6-digit challenge for `target` (e.g. a phone number in E.164); only its HMAC is stored.

    Rows stay after use or replacement so the hourly send limits can count them; the
    scheduler's purge forgets them with the rest once they are old.
    """

    user = pw.ForeignKeyField(User, backref="codes", on_delete="CASCADE")
    purpose = pw.CharField(max_length=20)  # e.g. "phone"
    target = pw.CharField(max_length=254)
    code_hash = pw.CharField(max_length=64)
    attempts = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    closed_at = pw.DateTimeField(null=True)  # used, replaced by a resend, cancelled or out of tries

    class Meta:
        indexes = (
            (("user", "purpose", "created_at"), False),
            (("target", "created_at"), False),
        )

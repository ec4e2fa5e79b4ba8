"""A person's SMTP servers for the mail their scripts and campaigns send, with their last known status."""
import peewee as pw

from .base import BaseModel, EncryptedField, utcnow
from .core import Organization, User

SECURITY_CHOICES = ("ssl", "starttls", "none")
STATUSES = ("checking", "online", "offline")


class MailServer(BaseModel):
    owner = pw.ForeignKeyField(User, backref="mail_servers", on_delete="CASCADE", index=True)
    organization = pw.ForeignKeyField(Organization, backref="mail_servers", on_delete="CASCADE")
    host = pw.CharField(max_length=253)
    port = pw.IntegerField()
    security = pw.CharField(max_length=10, default="starttls")  # ssl | starttls | none
    username = pw.CharField(max_length=254, default="")
    password_token = EncryptedField(default="")  # Fernet token from services.crypto; "" when none
    from_email = pw.CharField(max_length=254)
    from_name = pw.CharField(max_length=100, default="")
    status = pw.CharField(max_length=10, default="checking")  # checking | online | offline
    checked_at = pw.DateTimeField(null=True)
    reason = pw.CharField(max_length=20, null=True)  # services.smtp_probe reason when offline
    reply_code = pw.IntegerField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    # Changes on every save: a check started before an edit must not overwrite the edited server's status.
    updated_at = pw.DateTimeField(default=utcnow)

    @property
    def address(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

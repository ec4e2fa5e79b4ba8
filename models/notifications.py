"""Notifications: per-person channel choices, the low-balance alert, the delivery outbox, the in-app
feed and the organization's list of long-running operations."""
import peewee as pw

from .base import BaseModel, utcnow
from .core import Organization, User

# Category codes (what happened) and channel codes (how it is told); labels live in services.notifications.
CATEGORIES = ("requests", "imports", "billing", "low_balance", "security", "operations", "events")
CHANNELS = ("email", "sms", "telegram", "slack", "in_app")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
OPERATION_STATUSES = ("pending", "running", "completed", "failed")


class NotificationPreference(BaseModel):
    """One ticked or unticked box of the grid; a missing row means the default of services.notifications."""

    user = pw.ForeignKeyField(User, backref="notification_preferences", on_delete="CASCADE")
    category = pw.CharField(max_length=20)
    channel = pw.CharField(max_length=10)
    enabled = pw.BooleanField()

    class Meta:
        indexes = ((("user", "category", "channel"), True),)


class LowBalanceAlert(BaseModel):
    """A person's low-balance threshold (in the organization's currency) and the latch that makes the
    alert go once per fall below it: `alerted` is set when it goes and cleared when the balance recovers."""

    user = pw.ForeignKeyField(User, primary_key=True, backref="low_balance_alert", on_delete="CASCADE")
    threshold = pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True)
    alerted = pw.BooleanField(default=False)
    updated_at = pw.DateTimeField(default=utcnow)


class OutboxMessage(BaseModel):
    """One message for one channel. Written in the transaction of the change that caused it, delivered by
    the scheduler's `deliver_notifications` job; `dedup_key` makes a repeated notify() a no-op."""

    user = pw.ForeignKeyField(User, backref="outbox_messages", on_delete="CASCADE")
    category = pw.CharField(max_length=20)
    channel = pw.CharField(max_length=10)
    data = pw.TextField(default="{}")  # JSON; the text is made at delivery, in the recipient's language
    dedup_key = pw.CharField(max_length=200, unique=True)
    status = pw.CharField(max_length=10, default="pending")
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    claimed_until = pw.DateTimeField(null=True)  # a worker's lease while it is `sending`
    last_error = pw.CharField(max_length=300, default="")
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)


class Notification(BaseModel):
    """An in-app notification (the bell and /app/notifications)."""

    user = pw.ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    category = pw.CharField(max_length=20)
    data = pw.TextField(default="{}")  # JSON; shown in the reader's language
    created_at = pw.DateTimeField(default=utcnow)
    read_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "read_at"), False), (("user", "id"), False))


class Operation(BaseModel):
    """A long-running job of the organization (client import, data export) in the list of operations."""

    organization = pw.ForeignKeyField(Organization, backref="operations", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, null=True, backref="operations", on_delete="SET NULL")
    kind = pw.CharField(max_length=30)
    status = pw.CharField(max_length=10, default="pending")
    progress = pw.IntegerField(default=0)  # percent
    result = pw.CharField(max_length=500, default="")
    result_url = pw.CharField(max_length=300, default="")
    error = pw.CharField(max_length=500, default="")
    created_at = pw.DateTimeField(default=utcnow)
    started_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)
    # what the product reports through POST /api/v1/operations (migration m0720)
    title = pw.CharField(max_length=200, default="")
    done = pw.BigIntegerField(null=True)
    total = pw.BigIntegerField(null=True)
    status_line = pw.CharField(max_length=200, default="")

    class Meta:
        indexes = ((("organization", "id"), False), (("organization", "status"), False))


NOTIFICATION_MODELS = [NotificationPreference, LowBalanceAlert, OutboxMessage, Notification, Operation]


class EventNotice(BaseModel):
    """An event of the subscription catalog (services.permissions.EVENT_CATALOG) waiting for the next
    digest: written by services.audit.record, read and deleted by services.event_notifications'
    minute job, which sends each subscriber one message summarising what happened."""

    organization = pw.ForeignKeyField(Organization, backref="event_notices", on_delete="CASCADE")
    action = pw.CharField(max_length=60)
    actor_email = pw.CharField(max_length=254, default="")
    target = pw.CharField(max_length=200, default="")
    created_at = pw.DateTimeField(default=utcnow)

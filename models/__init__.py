"""All tables. Each area's models live in their own module and are re-exported here."""
from .base import BaseModel, EncryptedField, Prepared, db, open_database, utcnow, write_transaction
from .core import AuditEvent, Organization, SchedulerHeartbeat, Token, User, UserSession
from .admin import Avatar, Client, ClientTag, ClientTagLink, EventComment, Group, GroupMember, GroupPermission, Impersonation, UserAdminSettings, UserAllowedTag
from .mail import MailServer
from .profile import OneTimeCode
from .security import ApiKey, Challenge, Passkey, RecoveryCode, TotpSecret, Webhook, WebhookAttempt, WebhookDelivery
from .account import BalanceEntry, BillingDetails, DataExport, DeletionRequest, Invoice, InvoiceLine, ProcessingAgreement, StoredFile
from .notifications import EventNotice, LowBalanceAlert, Notification, NotificationPreference, Operation, OutboxMessage
from .integrations import IdempotencyRecord, ServiceKey, ServiceKeyUse

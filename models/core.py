"""Organizations, people, their sessions, one-time links and the audit trail."""
import peewee as pw

from .base import BaseModel, utcnow

LEGAL_FORMS = ("llc", "ie", "jsc", "other")  # ООО, ИП, АО, other
TARIFFS = ("standard", "prepaid", "corporate")
ROLES = ("owner", "admin", "employee")


class Organization(BaseModel):
    name = pw.CharField(max_length=300)
    legal_form = pw.CharField(max_length=10, default="llc")
    tin = pw.CharField(max_length=12, null=True)  # ИНН
    legal_address = pw.CharField(max_length=500, default="")
    ogrnip = pw.CharField(max_length=15, null=True)  # individual entrepreneurs
    kpp = pw.CharField(max_length=9, null=True)  # companies
    ogrn = pw.CharField(max_length=13, null=True)
    okved = pw.CharField(max_length=200, null=True)
    balance = pw.DecimalField(max_digits=14, decimal_places=2, null=True)  # None: not configured
    currency = pw.CharField(max_length=3, default="RUB")
    tariff = pw.CharField(max_length=20, default="standard")
    contacts_locked = pw.BooleanField(default=False)  # seed 001: verified contacts change via support
    require_2fa = pw.BooleanField(default=False)
    ip_allowlist = pw.TextField(default="")  # one address or CIDR range per line; empty: anywhere
    support_email = pw.CharField(max_length=254, default="")  # where members are told to turn (migration 0463);
    support_phone = pw.CharField(max_length=16, default="")  # empty: the instance's SUPPORT_* defaults
    support_url = pw.CharField(max_length=300, default="")
    events_retention_days = pw.IntegerField(null=True)  # None: the events log keeps everything (migration 0461)
    created_at = pw.DateTimeField(default=utcnow)


class User(BaseModel):
    organization = pw.ForeignKeyField(Organization, backref="users", on_delete="CASCADE")
    email = pw.CharField(max_length=254, unique=True)  # stored lower-cased: unique regardless of case
    email_verified = pw.BooleanField(default=False)
    full_name = pw.CharField(max_length=200, default="")
    short_info = pw.CharField(max_length=200, default="")
    phone = pw.CharField(max_length=16, null=True)  # E.164
    phone_verified = pw.BooleanField(default=False)
    password_hash = pw.CharField(max_length=200)
    password_changed_at = pw.DateTimeField(default=utcnow)
    status = pw.CharField(max_length=10, default="enabled", index=True)  # enabled | disabled
    role = pw.CharField(max_length=10, default="employee")
    language = pw.CharField(max_length=5, null=True)  # None: follow the browser
    # The language the person's pages were last shown in: their mail and SMS go in it when `language` is None.
    page_language = pw.CharField(max_length=5, null=True)
    country = pw.CharField(max_length=2, null=True)
    time_zone = pw.CharField(max_length=64, null=True)  # None: not chosen yet
    two_factor = pw.CharField(max_length=10, default="off")  # off | email | totp (seed 004)
    ip_allowlist = pw.TextField(default="")  # one address or CIDR range per line; empty: anywhere
    created_by = pw.ForeignKeyField("self", null=True, backref="created_users", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow, index=True)
    last_signin_at = pw.DateTimeField(null=True)  # the last sign-in of their own (never "Sign in as")
    invited_at = pw.DateTimeField(null=True)  # an invitation mailed and not yet accepted (migration 0460)

    # flask-login protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return self.status == "enabled"

    def get_id(self):
        return str(self.id)

    @property
    def display_name(self):
        return self.full_name or self.email

    def reading_language(self, fallback="en"):
        """The language to write to this person in: the one they chose, else the one their pages were last
        shown in, else `fallback` (e.g. the language of the page that sends the mail)."""
        return self.language or self.page_language or fallback


class UserSession(BaseModel):
    """A server-side record of one signed-in browser, so sessions can be listed and ended."""

    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    token_hash = pw.CharField(max_length=64, unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)
    reauth_at = pw.DateTimeField(default=utcnow)  # last time the password was entered
    ended_at = pw.DateTimeField(null=True)
    ip = pw.CharField(max_length=45, default="")
    user_agent = pw.CharField(max_length=300, default="")

    class Meta:
        indexes = ((("user", "ended_at"), False),)


class Token(BaseModel):
    """A single-use link (password reset, e-mail change); only its hash is stored."""

    purpose = pw.CharField(max_length=20)
    token_hash = pw.CharField(max_length=64, unique=True)
    user = pw.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    data = pw.CharField(max_length=300, default="")  # e.g. the new e-mail address
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "purpose"), False),)


class AuditEvent(BaseModel):
    organization = pw.ForeignKeyField(Organization, null=True, backref="events", on_delete="CASCADE")
    actor = pw.ForeignKeyField(User, null=True, backref="events", on_delete="SET NULL")
    # The administrator who acted through "Sign in as" (the actor is then the person they acted as).
    impersonator = pw.ForeignKeyField(User, null=True, backref="events_as_impersonator", on_delete="SET NULL")
    action = pw.CharField(max_length=60)
    target = pw.CharField(max_length=200, default="")
    details = pw.TextField(default="")
    ip = pw.CharField(max_length=45, default="")
    user_agent = pw.CharField(max_length=300, default="")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("organization", "created_at"), False),
            (("actor", "created_at"), False),
        )


class SchedulerHeartbeat(BaseModel):
    """One row per run of the heartbeat job: shows which process leads and that jobs run."""

    process = pw.CharField(max_length=100)
    ran_at = pw.DateTimeField(default=utcnow, index=True)

"""Back office: groups and their permissions, client tags, clients, per-user admin settings,
profile pictures and comments on audit events."""
import peewee as pw
from flask_babel import lazy_gettext as _l

from .base import BaseModel, utcnow
from .core import AuditEvent, Organization, User, UserSession

ADMINISTRATORS = "Administrators"  # the stored name of the built-in group
ADMINISTRATORS_LABEL = _l("Administrators")  # and the name people read, in their language


class Group(BaseModel):
    organization = pw.ForeignKeyField(Organization, backref="groups", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    is_administrators = pw.BooleanField(default=False)  # every permission, cannot change or go
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "name"), True),)

    @property
    def display_name(self):
        """The name people read: the built-in group's in the reader's language, any other as it was typed."""
        if self.is_administrators:
            return str(ADMINISTRATORS_LABEL)
        return self.name


class GroupPermission(BaseModel):
    group = pw.ForeignKeyField(Group, backref="permissions", on_delete="CASCADE")
    permission = pw.CharField(max_length=40)

    class Meta:
        indexes = ((("group", "permission"), True),)


class GroupMember(BaseModel):
    group = pw.ForeignKeyField(Group, backref="members", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="group_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("group", "user"), True), (("user", "group"), False))


class ClientTag(BaseModel):
    organization = pw.ForeignKeyField(Organization, backref="client_tags", on_delete="CASCADE")
    caption = pw.CharField(max_length=60)

    class Meta:
        indexes = ((("organization", "caption"), True),)


class UserAdminSettings(BaseModel):
    """What seed 004's user details add to a person: chat ids, masking, client visibility."""

    user = pw.ForeignKeyField(User, primary_key=True, backref="admin_settings", on_delete="CASCADE")
    telegram_chat_id = pw.CharField(max_length=64, default="")
    slack_chat_id = pw.CharField(max_length=64, default="")
    mask_data = pw.BooleanField(default=False)
    countries_except = pw.BooleanField(default=False)  # True: all countries except `countries`
    countries = pw.CharField(max_length=800, default="")  # ISO codes, comma-separated; empty: all
    event_subscriptions = pw.TextField(default="")  # event codes from EVENT_CATALOG, comma-separated

    @property
    def country_list(self):
        return [c for c in self.countries.split(",") if c]

    @property
    def subscription_list(self):
        return [c for c in self.event_subscriptions.split(",") if c]


class UserAllowedTag(BaseModel):
    user = pw.ForeignKeyField(User, backref="allowed_tag_links", on_delete="CASCADE")
    tag = pw.ForeignKeyField(ClientTag, backref="user_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("user", "tag"), True),)


class Client(BaseModel):
    """A customer the back office serves (the registry the visibility rules apply to)."""

    organization = pw.ForeignKeyField(Organization, backref="clients", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    email = pw.CharField(max_length=254, default="")
    phone = pw.CharField(max_length=16, default="")  # E.164
    country = pw.CharField(max_length=2, default="")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "id"), False),)


class ClientTagLink(BaseModel):
    client = pw.ForeignKeyField(Client, backref="tag_links", on_delete="CASCADE")
    tag = pw.ForeignKeyField(ClientTag, backref="client_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("client", "tag"), True), (("tag", "client"), False))


class Avatar(BaseModel):
    """A profile picture, re-encoded by services.avatars: 256×256 (`image`) and 64×64 (`small`)."""

    user = pw.ForeignKeyField(User, primary_key=True, backref="avatar", on_delete="CASCADE")
    image = pw.BlobField()
    small = pw.BlobField(null=True)
    format = pw.CharField(max_length=4, default="png")  # png | jpeg
    digest = pw.CharField(max_length=16, default="")  # of both sizes: part of the URL, so it caches for good
    updated_at = pw.DateTimeField(default=utcnow)


class EventComment(BaseModel):
    event = pw.ForeignKeyField(AuditEvent, backref="comments", on_delete="CASCADE")
    author = pw.ForeignKeyField(User, null=True, backref="event_comments", on_delete="SET NULL")
    text = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("event", "created_at"), False),)


class Impersonation(BaseModel):
    """A session opened by an administrator as someone else ("Sign in as")."""

    session = pw.ForeignKeyField(UserSession, backref="impersonations", on_delete="CASCADE", unique=True)
    admin = pw.ForeignKeyField(User, backref="impersonations_made", on_delete="CASCADE")
    admin_session = pw.ForeignKeyField(UserSession, backref="+", on_delete="CASCADE")
    created_at = pw.DateTimeField(default=utcnow)


ADMIN_MODELS = [
    Group, GroupPermission, GroupMember, ClientTag, UserAdminSettings, UserAllowedTag,
    Client, ClientTagLink, Avatar, EventComment, Impersonation,
]

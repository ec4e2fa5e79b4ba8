"""What the back office writes about a person, for the users page and the admin API alike: create them,
save the details form (groups, allowed tags, countries, chat ids, subscriptions, masking, phone, status,
role) with its audit trail, and the conflicts that refuse such a change (SECURITY.md 29: oneself, roles
by anyone but the owner, the last enabled administrator). `form` is the page's WTForms form, validated."""
from flask_babel import gettext as _
from peewee import IntegrityError

from models import Group, GroupMember, Organization, User, UserAdminSettings, UserAllowedTag, db, write_transaction
from services import audit, ipallow, passwords, sessions, tokens
from services.permissions import EVENT_CATALOG, enabled_administrators, is_administrator


def settings_of(user):
    return UserAdminSettings.get_or_none(UserAdminSettings.user == user.id) or UserAdminSettings(user=user.id)


def create_person(actor, form, meta):
    """The person a valid CreateUserForm describes, created by `actor` and audited with `meta`; None
    when their address was taken since the form was checked (the unique index held)."""
    # Nobody knows this password: the person sets their own through the mailed link. Hashed before the
    # transaction, which holds the write lock.
    unknown_password = passwords.hash_password(tokens.new_secret())
    try:
        with db.atomic():
            user = User.create(
                organization=actor.organization_id,
                email=form.email.data,
                full_name=form.full_name.data,
                phone=form.phone.data,
                password_hash=unknown_password,
                created_by=actor,
                ip_allowlist=form.ip_allowlist.data,
            )
            save_access(user, form)
            audit.record("user.created", actor=actor, target=user.email, **meta)
    except IntegrityError:
        if not User.select().where(User.email == form.email.data).exists():
            raise
        return None
    return user


def save_access(user, form, settings=None):
    """Groups, allowed tags and countries from `form` (choices already limited to this organization)."""
    GroupMember.delete().where(GroupMember.user == user, GroupMember.group.not_in(form.groups.data or [0])).execute()
    for group_id in form.groups.data:
        GroupMember.get_or_create(user=user, group=group_id)
    UserAllowedTag.delete().where(UserAllowedTag.user == user, UserAllowedTag.tag.not_in(form.tags.data or [0])).execute()
    for tag_id in form.tags.data:
        UserAllowedTag.get_or_create(user=user, tag=tag_id)
    settings = settings or settings_of(user)
    settings.countries_except = form.countries_except.data
    settings.countries = ",".join(sorted(set(form.countries.data)))
    if settings.countries_except and not settings.countries:
        settings.countries_except = False  # "all except nothing" is simply all
    settings.save(force_insert=not UserAdminSettings.select().where(UserAdminSettings.user == user.id).exists())
    return settings


def access_of(user):
    """What the details form sets besides the user's own columns, to say in the audit which changed."""
    settings = settings_of(user)
    return {
        "groups": sorted(m.group_id for m in GroupMember.select().where(GroupMember.user == user)),
        "tags": sorted(t.tag_id for t in UserAllowedTag.select().where(UserAllowedTag.user == user)),
        "countries": (settings.countries_except, settings.countries),
        "mask_data": settings.mask_data,
        "telegram_chat_id": settings.telegram_chat_id,
        "slack_chat_id": settings.slack_chat_id,
        "event_subscriptions": settings.event_subscriptions,
    }


def details_problem(actor, user, form, address):
    """Why the details form's change to `user` is refused as a conflict (translated), or None: `actor`
    disabling themself or locking themself out from `address`, or a role change by someone not the owner."""
    is_self = user.id == actor.id
    problem = None
    if form.status.data == "disabled" and user.status != "disabled" and is_self:
        problem = _("You cannot disable your own account.")
    if is_self and form.ip_allowlist.data != user.ip_allowlist and not ipallow.allowed(address, form.ip_allowlist.data):
        problem = _("Your current address is not in this list: saving it would lock you out. "
                    "Change your own list on the Security page.")
    if form.role.data != user.role and actor.role != "owner":
        problem = _("Only the organization's owner can change roles.")
    return problem


def apply_details(actor, user, form, meta):
    """Save a valid details form of `user` and audit it with `meta`; the refusal when it would leave
    the organization without an enabled administrator (then nothing changes), else None."""
    changes = {}
    # The administrators are counted with the organization's row locked (PostgreSQL) or SQLite's write lock
    # held, until the change is written: two administrators disabling each other at once leave one.
    with write_transaction((Organization, user.organization_id)):
        problem = last_administrator_problem(user, form)
        if problem is None:
            before = access_of(user)
            settings = save_access(user, form)
            settings.telegram_chat_id = form.telegram_chat_id.data or ""
            settings.slack_chat_id = form.slack_chat_id.data or ""
            settings.event_subscriptions = ",".join(s for s in EVENT_CATALOG if s in form.subscriptions.data)
            settings.mask_data = form.mask_data.data
            settings.save()
            for field in ("phone", "ip_allowlist", "status", "role"):
                value = getattr(form, field).data
                if value != getattr(user, field):
                    changes[field] = value
            if changes:
                User.update(**changes).where(User.id == user.id).execute()
            after = access_of(user)
            changed = sorted(set(changes) | {name for name in after if after[name] != before[name]})
            audit.record("user.updated", actor=actor, target=user.email, fields=changed, **meta)
            if changes.get("status") == "enabled":
                audit.record("user.enabled", actor=actor, target=user.email, **meta)
            if "ip_allowlist" in changes:  # sessions from addresses the new list leaves out end at once
                sessions.end_sessions_outside([User.get_by_id(user.id)])
            if changes.get("status") == "disabled":
                sessions.end_sessions(user)  # a disabled person is signed out everywhere at once
                audit.record("user.disabled", actor=actor, target=user.email, **meta)
            if "role" in changes:
                audit.record("user.role_changed", actor=actor, target=user.email, role=changes["role"], **meta)
    return problem


def last_administrator_problem(user, form):
    """Why the change would leave the organization without an enabled administrator, or None."""
    if form.status.data == "disabled" and user.status != "disabled" and enabled_administrators(user.organization_id) <= {user.id}:
        return _("The last administrator cannot be disabled.")
    admin_group_ids = {g.id for g in Group.select().where(Group.organization == user.organization_id, Group.is_administrators == True)}  # noqa: E712
    if is_administrator(user) and not set(form.groups.data) & admin_group_ids and enabled_administrators(user.organization_id) <= {user.id}:
        return _("The last administrator cannot be removed from the Administrators group.")
    return None

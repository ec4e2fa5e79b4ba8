"""The permission catalog (the single source), who has which permission, and the back-office rules
that follow from a person's settings: which clients they see and whether personal data is masked.

Other areas protect their pages with `permission_required("billing.view")` on a view, or
`bp.before_request(require_permission("billing.view"))` for a whole blueprint."""
from functools import wraps

from flask import abort, current_app, g
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models import Group, GroupMember, GroupPermission, Organization, Prepared, User, write_transaction
from models.admin import ADMINISTRATORS

# The built-in group's name as people read it; the stored name stays ADMINISTRATORS in every language.

# One permission per admin capability. Adding one here adds it to the groups page, export and import.
PERMISSIONS = {
    "users.view": _l("View users"),
    "users.edit": _l("Create, edit and disable users"),
    "users.impersonate": _l("Sign in as another user"),
    "groups.manage": _l("Manage groups and permissions"),
    "tags.manage": _l("Manage client tags"),
    "clients.view": _l("View clients"),
    "clients.import": _l("Import clients"),
    "events.view": _l("View the events log"),
    "events.comment": _l("Comment on events"),
    "billing.view": _l("View billing and invoices"),
    "billing.edit": _l("Edit billing details"),
    "files.manage": _l("Manage files"),
    "gdpr.manage": _l("Manage GDPR documents"),
    "integrations.manage": _l("Manage the organization's service keys"),
}

# Events a person can subscribe to in their user details (seed 004, "Event notifications").
EVENT_CATALOG = {
    "signin.failed": _l("Failed sign-in"),
    "user.created": _l("User created"),
    "user.disabled": _l("User disabled"),
    "user.two_factor_reset": _l("Two-factor authentication reset"),
    "group.changed": _l("Group permissions changed"),
    "clients.imported": _l("Clients imported"),
    "impersonation.started": _l("Someone signed in as another user"),
}


def administrators_group(organization):
    """The organization's Administrators group, created on first use."""
    org_id = getattr(organization, "id", organization)
    group, _created = Group.get_or_create(
        organization=org_id, is_administrators=True, defaults={"name": ADMINISTRATORS}
    )
    return group


def add_to_group(user, group):
    GroupMember.get_or_create(group=group, user=user)


def grant(user, *permissions):
    """Test and demo helper: put `user` in a group named after the permissions it holds."""
    name = "+".join(permissions)[:100]
    with write_transaction():
        group, _created = Group.get_or_create(organization=user.organization_id, name=name)
        for permission in permissions:
            GroupPermission.get_or_create(group=group, permission=permission)
        add_to_group(user, group)
    return group


GROUPS_OF = Prepared(  # the frame's Administration link asks on every page
    lambda user_id: Group.select(Group.id, Group.is_administrators).join(GroupMember).where(GroupMember.user == user_id)
)


def permissions_of(user):
    """The set of permission codes `user` holds through their groups (cached for the request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    return granted_to(user)


def granted_to(user):
    """The permissions `user`'s groups grant, enabled or not (what re-enabling them would give back)."""
    cache = g.setdefault("_permissions", {}) if _has_g() else {}
    if user.id not in cache:
        groups = GROUPS_OF.all(user.id)
        if any(group.is_administrators for group in groups):
            found = frozenset(PERMISSIONS)
        elif groups:
            rows = GroupPermission.select(GroupPermission.permission).where(GroupPermission.group.in_([x.id for x in groups]))
            found = frozenset(row.permission for row in rows if row.permission in PERMISSIONS)
        else:
            found = frozenset()
        cache[user.id] = found
    return cache[user.id]


def _has_g():
    from flask import has_app_context

    return has_app_context()


def has_permission(user, permission):
    """True when `user` is enabled and one of their groups grants `permission`."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}: add it to services.permissions.PERMISSIONS")
    return permission in permissions_of(user)


def is_administrator(user):
    return (
        GroupMember.select()
        .join(Group)
        .where(GroupMember.user == user.id, Group.is_administrators == True)  # noqa: E712
        .exists()
    )


def require_permission(permission):
    """A before_request hook: sign-in page when signed out, 403 without `permission`."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)

    def check():
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if not has_permission(current_user, permission):
            abort(403)
        return None

    return check


def permission_required(permission):
    """Decorator for a view that needs `permission`."""
    check = require_permission(permission)

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            denied = check()
            return denied if denied is not None else view(*args, **kwargs)

        wrapped.required_permission = permission  # tests/test_every_route.py reads it to walk every route
        return wrapped

    return decorator


def enabled_administrators(organization_id):
    """Ids of the enabled members of the organization's Administrators group."""
    query = (
        User.select(User.id)
        .join(GroupMember)
        .join(Group)
        .where(Group.organization == organization_id, Group.is_administrators == True, User.status == "enabled")  # noqa: E712
    )
    return {u.id for u in query}


# --- the hierarchy (SECURITY.md 29) --------------------------------------------------------------
#
# The owner stands above everyone; a member of the Administrators group stands above everyone who is
# not; anyone else stands above a colleague whose permissions are a part of their own. Administrators
# are peers: they may change one another (the last enabled one is never disabled nor removed from
# Administrators), while only the owner changes the owner. What a person can give is what they hold:
# no one grants or revokes a permission they do not hold, puts someone into a group whose permissions
# they do not all hold, or changes the permissions of a group they are in.


def stands_above(target, actor):
    """True when `actor` may not change `target` (their settings, groups, sign-in or status)."""
    return _above(target, actor, lambda: is_administrator(target), lambda: granted_to(target),
                  lambda: is_administrator(actor), lambda: permissions_of(actor))


def _above(target, actor, target_is_admin, target_granted, actor_is_admin, actor_holds):
    """The rule of stands_above, with what it needs to know about the two people asked lazily."""
    if target.id == actor.id or actor.role == "owner":
        return False
    if target.role == "owner":
        return True
    if target_is_admin() and not actor_is_admin():
        return True
    return not target_granted() <= actor_holds()


def standing_above(targets, actor):
    """The ids of `targets` that stand above `actor`: stands_above for many people at once, in two
    queries whatever their number (their groups, then what those groups grant)."""
    from services.bulk_sql import id_list

    ids = [t.id for t in targets]
    groups_of, admins = {i: set() for i in ids}, set()
    if ids:
        for user_id, group_id, is_admins in GroupMember.select(GroupMember.user, Group.id, Group.is_administrators).join(
                Group).where(GroupMember.user.in_(id_list(ids))).tuples():
            groups_of[user_id].add(group_id)
            if is_admins:
                admins.add(user_id)
    group_ids = set().union(*groups_of.values()) if groups_of else set()
    grants = {}
    if group_ids:
        for row in GroupPermission.select(GroupPermission.group, GroupPermission.permission).where(
                GroupPermission.group.in_(group_ids)):
            if row.permission in PERMISSIONS:
                grants.setdefault(row.group_id, set()).add(row.permission)

    def granted(user_id):
        if user_id in admins:
            return frozenset(PERMISSIONS)
        return frozenset().union(*(grants.get(gid, ()) for gid in groups_of[user_id]))

    actor_admin = []

    def actor_is_admin():
        if not actor_admin:
            actor_admin.append(is_administrator(actor))
        return actor_admin[0]

    held = permissions_of(actor)
    return {t.id for t in targets
            if _above(t, actor, lambda t=t: t.id in admins, lambda t=t: granted(t.id), actor_is_admin, lambda: held)}


def above_you(target):
    """The refusal when `target` stands above the person acting (translated)."""
    from flask_babel import gettext as _

    return _("%(email)s stands above you (the owner, an administrator, or someone holding permissions you do "
             "not hold), so you cannot change them.", email=target.email)


def not_held(actor, permissions):
    """The permissions of `permissions` that `actor` does not hold, sorted."""
    return sorted(set(permissions) - permissions_of(actor))


def is_member(user, group):
    return GroupMember.select().where(GroupMember.user == user.id, GroupMember.group == group).exists()


def may_give_membership(actor, group):
    """Whether `actor` may put someone into `group` (or take them out): they hold all it grants."""
    if group.is_administrators:
        return is_administrator(actor)
    return not not_held(actor, group_permissions(group))


def member_above(actor, group):
    """A member of `group` who stands above `actor` (changing or deleting the group would change them), or None."""
    for member in User.select().join(GroupMember).where(GroupMember.group == group, User.id != actor.id):
        if stands_above(member, actor):
            return member
    return None


def may_change_permissions(actor, group):
    """Whether `actor` may change which permissions `group` grants (never a group they are in)."""
    return not group.is_administrators and not is_member(actor, group)


# --- export and import of groups -------------------------------------------------------------

EXPORT_FORMAT = "kabinet-groups"
GROUP_NAME_MAX = 100
IMPORT_MAX_GROUPS = 500


class ImportProblem(ValueError):
    """The file cannot be imported; the message is translated and says why."""


def group_permissions(group):
    if group.is_administrators:
        return sorted(PERMISSIONS)
    return sorted(p.permission for p in group.permissions if p.permission in PERMISSIONS)


def export_groups(organization_id):
    """Every group of the organization with its permissions, as a JSON-ready dict."""
    administrators_group(organization_id)
    groups = Group.select().where(Group.organization == organization_id).order_by(Group.id)
    return {
        "format": EXPORT_FORMAT,
        "version": 1,
        "groups": [{"id": g_.id, "name": g_.name, "permissions": group_permissions(g_)} for g_ in groups],
    }


def parse_import(raw):
    """The file's groups as [(id or None, name, sorted permissions)], or ImportProblem."""
    import json

    from flask_babel import gettext as _

    try:
        data = json.loads(raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ImportProblem(_("The file is not valid JSON. Choose a file made by Export.")) from None
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list) or not groups:
        raise ImportProblem(_("The file holds no list of groups. Choose a file made by Export."))
    if len(groups) > IMPORT_MAX_GROUPS:
        raise ImportProblem(_("A file may hold at most %(n)d groups.", n=IMPORT_MAX_GROUPS))
    entries, names = [], set()
    for position, item in enumerate(groups, 1):
        if not isinstance(item, dict):
            raise ImportProblem(_("Group %(n)d is not an object with a name and permissions.", n=position))
        name, permissions, group_id = item.get("name"), item.get("permissions", []), item.get("id")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > GROUP_NAME_MAX or not storable(name):
            raise ImportProblem(_("Group %(n)d needs a name of 1 to %(max)d characters.", n=position, max=GROUP_NAME_MAX))
        name = name.strip()
        if name.casefold() in names:
            raise ImportProblem(_("The group name “%(name)s” appears twice.", name=name))
        names.add(name.casefold())
        if group_id is not None and (not isinstance(group_id, int) or isinstance(group_id, bool)):
            raise ImportProblem(_("Group “%(name)s” has an id that is not a number.", name=name))
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise ImportProblem(_("Group “%(name)s” needs a list of permissions.", name=name))
        unknown = sorted(set(permissions) - set(PERMISSIONS))
        if unknown:
            raise ImportProblem(
                _("Group “%(name)s” has unknown permissions: %(list)s.", name=name, list=", ".join(unknown)[:300])
            )
        entries.append((group_id, name, sorted(set(permissions))))
    return entries


def storable(text):
    """False for text no database column takes: a NUL, or a lone surrogate (JSON's "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def plan_import(organization_id, entries, actor):
    """The changes the entries make, as a list of dicts; ImportProblem when one is not allowed (for
    `actor`: a permission they do not hold, or a group they are in)."""
    from flask_babel import gettext as _

    admins = administrators_group(organization_id)
    existing = {x.id: x for x in Group.select().where(Group.organization == organization_id)}
    by_name = {x.name.casefold(): x for x in existing.values()}
    changes, final_names = [], {x.id: x.name.casefold() for x in existing.values()}
    for group_id, name, permissions in entries:
        if group_id is not None:
            group = existing.get(group_id)
            if group is None:
                raise ImportProblem(_("There is no group with id %(id)d in this organization.", id=group_id))
        else:
            group = by_name.get(name.casefold())
        if group is not None and group.is_administrators:
            if name != group.name:
                raise ImportProblem(_("The Administrators group cannot be renamed."))
            if permissions != sorted(PERMISSIONS):
                raise ImportProblem(_("The Administrators group always has every permission; it cannot be changed."))
            continue
        if name.casefold() == admins.name.casefold():
            raise ImportProblem(_("The name “%(name)s” is reserved for the Administrators group.", name=name))
        if group is None:
            changes.append({"kind": "create", "name": name, "grant": permissions, "revoke": []})
            final_names[("new", name)] = name.casefold()
            continue
        current = group_permissions(group)
        grant_ = sorted(set(permissions) - set(current))
        revoke = sorted(set(current) - set(permissions))
        if name != group.name:
            changes.append({"kind": "rename", "id": group.id, "name": name, "old_name": group.name, "grant": grant_, "revoke": revoke})
            final_names[group.id] = name.casefold()
        elif grant_ or revoke:
            changes.append({"kind": "update", "id": group.id, "name": name, "grant": grant_, "revoke": revoke})
    names = list(final_names.values())
    if len(names) != len(set(names)):
        raise ImportProblem(_("After the import two groups would have the same name."))
    check_import_allowed(actor, changes)
    return changes


def check_import_allowed(actor, changes):
    """ImportProblem when a change grants or revokes a permission `actor` lacks, or changes a group they are in."""
    from flask_babel import gettext as _

    for change in changes:
        touched = change["grant"] + change["revoke"]
        if touched and change["kind"] != "create" and is_member(actor, change["id"]):
            raise ImportProblem(_("You are in the group “%(name)s”, so you cannot change its permissions.",
                                  name=change.get("old_name", change["name"])))
        above = member_above(actor, change["id"]) if change["kind"] != "create" else None
        if above is not None:
            raise ImportProblem(above_you(above))
        lacking = not_held(actor, touched)
        if lacking:
            raise ImportProblem(_("Group “%(name)s”: you cannot grant or revoke permissions you do not hold "
                                  "(%(list)s).", name=change["name"], list=", ".join(lacking)))


def apply_import(organization_id, entries, actor):
    """Apply the whole import in one transaction (all or nothing); returns the changes made. It is planned
    against the groups as they are inside that transaction, one import (or group change) at a time."""
    with write_transaction((Organization, organization_id)):
        changes = plan_import(organization_id, entries, actor)
        for change in changes:
            if change["kind"] == "create":
                group = Group.create(organization=organization_id, name=change["name"])
            else:
                group = Group.get_by_id(change["id"])
                if change["kind"] == "rename":
                    Group.update(name=change["name"]).where(Group.id == group.id).execute()
            for permission in change["grant"]:
                GroupPermission.create(group=group, permission=permission)
            if change["revoke"]:
                GroupPermission.delete().where(
                    GroupPermission.group == group, GroupPermission.permission.in_(change["revoke"])
                ).execute()
    return changes

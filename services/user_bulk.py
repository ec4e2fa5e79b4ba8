"""Bulk actions on the users list: disable, enable, add to a group, remove from a group, for many
people at once under the rules of the same action one at a time (SECURITY.md 29): someone who stands
above the actor, the actor themself (disable), the last enabled administrator and people the action
would not change are skipped, each with the reason.

The work does not grow query by query with the number of people: the targets in one query, their
groups and what those grant in two (services.permissions.standing_above), the change in one
statement, the audit trail in one multi-row INSERT."""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from models import GroupMember, User, UserSession, db, utcnow
from services import audit
from services.bulk_sql import id_list, insert_rows
from services.permissions import enabled_administrators, may_give_membership, standing_above

ACTIONS = {
    "disable": _l("Disable"),
    "enable": _l("Enable"),
    "add_group": _l("Add to a group"),
    "remove_group": _l("Remove from a group"),
}
GROUP_ACTIONS = ("add_group", "remove_group")
MAX_PEOPLE = 5000  # ticked on many pages, or sent by a script: beyond this the form is refused

REASONS = {
    "above": _l("stands above you"),
    "self": _l("you cannot disable your own account"),
    "last_admin": _l("the last administrator"),
    "already_disabled": _l("already disabled"),
    "already_enabled": _l("already enabled"),
    "already_member": _l("already in the group"),
    "not_member": _l("not in the group"),
}


@dataclass
class Person:
    """What the bulk action needs of a person (lighter than a User row: a thousand are read at once)."""
    id: int
    email: str
    full_name: str
    status: str
    role: str

    @property
    def display_name(self):
        return self.full_name or self.email


@dataclass
class Plan:
    action: str
    group: object = None
    people: list = field(default_factory=list)  # the ones the action changes
    skipped: list = field(default_factory=list)  # (person, reason code)


def parse_ids(values):
    """The ticked ids as ints (duplicates dropped, order kept); None when one is not an id."""
    ids = []
    for value in values:
        if not value.isdigit() or len(value) > 18:
            return None
        ids.append(int(value))
    return list(dict.fromkeys(ids))


def plan(actor, action, ids, group=None):
    """Who `action` changes and who it skips (and why), for the people of the actor's organization
    with these ids (others are ignored: ids of another organization are not told apart from unknown)."""
    people = [Person(*row) for row in User.select(User.id, User.email, User.full_name, User.status, User.role)
              .where(User.organization == actor.organization_id, User.id.in_(id_list(ids)))
              .order_by(User.full_name, User.id).tuples()]
    result = Plan(action=action, group=group)
    above = standing_above(people, actor)
    members = set()
    if group is not None and people:
        members = {m.user_id for m in GroupMember.select(GroupMember.user).where(
            GroupMember.group == group, GroupMember.user.in_(id_list(p.id for p in people)))}
    candidates = []
    for person in people:
        reason = None
        if person.id in above:
            reason = "above"
        elif action == "disable" and person.id == actor.id:
            reason = "self"
        elif action == "disable" and person.status == "disabled":
            reason = "already_disabled"
        elif action == "enable" and person.status == "enabled":
            reason = "already_enabled"
        elif action == "add_group" and person.id in members:
            reason = "already_member"
        elif action == "remove_group" and person.id not in members:
            reason = "not_member"
        if reason:
            result.skipped.append((person, reason))
        else:
            candidates.append(person)
    # Never the last enabled administrator: when the action would leave none, the administrators
    # among the people are skipped (as one at a time, the last of them would be refused).
    if action == "disable" or (action == "remove_group" and group.is_administrators):
        admins = enabled_administrators(actor.organization_id)
        touched = {p.id for p in candidates} & admins
        if touched and not admins - touched:
            result.skipped += [(p, "last_admin") for p in candidates if p.id in touched]
            candidates = [p for p in candidates if p.id not in touched]
    result.people = candidates
    return result


def group_refusal(actor, group):
    """Why `actor` may not add people to `group` or take them out of it (translated), or None."""
    from flask_babel import gettext as _

    if may_give_membership(actor, group):
        return None
    if group.is_administrators:
        return _("Only an administrator can add people to the Administrators group or remove them from it.")
    return _("The group “%(name)s” grants permissions you do not hold, so you cannot add or remove its members.",
             name=group.name)


def apply(actor, result, meta):
    """Make the planned change in one transaction and audit it per person; returns the number changed."""
    ids = [p.id for p in result.people]
    emails = [p.email for p in result.people]
    if not ids:
        return 0
    with db.atomic():
        if result.action in ("disable", "enable"):
            status = "disabled" if result.action == "disable" else "enabled"
            User.update(status=status).where(User.id.in_(id_list(ids))).execute()
            audit.record_many("user.updated", actor, emails, fields=["status"], via="bulk", **meta)
            audit.record_many(f"user.{status}", actor, emails, via="bulk", **meta)
            if status == "disabled":  # signed out everywhere at once, as one at a time
                UserSession.update(ended_at=utcnow()).where(UserSession.user.in_(id_list(ids)), UserSession.ended_at.is_null()).execute()
        elif result.action == "add_group":
            insert_rows(GroupMember, [{"group": result.group.id, "user": i} for i in ids])
            audit.record_many("group.member_added", actor, emails, group=result.group.name, via="bulk", **meta)
        else:
            GroupMember.delete().where(GroupMember.group == result.group.id, GroupMember.user.in_(id_list(ids))).execute()
            audit.record_many("group.member_removed", actor, emails, group=result.group.name, via="bulk", **meta)
    return len(ids)

"""The admin API for groups (/api/v1/admin/groups): list, create, rename, set permissions, delete, add and
remove members. Every route needs groups.manage, as the groups page does, and follows its rules through
its own functions (blueprints/admin/groups.py, services/permissions.py, SECURITY.md 29): no granting or
revoking a permission the key's owner does not hold, no changing a group they are in, nor one whose
members stand above them; the Administrators group keeps its name and permissions, and its last enabled
member stays. Every change is audited as on the page, with via="api"."""
from flask import g, jsonify
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from models import Group, GroupMember, User
from services import audit
from services.permissions import PERMISSIONS, administrators_group, group_permissions

from blueprints.api.admin_users import formdata, form_errors, meta, not_found, own_user, read_body
from blueprints.api.core import bp, error, needs_permission, scope
from blueprints.api.spec import error_fields, form_schema, operation
from blueprints.bounds import ID_MAX

MEMBER = {"type": "object", "required": ["id", "email", "full_name"], "properties": {
    "id": {"type": "integer"}, "email": {"type": "string"}, "full_name": {"type": "string"}}}
SUMMARY = {"id": {"type": "integer"}, "name": {"type": "string"}, "is_administrators": {"type": "boolean"},
           "permissions": {"type": "array", "items": {"type": "string", "enum": list(PERMISSIONS)}}}
GROUP = {"type": "object", "required": [*SUMMARY, "members"],
         "properties": {**SUMMARY, "members": {"type": "array", "items": MEMBER}}}
PERMISSION_LIST = {"type": "array", "maxItems": len(PERMISSIONS), "uniqueItems": True,
                   "items": {"type": "string", "enum": list(PERMISSIONS)}}


def group_json(group, members=None):
    out = {"id": group.id, "name": group.display_name, "is_administrators": group.is_administrators,
           "permissions": group_permissions(group)}
    if members is not None:
        out["members"] = [{"id": m.id, "email": m.email, "full_name": m.full_name} for m in members]
    return out


def group_answer(group_id, status=200):
    group = Group.get_by_id(group_id)
    members = User.select().join(GroupMember).where(GroupMember.group == group).order_by(User.full_name, User.id)
    response = jsonify(group_json(group, list(members)))
    response.status_code = status
    return response


def own_group(group_id):
    return Group.get_or_none(Group.id == group_id, Group.organization == g.api_user.organization_id)


def refused(message):
    return error(403, "forbidden", message)


def name_form(group=None, data=None):
    from blueprints.admin.groups import GroupForm

    return GroupForm(formdata=MultiDict({"name": (data or {}).get("name", "")}), meta={"csrf": False}, group=group,
                     organization_id=g.api_user.organization_id)


def name_body(*fields, example):
    def schema():
        from blueprints.admin.groups import GroupForm

        return form_schema((GroupForm,), ("name",), required=fields, overrides={}, example=example)
    return schema


def update_body():
    schema = name_body(example={"name": "Support team", "permissions": ["users.view"]})()
    schema["properties"]["permissions"] = {**PERMISSION_LIST, "description": "The whole list the group grants"}
    return schema


@bp.get("/admin/groups")
@scope("read")
@needs_permission("groups.manage")
@operation("The organization's groups", {"type": "object", "required": ["items"], "properties": {
    "items": {"type": "array", "items": {"type": "object", "required": list(SUMMARY), "properties": SUMMARY}}}},
           description="Permission groups.manage. Administrators first (it grants every permission), then in the "
                       "order they were made.")
def list_groups():
    org = g.api_user.organization_id
    administrators_group(org)
    groups = Group.select().where(Group.organization == org).order_by(Group.id)
    return jsonify({"items": [group_json(group) for group in groups]})


@bp.post("/admin/groups")
@scope("write")
@needs_permission("groups.manage")
@operation("Create a group", GROUP, status=201, body=name_body("name", example={"name": "Support"}),
           description="Permission groups.manage. It grants nothing until its permissions are set (PATCH). A name "
                       "taken by another group, or Administrators': 422.")
def create_group():
    from blueprints.admin.groups import create_from

    data, problem = read_body(("name",))
    if problem:
        return problem
    form = name_form(data=data)
    group = create_from(g.api_user, form, meta())
    return group_answer(group.id, 201) if group else error_fields(form_errors(form))


@bp.get("/admin/groups/<int:group_id>")
@scope("read")
@needs_permission("groups.manage")
@operation("One group with its permissions and members", GROUP, description="Permission groups.manage.")
def get_group(group_id):
    group = own_group(group_id)
    return group_answer(group.id) if group else not_found()


@bp.patch("/admin/groups/<int:group_id>")
@scope("write")
@needs_permission("groups.manage")
@operation("Rename a group or set its permissions", GROUP, body=update_body,
           description="Permission groups.manage. The fields sent only. The Administrators group, a group the key's "
                       "owner is in, one with a member who stands above them, or granting or revoking a permission "
                       "they do not hold: 403, and nothing changes. A permission the group grants that they do not "
                       "hold stays granted when left out of `permissions` (the page does not send it either).")
def update_group(group_id):
    from blueprints.admin.groups import PermissionsForm, permissions_refusal, rename_from, set_permissions

    group = own_group(group_id)
    if group is None:
        return not_found()
    data, problem = read_body(("name", "permissions"))
    if problem:
        return problem
    actor = g.api_user
    if group.is_administrators and data:
        return refused(_("The Administrators group cannot be changed or deleted."))
    refusal = permissions_refusal(actor, group) if "permissions" in data else None
    if refusal:
        return refused(refusal)
    names = name_form(group, data)
    permissions = PermissionsForm(formdata=formdata({"permissions": data.get("permissions", [])}), meta={"csrf": False})
    errors = {**(form_errors(names) if "name" in data and not names.validate() else {}),
              **(form_errors(permissions) if not permissions.validate() else {})}
    if errors:
        return error_fields(errors)
    if "permissions" in data:
        lacking = set_permissions(actor, group, permissions.permissions.data, meta())
        if lacking:
            return refused(_("You cannot grant or revoke permissions you do not hold: %(list)s.", list=", ".join(lacking)))
    if "name" in data and data["name"].strip() != group.name and not rename_from(actor, group, names, meta()):
        return error_fields(form_errors(names))  # taken meanwhile
    return group_answer(group.id)


@bp.delete("/admin/groups/<int:group_id>")
@scope("write")
@needs_permission("groups.manage")
@operation("Delete a group", {"type": "object", "required": ["id", "deleted"], "properties": {
    "id": {"type": "integer"}, "deleted": {"type": "boolean"}}},
           description="Permission groups.manage. Its members lose what it granted. The Administrators group, a "
                       "group the key's owner is in, one granting a permission they do not hold, or one with a "
                       "member who stands above them: 403.")
def delete_group(group_id):
    from blueprints.admin.groups import deletion_refusal

    group = own_group(group_id)
    if group is None:
        return not_found()
    refusal = deletion_refusal(g.api_user, group)
    if refusal:
        return refused(refusal)
    group.delete_instance()
    audit.record("group.deleted", actor=g.api_user, target=group.name, **meta())
    return jsonify({"id": group_id, "deleted": True})


@bp.post("/admin/groups/<int:group_id>/members")
@scope("write")
@needs_permission("groups.manage")
@operation("Add a person to a group", GROUP, body=lambda: {
    "type": "object", "additionalProperties": False, "required": ["user_id"], "examples": [{"user_id": 2}],
    "properties": {"user_id": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}},
           description="Permission groups.manage. A group granting a permission the key's owner does not hold (or "
                       "Administrators, for a non-administrator), or a person who stands above them: 403. Already "
                       "a member: 200, nothing changes.")
def add_member(group_id):
    from blueprints.admin.groups import membership_problem

    group = own_group(group_id)
    if group is None:
        return not_found()
    data, problem = read_body(("user_id",))
    if problem:
        return problem
    user = own_user(data["user_id"]) if "user_id" in data else None
    if user is None:
        return error_fields({"user_id": [_("There is no such person in your organization.")]})
    refusal = membership_problem(g.api_user, group, user)
    if refusal:
        return refused(refusal)
    _link, created = GroupMember.get_or_create(group=group, user=user)
    if created:
        audit.record("group.member_added", actor=g.api_user, target=user.email, group=group.name, **meta())
    return group_answer(group.id)


@bp.delete("/admin/groups/<int:group_id>/members/<int:user_id>")
@scope("write")
@needs_permission("groups.manage")
@operation("Take a person out of a group", GROUP, conflict=True,
           description="Permission groups.manage. Refused as adding is (403); the last enabled administrator stays in "
                       "Administrators (409). Not a member: 200, nothing changes.")
def remove_member(group_id, user_id):
    from blueprints.admin.groups import membership_problem, remove_member_of

    group, user = own_group(group_id), own_user(user_id)
    if group is None or user is None:
        return not_found()
    refusal = membership_problem(g.api_user, group, user)
    if refusal:
        return refused(refusal)
    if not remove_member_of(g.api_user, group, user, meta()):
        return error(409, "conflict", _("The last administrator cannot be removed from the Administrators group."))
    return group_answer(group.id)

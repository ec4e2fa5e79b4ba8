"""Groups and their permissions: list, details (Permissions and Users tabs), export and import."""
import json

from flask import Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import ValidationError

from models import Group, GroupMember, GroupPermission, Organization, User, write_transaction
from services import audit
from services.permissions import (
    PERMISSIONS,
    ImportProblem,
    above_you,
    administrators_group,
    apply_import,
    enabled_administrators,
    export_groups,
    group_permissions,
    is_member,
    may_change_permissions,
    may_give_membership,
    member_above,
    not_held,
    parse_import,
    permission_required,
    permissions_of,
    plan_import,
    stands_above,
)

from blueprints import render, see_other
from blueprints.forms import Form, max_length, required
from blueprints.admin.core import bp, client_meta, me, own
from blueprints.admin.fields import MultiCheckboxField

IMPORT_MAX_BYTES = 1024 * 1024


class GroupForm(Form):
    name = StringField(_l("Group name"), validators=[required(), max_length(100)])

    def __init__(self, *args, group=None, organization_id=None, **kwargs):
        self.group = group
        self.organization_id = organization_id  # the API passes its key owner's; else me()'s
        super().__init__(*args, **kwargs)

    def validate_name(self, field):
        org = self.organization_id or me().organization_id
        if field.data.casefold() == administrators_group(org).name.casefold():
            raise ValidationError(_l("This name is reserved for the Administrators group."))
        clash = Group.select().where(Group.organization == org, Group.name == field.data)
        if self.group is not None:
            clash = clash.where(Group.id != self.group.id)
        if clash.exists():
            raise ValidationError(_l("A group with this name already exists."))


class PermissionsForm(Form):
    permissions = MultiCheckboxField(_l("Permissions"), choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.permissions.choices = [(code, label) for code, label in PERMISSIONS.items()]


class MemberForm(Form):
    email = EmailField(_l("E-mail of the user to add"), validators=[required(), max_length(254)])

    def __init__(self, *args, group=None, **kwargs):
        self.group = group
        super().__init__(*args, **kwargs)

    def validate_email(self, field):
        user = User.get_or_none(User.email == field.data.lower(), User.organization == me().organization_id)
        if user is None:
            raise ValidationError(_l("There is no user with this e-mail in your organization."))
        if GroupMember.select().where(GroupMember.group == self.group, GroupMember.user == user).exists():
            raise ValidationError(_l("This user is already in the group."))
        field.user = user


class ImportForm(Form):
    file = FileField(_l("JSON file"), validators=[FileRequired(_l("Choose a file."))])


class ApplyImportForm(Form):
    payload = HiddenField(validators=[required(), max_length(IMPORT_MAX_BYTES)])


def org_groups():
    administrators_group(me().organization_id)
    return Group.select().where(Group.organization == me().organization_id).order_by(Group.id)


def list_page(form=None, import_form=None, status=200, block="groups_list", import_error=None):
    return render(
        "admin/groups.html",
        block=block,
        status=status,
        groups=list(org_groups()),
        form=form or GroupForm(formdata=None),
        import_form=import_form or ImportForm(formdata=None),
        import_error=import_error,
    )


@bp.get("/groups")
@permission_required("groups.manage")
def groups():
    return list_page()


@bp.post("/groups")
@permission_required("groups.manage")
def create_group():
    form = GroupForm()
    group = create_from(me(), form, client_meta())  # a POST: submitted, so validating is validate_on_submit
    if group is None:
        return list_page(form=form, status=422)
    flash(_("Group “%(name)s” created.", name=group.display_name), "success")
    return see_other(url_for("admin.group", group_id=group.id))


def create_from(actor, form, meta):
    """The group a GroupForm names, created by `actor` and audited with `meta`; None when the form is not valid.
    The name is checked and taken in one transaction under the organization's lock (models.write_transaction):
    two groups of one name created at once get the form's message, not the unique index's error."""
    with write_transaction((Organization, actor.organization_id)):
        if not form.validate():
            return None
        group = Group.create(organization=actor.organization_id, name=form.name.data)
        audit.record("group.created", actor=actor, target=group.name, **meta)
    return group


def rename_from(actor, group, form, meta):
    """Rename `group` as a GroupForm says (checked and renamed at once, as when created); False when not valid."""
    with write_transaction((Organization, group.organization_id)):
        if not form.validate():
            return False
        Group.update(name=form.name.data).where(Group.id == group.id).execute()
        audit.record("group.renamed", actor=actor, target=form.name.data, old_name=group.name, **meta)
    return True


def group_page(group, tab, status=200, refusal=None, **forms):
    members = (
        User.select().join(GroupMember).where(GroupMember.group == group).order_by(User.full_name, User.id)
    )
    granted = group_permissions(group)
    perm_form = forms.get("perm_form") or PermissionsForm(formdata=None, data={"permissions": granted})
    return render(
        "admin/group.html",
        block="group_tab",
        status=status,
        group=group,
        tab=tab,
        refusal=refusal,
        members=list(members),
        permissions=PERMISSIONS,
        granted=granted,
        held=permissions_of(me()),
        own_group=is_member(me(), group),
        perm_form=perm_form,
        member_form=forms.get("member_form") or MemberForm(formdata=None, group=group),
        rename_form=forms.get("rename_form") or GroupForm(formdata=None, group=group, data={"name": group.name}),
    )


@bp.get("/groups/<int:group_id>")
@permission_required("groups.manage")
def group(group_id):
    tab = "users" if request.args.get("tab") == "users" else "permissions"
    return group_page(own(Group, group_id), tab)


@bp.post("/groups/<int:group_id>/permissions")
@permission_required("groups.manage")
def save_permissions(group_id):
    group = own(Group, group_id)
    if group.is_administrators:
        return administrators_refused(group)
    refusal = permissions_refusal(me(), group)
    if refusal:
        return refused(group, "permissions", refusal)
    form = PermissionsForm()
    if not form.validate_on_submit():
        return group_page(group, "permissions", status=422, perm_form=form)
    lacking = set_permissions(me(), group, form.permissions.data, client_meta())
    if lacking:
        return refused(group, "permissions", not_held_message(lacking))
    flash(_("Permissions of “%(name)s” saved.", name=group.display_name), "success")
    return see_other(url_for("admin.group", group_id=group.id))


def permissions_refusal(actor, group):
    """Why `actor` may not change which permissions `group` grants (translated), or None (SECURITY.md 29)."""
    if group.is_administrators:
        return _("The Administrators group cannot be changed or deleted.")
    if not may_change_permissions(actor, group):
        return _("You are in this group, so you cannot change its permissions.")
    above = member_above(actor, group)  # its permissions are theirs too
    return above_you(above) if above is not None else None


def set_permissions(actor, group, asked, meta):
    """Make `group` grant the permissions `asked` and audit it; the permissions `actor` would grant or
    revoke without holding them (then nothing changes). One the actor lacks and the group grants is not
    sent by the page (its box is disabled), so it stays as it is."""
    with write_transaction((Organization, group.organization_id)):  # what is granted now, read under the lock
        current = set(group_permissions(group))
        wanted = set(asked) | set(not_held(actor, current))
        lacking = not_held(actor, wanted - current)
        if not lacking:
            GroupPermission.delete().where(GroupPermission.group == group, GroupPermission.permission.in_(current - wanted)).execute()
            for permission in sorted(wanted - current):
                GroupPermission.create(group=group, permission=permission)
            audit.record(
                "group.changed", actor=actor, target=group.name,
                granted=sorted(wanted - current), revoked=sorted(current - wanted), **meta,
            )
    return lacking


def refused(group, tab, message):
    """SECURITY.md 29: the change would give or take what the person does not hold; nothing changes."""
    return group_page(group, tab, status=403, refusal=message)


def not_held_message(permissions):
    return _("You cannot grant or revoke permissions you do not hold: %(list)s.", list=", ".join(permissions))


def administrators_refused(group):
    """The server's own refusal: the Administrators group keeps its name, permissions and existence."""
    return group_page(group, "permissions", status=403, refusal=_("The Administrators group cannot be changed or deleted."))


@bp.post("/groups/<int:group_id>/rename")
@permission_required("groups.manage")
def rename_group(group_id):
    group = own(Group, group_id)
    if group.is_administrators:
        return administrators_refused(group)
    form = GroupForm(group=group)
    if not rename_from(me(), group, form, client_meta()):
        return group_page(group, "permissions", status=422, rename_form=form)
    flash(_("Group renamed."), "success")
    return see_other(url_for("admin.group", group_id=group.id))


@bp.post("/groups/<int:group_id>/delete")
@permission_required("groups.manage")
def delete_group(group_id):
    group = own(Group, group_id)
    if group.is_administrators:
        return administrators_refused(group)
    if not Form().validate_on_submit():
        abort(400)
    refusal = deletion_refusal(me(), group)
    if refusal:
        return refused(group, "permissions", refusal)
    group.delete_instance()
    audit.record("group.deleted", actor=me(), target=group.name, **client_meta())
    flash(_("Group “%(name)s” deleted.", name=group.display_name), "success")
    return see_other(url_for("admin.groups"))


def deletion_refusal(actor, group):
    """Why `actor` may not delete `group` (translated), or None: its members would lose what it grants."""
    if group.is_administrators:
        return _("The Administrators group cannot be changed or deleted.")
    if not may_change_permissions(actor, group):
        return _("You are in this group, so you cannot delete it.")
    lacking = not_held(actor, group_permissions(group))
    if lacking:
        return not_held_message(lacking)
    above = member_above(actor, group)  # deleting the group would take them out of it
    return above_you(above) if above is not None else None


@bp.post("/groups/<int:group_id>/members")
@permission_required("groups.manage")
def add_member(group_id):
    group = own(Group, group_id)
    form = MemberForm(group=group)
    if not form.validate_on_submit():
        return group_page(group, "users", status=422, member_form=form)
    user = form.email.user
    refusal = membership_problem(me(), group, user)
    if refusal:
        return refused(group, "users", refusal)
    GroupMember.get_or_create(group=group, user=user)
    audit.record("group.member_added", actor=me(), target=user.email, group=group.name, **client_meta())
    flash(_("%(email)s added to “%(name)s”.", email=user.email, name=group.display_name), "success")
    return see_other(url_for("admin.group", group_id=group.id, tab="users"))


@bp.post("/groups/<int:group_id>/members/<int:user_id>/remove")
@permission_required("groups.manage")
def remove_member(group_id, user_id):
    group = own(Group, group_id)
    user = own(User, user_id)
    if not Form().validate_on_submit():
        abort(400)
    refusal = membership_problem(me(), group, user)
    if refusal:
        return refused(group, "users", refusal)
    if not remove_member_of(me(), group, user, client_meta()):
        refusal = _("The last administrator cannot be removed from the Administrators group.")
        return group_page(group, "users", status=409, refusal=refusal)
    flash(_("%(email)s removed from “%(name)s”.", email=user.email, name=group.display_name), "success")
    return see_other(url_for("admin.group", group_id=group.id, tab="users"))


def membership_problem(actor, group, user):
    """Why `actor` may not put `user` into `group` or take them out (translated), or None."""
    if not may_give_membership(actor, group):
        return membership_refusal(group)
    return above_you(user) if stands_above(user, actor) else None


def remove_member_of(actor, group, user, meta):
    """Take `user` out of `group` and audit it; False when they are the last enabled administrator. Counted
    and removed under the organization's lock (models.write_transaction): two administrators removing
    each other at once leave one."""
    with write_transaction((Organization, group.organization_id)):
        if group.is_administrators and enabled_administrators(group.organization_id) <= {user.id}:
            return False
        removed = GroupMember.delete().where(GroupMember.group == group, GroupMember.user == user).execute()
    if removed:
        audit.record("group.member_removed", actor=actor, target=user.email, group=group.name, **meta)
    return True


def membership_refusal(group):
    if group.is_administrators:
        return _("Only an administrator can add people to the Administrators group or remove them from it.")
    return _("This group grants permissions you do not hold, so you cannot add or remove its members.")


@bp.get("/groups/export")
@permission_required("groups.manage")
def export():
    body = json.dumps(export_groups(me().organization_id), ensure_ascii=False, indent=2)
    audit.record("groups.exported", actor=me(), **client_meta())
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="kabinet-groups.json"'},
    )


@bp.post("/groups/import")
@permission_required("groups.manage")
def import_preview():
    form = ImportForm()
    if not form.validate_on_submit():
        return list_page(import_form=form, status=422, block="import_card")
    raw = form.file.data.read(IMPORT_MAX_BYTES + 1)
    try:
        if len(raw) > IMPORT_MAX_BYTES:
            raise ImportProblem(_("The file is larger than 1 MB."))
        entries = parse_import(raw)
        changes = plan_import(me().organization_id, entries, me())
    except ImportProblem as problem:
        return list_page(import_form=form, status=422, block="import_card", import_error=str(problem))
    payload = json.dumps({"groups": [{"id": i, "name": n, "permissions": p} for i, n, p in entries]}, ensure_ascii=False)
    apply_form = ApplyImportForm(formdata=None, data={"payload": payload})
    return render("admin/groups_import.html", changes=changes, apply_form=apply_form, permissions=PERMISSIONS)


@bp.post("/groups/import/apply")
@permission_required("groups.manage")
def import_apply():
    form = ApplyImportForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changes = apply_import(me().organization_id, parse_import(form.payload.data), me())
    except ImportProblem as problem:
        flash(str(problem), "error")
        return list_page(status=422)
    audit.record("groups.imported", actor=me(), changes=len(changes), **client_meta())
    flash(_("Import applied: %(n)d change(s).", n=len(changes)), "success")
    return see_other(url_for("admin.groups"))

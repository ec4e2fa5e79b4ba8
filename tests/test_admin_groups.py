"""Groups and permissions: the catalog, the Administrators group's protection, members, export/import."""
import io
import json

import pytest

from models import Group, GroupMember, GroupPermission, Organization, db
from services import permissions
from services.permissions import PERMISSIONS, add_to_group, administrators_group, grant, has_permission
from tests.conftest import csrf_from, form_post, make_user, sign_in
from tests.races import hold_after, run_together

HTMX = {"HX-Request": "true"}


def htmx_post(client, url, data, page):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, data=data, headers={**HTMX, "X-CSRFToken": token})


def test_administrators_have_every_permission_and_others_only_their_groups(org, admin, app):
    with app.test_request_context():
        check_permissions(org, admin)


def check_permissions(org, admin):
    worker = make_user(org, "w@example.com")
    assert all(has_permission(admin, p) for p in PERMISSIONS)
    assert not has_permission(worker, "users.view")
    grant(worker, "users.view")
    from flask import g

    g.pop("_permissions", None)
    assert has_permission(worker, "users.view") and not has_permission(worker, "users.edit")
    with pytest.raises(KeyError):
        has_permission(worker, "no.such.permission")


def test_groups_page_lists_groups_and_creates_one(admin_client):
    page = admin_client.get("/admin/groups").get_data(as_text=True)
    assert "Administrators" in page
    response = form_post(admin_client, "/admin/groups", {"name": "Support"})
    assert response.status_code == 303
    group = Group.get(Group.name == "Support")
    assert response.headers["Location"].endswith(f"/admin/groups/{group.id}")
    assert "Group “Support” created." in admin_client.get(response.headers["Location"]).get_data(as_text=True)


def test_group_name_errors_come_back_at_the_field(admin_client):
    for name, message in (("", "This field is required."), ("x" * 10000, "At most 100 characters."),
                          ("administrators", "reserved for the Administrators group")):
        response = form_post(admin_client, "/admin/groups", {"name": name})
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    response = htmx_post(admin_client, "/admin/groups", {"name": ""}, "/admin/groups")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="groups-list"' in body and "<html" not in body


def test_permissions_saved_by_form_and_by_htmx(admin_client, org):
    group = Group.create(organization=org, name="Support")
    url = f"/admin/groups/{group.id}/permissions"
    response = form_post(admin_client, url, {"permissions": ["users.view", "events.view"]}, page=f"/admin/groups/{group.id}")
    assert response.status_code == 303
    assert {p.permission for p in group.permissions} == {"users.view", "events.view"}
    response = htmx_post(admin_client, url, {"permissions": ["tags.manage"]}, f"/admin/groups/{group.id}")
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith(f"/admin/groups/{group.id}")
    assert {p.permission for p in group.permissions} == {"tags.manage"}
    response = form_post(admin_client, url, {"permissions": ["root.everything"]}, page=f"/admin/groups/{group.id}")
    assert response.status_code == 422 and "not a valid choice" in response.get_data(as_text=True)
    assert {p.permission for p in group.permissions} == {"tags.manage"}


def test_administrators_group_cannot_be_changed_renamed_or_deleted(admin_client, org):
    group = administrators_group(org)
    page = admin_client.get(f"/admin/groups/{group.id}").get_data(as_text=True)
    assert "Save permissions" not in page and "Delete group" not in page and "disabled" in page
    base = f"/admin/groups/{group.id}"
    for url, data in ((base + "/permissions", {"permissions": ["users.view"]}), (base + "/rename", {"name": "Admins"}),
                      (base + "/delete", {})):
        response = form_post(admin_client, url, data, page=base)
        assert response.status_code == 403
        assert "The Administrators group cannot be changed or deleted." in response.get_data(as_text=True)
    assert Group.get_by_id(group.id).name == "Administrators"
    assert not GroupPermission.select().where(GroupPermission.group == group).exists()


def test_members_added_and_the_last_administrator_stays(admin_client, org, admin):
    worker = make_user(org, "w@example.com", full_name="Worker")
    group = Group.create(organization=org, name="Support")
    response = form_post(admin_client, f"/admin/groups/{group.id}/members", {"email": "W@example.com"},
                         page=f"/admin/groups/{group.id}?tab=users")
    assert response.status_code == 303
    assert GroupMember.select().where(GroupMember.group == group, GroupMember.user == worker).exists()
    page = admin_client.get(f"/admin/groups/{group.id}?tab=users").get_data(as_text=True)
    assert "Worker" in page and "w@example.com" in page
    stranger_org = Organization.create(name="Other")
    make_user(stranger_org, "x@other.com")
    response = form_post(admin_client, f"/admin/groups/{group.id}/members", {"email": "x@other.com"},
                         page=f"/admin/groups/{group.id}?tab=users")
    assert response.status_code == 422 and "no user with this e-mail" in response.get_data(as_text=True)
    admins = administrators_group(org)
    response = form_post(admin_client, f"/admin/groups/{admins.id}/members/{admin.id}/remove", {},
                         page=f"/admin/groups/{admins.id}?tab=users")
    assert response.status_code == 409 and "last administrator" in response.get_data(as_text=True)
    assert GroupMember.select().where(GroupMember.group == admins, GroupMember.user == admin).exists()


def test_other_organizations_groups_are_404(admin_client):
    other = Organization.create(name="Other")
    group = Group.create(organization=other, name="Theirs")
    assert admin_client.get(f"/admin/groups/{group.id}").status_code == 404
    response = form_post(admin_client, f"/admin/groups/{group.id}/delete", {}, page="/admin/groups")
    assert response.status_code == 404 and Group.get_or_none(Group.id == group.id)


def upload(client, content, name="groups.json"):
    token = csrf_from(client.get("/admin/groups").get_data(as_text=True))
    return client.post("/admin/groups/import", data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_export_then_import_round_trip_with_preview_and_apply(admin_client, org):
    support = Group.create(organization=org, name="Support")
    GroupPermission.create(group=support, permission="users.view")
    response = admin_client.get("/admin/groups/export")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.data)
    assert {g["name"]: g["permissions"] for g in data["groups"]} == {
        "Administrators": sorted(PERMISSIONS), "Support": ["users.view"]}
    for item in data["groups"]:
        if item["name"] == "Support":
            item["permissions"] = ["events.view"]
            item["name"] = "Helpdesk"
    data["groups"].append({"name": "Sales", "permissions": ["clients.view"]})
    preview = upload(admin_client, json.dumps(data).encode())
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Helpdesk" in body and "New group" in body and "Sales" in body
    assert not Group.select().where(Group.name == "Sales").exists()  # a preview writes nothing
    payload = csrf_from(body)
    import re

    hidden = re.search(r'name="payload" type="hidden" value="([^"]*)"', body) or re.search(
        r'id="payload" name="payload" type="hidden" value="([^"]*)"', body)
    import html as html_lib

    response = admin_client.post("/admin/groups/import/apply", data={"csrf_token": payload, "payload": html_lib.unescape(hidden.group(1))})
    assert response.status_code == 303
    assert [p.permission for p in Group.get(Group.name == "Helpdesk").permissions] == ["events.view"]
    assert [p.permission for p in Group.get(Group.name == "Sales").permissions] == ["clients.view"]


@pytest.mark.parametrize("content, message", [
    (b"not json at all", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b'{"groups": "x"}', "no list of groups"),
    (b'{"groups": [{"name": "Ops", "permissions": ["users.view", "root"]}]}', "unknown permissions: root"),
    (b'{"groups": [{"name": "Ops", "permissions": []}, {"name": "ops"}]}', "appears twice"),
    (b'{"groups": [{"id": 999999, "name": "Ops", "permissions": []}]}', "no group with id 999999"),
    (b'{"groups": [{"name": "Administrators", "permissions": ["users.view"]}]}', "cannot be changed"),
    (b'{"groups": [{"name": "\\ud800", "permissions": []}]}', "needs a name"),  # a lone surrogate: no column takes it
    (b'{"groups": [{"name": "A\\u0000B", "permissions": []}]}', "needs a name"),
])
def test_bad_import_files_are_refused_and_nothing_changes(admin_client, org, content, message):
    before = [(g.id, g.name) for g in Group.select().order_by(Group.id)]
    response = upload(admin_client, content)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert [(g.id, g.name) for g in Group.select().order_by(Group.id)] == before


def test_renaming_administrators_by_import_is_refused(admin_client, org):
    admins = administrators_group(org)
    content = json.dumps({"groups": [{"id": admins.id, "name": "Bosses", "permissions": sorted(PERMISSIONS)}]})
    response = upload(admin_client, content.encode())
    assert response.status_code == 422 and "cannot be renamed" in response.get_data(as_text=True)


def test_the_same_import_applied_twice_at_once_creates_the_group_once_without_an_error(app, org, monkeypatch):
    """SECURITY issue item 5: an import is planned against the groups, then applied. Applied twice at once,
    the second finds Sales made by the first and changes nothing."""
    administrators_group(org)  # as in any organization: made on first use (its insert would serialise the two)
    entries = permissions.parse_import(json.dumps({"groups": [{"name": "Sales", "permissions": ["clients.view"]}]}))
    owner = make_user(org, "owner-importer@example.com", role="owner")  # may import anything
    add_to_group(owner, administrators_group(org))
    hold_after(monkeypatch, permissions, "plan_import")

    def apply():
        with app.test_request_context(), db.connection_context():
            return len(permissions.apply_import(org.id, entries, owner))

    assert sorted(run_together(apply, apply), key=str) == [0, 1]
    assert [p.permission for p in Group.get(Group.name == "Sales").permissions] == ["clients.view"]


def test_two_administrators_removing_each_other_at_once_leave_one(app, org, monkeypatch):
    """SECURITY.md 29 under concurrency: the administrators are counted, then a member removed."""
    from blueprints.admin import groups as groups_view

    admins = administrators_group(org)
    people, clients = [make_user(org, f"admin{n}@example.com") for n in range(2)], []
    for person in people:
        add_to_group(person, admins)
        clients.append(app.test_client())
        sign_in(clients[-1], person.email)
    page = f"/admin/groups/{admins.id}?tab=users"
    tokens = [csrf_from(c.get(page).get_data(as_text=True)) for c in clients]
    hold_after(monkeypatch, groups_view, "enabled_administrators")

    def remove(n):
        return clients[n].post(f"/admin/groups/{admins.id}/members/{people[1 - n].id}/remove",
                               data={"csrf_token": tokens[n]}).status_code

    assert sorted(run_together(lambda: remove(0), lambda: remove(1))) == [303, 409]
    assert GroupMember.select().where(GroupMember.group == admins).count() == 1


def test_two_groups_of_one_name_created_at_once_give_one_group_and_the_forms_message(admin_client, app, admin, org,
                                                                                      monkeypatch):
    """Issue item 5: the name is checked, then the group added; the second request gets the form's message
    (422), not the unique index's error (500)."""
    from blueprints.admin import groups as groups_view

    second = app.test_client()
    sign_in(second, admin.email)
    tokens = [csrf_from(c.get("/admin/groups").get_data(as_text=True)) for c in (admin_client, second)]
    hold_after(monkeypatch, groups_view.GroupForm, "validate_name")

    def create(client, token):
        response = client.post("/admin/groups", data={"csrf_token": token, "name": "Sales"})
        return response.status_code, response.get_data(as_text=True)

    answers = run_together(lambda: create(admin_client, tokens[0]), lambda: create(second, tokens[1]))
    assert sorted(status for status, _body in answers) == [303, 422], [a[0] for a in answers]
    assert "A group with this name already exists." in next(body for status, body in answers if status == 422)
    assert Group.select().where(Group.name == "Sales").count() == 1


def test_two_saves_granting_one_permission_at_once_both_succeed(admin_client, app, admin, org, monkeypatch):
    """Issue item 5: what the group holds is read, then the difference written; read apart from the write,
    both saves would add users.view and the second hit the unique index (500)."""
    from blueprints.admin import groups as groups_view

    support = Group.create(organization=org, name="Support")
    second = app.test_client()
    sign_in(second, admin.email)
    page = f"/admin/groups/{support.id}"
    tokens = [csrf_from(c.get(page).get_data(as_text=True)) for c in (admin_client, second)]
    hold_after(monkeypatch, groups_view, "group_permissions")

    def save(client, token):
        return client.post(f"{page}/permissions", data={"csrf_token": token, "permissions": ["users.view"]}).status_code

    assert run_together(lambda: save(admin_client, tokens[0]), lambda: save(second, tokens[1])) == [303, 303]
    assert [p.permission for p in support.permissions] == ["users.view"]


def test_apply_is_all_or_nothing(admin_client, org):
    Group.create(organization=org, name="Support")
    admins = administrators_group(org)
    # A tampered apply: the second entry renames Administrators, so the first must not be created either.
    payload = json.dumps({"groups": [{"name": "Fresh", "permissions": []},
                                      {"id": admins.id, "name": "Bosses", "permissions": sorted(PERMISSIONS)}]})
    token = csrf_from(admin_client.get("/admin/groups").get_data(as_text=True))
    response = admin_client.post("/admin/groups/import/apply", data={"csrf_token": token, "payload": payload})
    assert response.status_code == 422 and "cannot be renamed" in response.get_data(as_text=True)
    assert not Group.select().where(Group.name == "Fresh").exists()


def test_a_disabled_person_holds_no_permission(app, org):
    """Permissions come from enabled people's groups only, whatever a caller asks (the pages, the API, the rules
    on who stands above whom)."""
    from models import User

    person = make_user(org, "p@example.com")
    grant(person, "users.view", "billing.view")
    with app.test_request_context():
        assert has_permission(person, "users.view")
    User.update(status="disabled").where(User.id == person.id).execute()
    with app.test_request_context():
        assert not has_permission(User.get_by_id(person.id), "users.view")
        assert permissions.permissions_of(User.get_by_id(person.id)) == frozenset()


def test_a_stored_permission_outside_the_catalog_grants_nothing(app, org):
    """A row left by an older version or written by hand ("root") is not a permission."""
    person = make_user(org, "p@example.com")
    group = grant(person, "users.view")
    GroupPermission.create(group=group, permission="root")
    with app.test_request_context():
        assert permissions.permissions_of(person) == frozenset({"users.view"})

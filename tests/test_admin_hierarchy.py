"""The back office's hierarchy (SECURITY.md 29) and its re-authentication (SECURITY.md 30): only the owner
changes the owner, administrators are peers who never remove the last enabled one, no one grants a
permission they do not hold or changes a group they are in (pages and JSON import alike), and actions that
weaken someone's sign-in need a password entered within REAUTH_MINUTES.
tests/test_admin_escalation.py tries random sequences of actions against the same rules."""
import io
import json
from datetime import timedelta

import pytest

from models import Group, GroupMember, GroupPermission, Organization, User, UserSession, utcnow
from services.permissions import add_to_group, administrators_group, grant
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in

HTMX = {"HX-Request": "true"}


def client_of(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def save(client, user, **fields):
    """The details form as its page sends it (the person's current groups and status unless given)."""
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    groups = [str(m.group_id) for m in GroupMember.select().where(GroupMember.user == user)]
    data = {"status": User.get_by_id(user.id).status, "groups": groups, "ip_allowlist": User.get_by_id(user.id).ip_allowlist,
            **fields}
    return client.post(f"/admin/users/{user.id}", data={"csrf_token": csrf_from(page), **data})


def action(client, user, path):
    return form_post(client, f"/admin/users/{user.id}/{path}", {}, page=f"/admin/users/{user.id}")


def upload(client, groups):
    token = csrf_from(client.get("/admin/groups").get_data(as_text=True))
    content = json.dumps({"format": "kabinet-groups", "version": 1, "groups": groups}).encode()
    return client.post("/admin/groups/import", data={"csrf_token": token, "file": (io.BytesIO(content), "g.json")},
                       content_type="multipart/form-data")


def permissions_of_group(group):
    return sorted(p.permission for p in GroupPermission.select().where(GroupPermission.group == group))


@pytest.fixture
def deputy(org, admin):
    """d@example.com: an administrator (role and group) who is not the owner."""
    user = make_user(org, "d@example.com", full_name="Deputy", role="admin")
    add_to_group(user, administrators_group(org))
    return user


# --- item 2: the owner and the last administrator ------------------------------------------------


def test_an_administrator_cannot_lock_the_owner_out(app, org, admin, deputy):
    """SECURITY.md 29: disable, out of Administrators, an IP whitelist, 2FA and password resets: only the owner."""
    User.update(two_factor="email").where(User.id == admin.id).execute()
    client = client_of(app, "d@example.com")
    admins = administrators_group(org)
    page = client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    assert "Disable 2FA" not in page and ">Save</button>" not in page  # nothing offered; the server refuses anyway
    for response in (
        save(client, admin, status="disabled"),
        save(client, admin, groups=[]),
        save(client, admin, ip_allowlist="192.0.2.1"),
        form_post(client, f"/admin/groups/{admins.id}/members/{admin.id}/remove", {}, page=f"/admin/groups/{admins.id}?tab=users"),
        action(client, admin, "two-factor/off"),
        action(client, admin, "reset-link"),
    ):
        assert response.status_code == 403
        assert "boss@example.com stands above you" in response.get_data(as_text=True)
    owner = User.get_by_id(admin.id)
    assert (owner.status, owner.ip_allowlist, owner.two_factor) == ("enabled", "", "email")
    assert GroupMember.select().where(GroupMember.group == admins, GroupMember.user == admin).exists()
    sign_in(app.test_client(), "boss@example.com")  # the owner still signs in


def test_administrators_are_peers_but_the_owner_is_above_them(app, org, admin, deputy):
    """The documented choice: an administrator may disable another administrator; the owner may change anyone."""
    other = make_user(org, "o@example.com", role="admin")
    add_to_group(other, administrators_group(org))
    client = client_of(app, "d@example.com")
    assert save(client, other, status="disabled").status_code == 303
    assert User.get_by_id(other.id).status == "disabled"
    owner = client_of(app, "boss@example.com")
    assert save(owner, deputy, ip_allowlist="192.0.2.0/24").status_code == 303
    assert User.get_by_id(deputy.id).ip_allowlist == "192.0.2.0/24"


def test_a_disabled_administrator_is_not_another_administrator(admin_client, org, admin):
    """The last *enabled* administrator cannot leave Administrators while a disabled one remains."""
    admins = administrators_group(org)
    gone = make_user(org, "gone@example.com", status="disabled")
    add_to_group(gone, admins)
    response = save(admin_client, admin, groups=[])
    assert response.status_code == 409 and "last administrator" in response.get_data(as_text=True)
    response = form_post(admin_client, f"/admin/groups/{admins.id}/members/{admin.id}/remove", {},
                         page=f"/admin/groups/{admins.id}?tab=users")
    assert response.status_code == 409 and "last administrator" in response.get_data(as_text=True)
    assert GroupMember.select().where(GroupMember.group == admins, GroupMember.user == admin).exists()
    # With a second enabled administrator, leaving is fine.
    User.update(status="enabled").where(User.id == gone.id).execute()
    assert save(admin_client, admin, groups=[]).status_code == 303


def test_no_one_locks_themselves_out_with_their_own_ip_whitelist_here(admin_client, admin):
    response = save(admin_client, admin, ip_allowlist="192.0.2.1")
    assert response.status_code == 409 and "saving it would lock you out" in response.get_data(as_text=True)
    assert User.get_by_id(admin.id).ip_allowlist == ""
    assert save(admin_client, admin, ip_allowlist="127.0.0.0/8").status_code == 303  # the test client's address


def test_disabling_ends_the_session_records_and_re_enabling_brings_none_back(admin_client, org, app):
    worker = make_user(org, "w@example.com")
    other = client_of(app, "w@example.com")
    assert save(admin_client, worker, status="disabled").status_code == 303
    assert not UserSession.select().where(UserSession.user == worker, UserSession.ended_at.is_null()).exists()
    assert save(admin_client, worker, status="enabled").status_code == 303
    response = other.get("/app/personal-data")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- item 3: no one grants what they do not hold ---------------------------------------------------


def test_groups_manage_alone_cannot_give_its_own_group_impersonation(app, org):
    manager = make_user(org, "m@example.com")
    own_group = grant(manager, "groups.manage")
    colleague = make_user(org, "c@example.com")
    other = Group.create(organization=org, name="Support")
    client = client_of(app, "m@example.com")
    page = client.get(f"/admin/groups/{own_group.id}").get_data(as_text=True)
    assert "You are in this group, so you cannot change its permissions." in page
    response = form_post(client, f"/admin/groups/{own_group.id}/permissions",
                         {"permissions": ["groups.manage", "users.impersonate"]}, page=f"/admin/groups/{own_group.id}")
    assert response.status_code == 403 and permissions_of_group(own_group) == ["groups.manage"]
    response = form_post(client, f"/admin/groups/{other.id}/permissions", {"permissions": ["users.impersonate"]},
                         page=f"/admin/groups/{other.id}")
    assert response.status_code == 403
    assert "permissions you do not hold: users.impersonate" in response.get_data(as_text=True)
    assert permissions_of_group(other) == []
    assert 'disabled id="permissions-2" name="permissions" type="checkbox" value="users.impersonate"' in \
        client.get(f"/admin/groups/{other.id}").get_data(as_text=True)
    assert form_post(client, f"/admin/groups/{colleague.id}/impersonate", {}, page="/admin/groups").status_code in (403, 404)
    # What they hold, they may give (and the group they are in stays as it was).
    response = form_post(client, f"/admin/groups/{other.id}/permissions", {"permissions": ["groups.manage"]},
                         page=f"/admin/groups/{other.id}")
    assert response.status_code == 303 and permissions_of_group(other) == ["groups.manage"]


def test_unheld_permissions_of_a_group_are_neither_revoked_nor_deleted(app, org):
    manager = make_user(org, "m@example.com")
    grant(manager, "groups.manage", "users.view")
    billing = Group.create(organization=org, name="Billing")
    for code in ("billing.edit", "users.view"):
        GroupPermission.create(group=billing, permission=code)
    client = client_of(app, "m@example.com")
    # The form does not send the disabled billing.edit box: it stays; users.view (held) goes.
    assert form_post(client, f"/admin/groups/{billing.id}/permissions", {}, page=f"/admin/groups/{billing.id}").status_code == 303
    assert permissions_of_group(billing) == ["billing.edit"]
    assert "Delete group" not in client.get(f"/admin/groups/{billing.id}").get_data(as_text=True)
    response = form_post(client, f"/admin/groups/{billing.id}/delete", {}, page=f"/admin/groups/{billing.id}")
    assert response.status_code == 403 and Group.get_or_none(Group.id == billing.id)


def test_the_import_grants_nothing_the_importer_lacks_nor_changes_their_group(app, org):
    manager = make_user(org, "m@example.com")
    own_group = grant(manager, "groups.manage")
    client = client_of(app, "m@example.com")
    for groups, message in (
        ([{"id": own_group.id, "name": own_group.name, "permissions": ["groups.manage", "users.impersonate"]}],
         "You are in the group"),
        ([{"name": own_group.name, "permissions": []}], "You are in the group"),
        ([{"name": "Helpers", "permissions": ["users.impersonate"]}], "permissions you do not hold (users.impersonate)"),
    ):
        response = upload(client, groups)
        assert response.status_code == 422 and message in response.get_data(as_text=True), groups
    assert permissions_of_group(own_group) == ["groups.manage"]
    assert not Group.select().where(Group.name == "Helpers").exists()
    assert upload(client, [{"name": "Helpers", "permissions": ["groups.manage"]}]).status_code == 200


def test_the_import_never_touches_another_organizations_group(admin_client, org):
    """Their group named by id is unknown here; by name, it is a new group of this organization."""
    theirs = Group.create(organization=Organization.create(name="Other"), name="Support")
    response = upload(admin_client, [{"id": theirs.id, "name": "Support", "permissions": ["users.view"]}])
    assert response.status_code == 422 and f"no group with id {theirs.id}" in response.get_data(as_text=True)
    response = upload(admin_client, [{"name": "Support", "permissions": ["users.view"]}])
    html = response.get_data(as_text=True)
    payload = html.split('name="payload" type="hidden" value="')[1].split('"')[0].replace("&#34;", '"').replace("&quot;", '"')
    form_post(admin_client, "/admin/groups/import/apply", {"payload": payload}, page="/admin/groups")
    assert permissions_of_group(theirs) == [] and Group.get_by_id(theirs.id).organization_id != org.id
    mine = Group.get(Group.organization == org.id, Group.name == "Support")
    assert permissions_of_group(mine) == ["users.view"]


def test_users_edit_cannot_put_anyone_into_a_group_granting_more(app, org):
    editor = make_user(org, "e@example.com")
    grant(editor, "users.view", "users.edit")
    worker = make_user(org, "w@example.com")
    impersonators = Group.create(organization=org, name="Impersonators")
    GroupPermission.create(group=impersonators, permission="users.impersonate")
    viewers = Group.create(organization=org, name="Viewers")
    GroupPermission.create(group=viewers, permission="users.view")
    client = client_of(app, "e@example.com")
    for target in (worker, editor):
        current = [str(m.group_id) for m in GroupMember.select().where(GroupMember.user == target)]
        response = save(client, target, groups=current + [str(impersonators.id)])
        assert response.status_code == 403 and "grants permissions you do not hold" in response.get_data(as_text=True)
    response = form_post(client, "/admin/users/new", {"full_name": "New", "email": "n@example.com",
                                                       "groups": [str(impersonators.id)]})
    assert response.status_code == 403 and not User.select().where(User.email == "n@example.com").exists()
    assert not GroupMember.select().where(GroupMember.group == impersonators).exists()
    assert save(client, worker, groups=[str(viewers.id)]).status_code == 303


def test_users_edit_cannot_change_or_re_enable_a_colleague_holding_more(app, org):
    editor = make_user(org, "e@example.com")
    grant(editor, "users.view", "users.edit")
    manager = make_user(org, "m@example.com")
    grant(manager, "groups.manage")
    client = client_of(app, "e@example.com")
    assert save(client, manager, status="disabled").status_code == 403
    User.update(status="disabled").where(User.id == manager.id).execute()
    assert save(client, manager, status="enabled").status_code == 403  # re-enabling gives groups.manage back
    assert User.get_by_id(manager.id).status == "disabled"


# --- item 4: re-authentication -----------------------------------------------------------------


def age_sign_in(hours=2):
    UserSession.update(reauth_at=utcnow() - timedelta(hours=hours)).execute()


def test_back_office_actions_that_weaken_a_sign_in_ask_for_the_password(admin_client, org, smtp):
    """SECURITY.md 30: with a two-hour-old sign-in, 2FA off, 2FA reset and a reset link go through re-auth."""
    worker = make_user(org, "w@example.com", two_factor="totp")
    age_sign_in()
    for path in ("two-factor/off", "two-factor/email", "reset-link"):
        response = action(admin_client, worker, path)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/app/security/reauth?next=/admin/users/{worker.id}"
    assert User.get_by_id(worker.id).two_factor == "totp" and smtp.messages == []
    token = csrf_from(admin_client.get(f"/admin/users/{worker.id}").get_data(as_text=True))
    response = admin_client.post(f"/admin/users/{worker.id}/two-factor/off", data={}, headers={**HTMX, "X-CSRFToken": token})
    assert response.headers["HX-Redirect"] == f"/app/security/reauth?next=/admin/users/{worker.id}"
    page = admin_client.get(f"/app/security/reauth?next=/admin/users/{worker.id}").get_data(as_text=True)
    assert "Confirm your password, then choose the action again." in page
    response = admin_client.post(f"/app/security/reauth?next=/admin/users/{worker.id}",
                                 data={"csrf_token": csrf_from(page), "password": PASSWORD})
    assert response.headers["Location"] == f"/admin/users/{worker.id}"
    assert action(admin_client, worker, "two-factor/off").status_code == 303
    assert User.get_by_id(worker.id).two_factor == "off"


@pytest.mark.parametrize("change", [{"status": "disabled"}, {"ip_allowlist": "192.0.2.7"}])
def test_status_and_ip_whitelist_ask_for_the_password_in_the_form(admin_client, org, change):
    worker = make_user(org, "w@example.com")
    age_sign_in()
    old_sid = UserSession.get(UserSession.ended_at.is_null()).token_hash
    response = save(admin_client, worker, phone="+44 20 7946 0958", **change)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Enter your password to change the status or the IP whitelist." in html
    assert 'value="+442079460958"' in html and change.get("ip_allowlist", "") in html  # the input is kept
    response = save(admin_client, worker, phone="+44 20 7946 0958", password="not my password", **change)
    assert response.status_code == 422 and "The password is not right." in response.get_data(as_text=True)
    worker = User.get_by_id(worker.id)
    assert (worker.status, worker.ip_allowlist, worker.phone) == ("enabled", "", None)
    assert save(admin_client, worker, phone="+44 20 7946 0958", password=PASSWORD, **change).status_code == 303
    worker = User.get_by_id(worker.id)
    assert worker.phone == "+442079460958" and change.items() <= {"status": worker.status, "ip_allowlist": worker.ip_allowlist}.items()
    assert UserSession.get(UserSession.ended_at.is_null()).token_hash != old_sid  # a new session id (SECURITY.md 14)
    # Other settings never ask.
    age_sign_in()
    assert save(admin_client, worker, phone="+44 20 7946 0959").status_code == 303


def test_a_new_ip_list_set_in_the_back_office_ends_the_sessions_it_leaves_out(app, org, admin, deputy):
    """The person is signed out at once on devices outside the new list, as their own Security page does."""
    signed_in = client_of(app, "d@example.com")
    assert signed_in.get("/app/personal-data").status_code == 200
    owner = client_of(app, "boss@example.com")
    assert save(owner, deputy, ip_allowlist="127.0.0.0/8").status_code == 303  # the test client's address
    assert signed_in.get("/app/personal-data").status_code == 200
    assert save(owner, deputy, ip_allowlist="192.0.2.0/24").status_code == 303
    assert signed_in.get("/app/personal-data").status_code in (302, 303)
    assert UserSession.select().where(UserSession.user == deputy.id, UserSession.ended_at.is_null()).count() == 0

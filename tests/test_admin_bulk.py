"""Bulk actions on the users list: tick people, choose disable, enable, add to or remove from a group,
confirm on a page that names them; the rules of the action one at a time hold for each person (the
ones the actor may not change are skipped and named), disabling asks for a recent password."""
from datetime import timedelta

from models import AuditEvent, Group, GroupMember, Organization, User, UserSession, utcnow
from services.permissions import add_to_group, administrators_group, grant
from tests.conftest import PASSWORD, csrf_from, make_user, sign_in

HTMX = {"HX-Request": "true"}


def bulk(client, ids, action, group=None, confirm=False, **extra):
    """The list's bulk form as a browser sends it (from /admin/users), then the confirmation's."""
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    data = {"csrf_token": token, "ids": [str(i) for i in ids], "action": action, **extra}
    if group is not None:
        data["group"] = str(group.id if hasattr(group, "id") else group)
    if confirm:
        data["confirm"] = "1"
    return client.post("/admin/users/bulk", data=data)


def people(org, n, prefix="w"):
    return [make_user(org, f"{prefix}{i:02d}@example.com", full_name=f"Worker {prefix}{i:02d}") for i in range(n)]


def test_the_list_offers_ticks_and_the_confirmation_names_the_people(admin_client, org):
    workers = people(org, 25)
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert f'name="ids" value="{workers[0].id}" form="bulk-form"' in html and 'id="bulk-action"' in html
    response = bulk(admin_client, [w.id for w in workers], "disable")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<dd>Disable</dd>" in page and "Will be changed: 25" in page
    assert "Worker w00" in page and "w19@example.com" in page and "and 5 more" in page
    assert page.count('name="ids"') == 25 and 'name="confirm"' in page
    assert User.select().where(User.status == "disabled").count() == 0  # nothing happens before confirming


def test_confirming_disables_ends_sessions_and_audits_each_person(admin_client, org, app):
    workers = people(org, 3)
    other = app.test_client()
    sign_in(other, "w00@example.com")
    response = bulk(admin_client, [w.id for w in workers], "disable", confirm=True)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    assert User.select().where(User.status == "disabled").count() == 3
    assert not UserSession.select().where(UserSession.user.in_(workers), UserSession.ended_at.is_null()).exists()
    assert other.get("/app/personal-data").status_code == 302
    audited = {e.target for e in AuditEvent.select().where(AuditEvent.action == "user.disabled")}
    assert audited == {w.email for w in workers}
    assert "Disabled: 3." in admin_client.get("/admin/users").get_data(as_text=True)
    response = bulk(admin_client, [w.id for w in workers], "enable", confirm=True)
    assert response.status_code == 303 and User.select().where(User.status == "disabled").count() == 0
    assert AuditEvent.select().where(AuditEvent.action == "user.enabled").count() == 3


def test_people_above_the_actor_are_skipped_and_named(client, org, admin):
    editor = make_user(org, "e@example.com", full_name="Eddie Editor")
    grant(editor, "users.view", "users.edit")
    worker = make_user(org, "w@example.com", full_name="Walter")
    manager = make_user(org, "m@example.com", full_name="Manny")
    grant(manager, "groups.manage")  # holds what the editor does not
    stranger = make_user(Organization.create(name="Other"), "x@other.com")
    sign_in(client, "e@example.com")
    ids = [admin.id, worker.id, manager.id, editor.id, stranger.id]
    page = bulk(client, ids, "disable").get_data(as_text=True)
    assert "Will be changed: 1" in page and "Walter" in page
    assert "Skipped: 3" in page
    assert "Boss Admin" in page and "Manny" in page and "stands above you" in page
    assert "you cannot disable your own account" in page
    assert "x@other.com" not in page  # another organization's people are not even named
    response = bulk(client, ids, "disable", confirm=True)
    assert response.status_code == 303
    statuses = {u.email: u.status for u in User.select()}
    assert statuses == {"boss@example.com": "enabled", "e@example.com": "enabled", "w@example.com": "disabled",
                        "m@example.com": "enabled", "x@other.com": "enabled"}
    flashed = client.get("/admin/users").get_data(as_text=True)
    assert "Skipped: Boss Admin (stands above you)" in flashed


def test_the_last_administrator_is_never_disabled_nor_removed(admin_client, org, admin):
    deputy = make_user(org, "d@example.com", full_name="Deputy", role="admin")
    admins = administrators_group(org)
    add_to_group(deputy, admins)
    User.update(role="admin").where(User.id == admin.id).execute()  # not the owner: one of two peers
    page = bulk(admin_client, [deputy.id], "remove_group", group=admins).get_data(as_text=True)
    assert "<dd>Remove from a group</dd>" in page and "<dd>Administrators</dd>" in page and "Will be changed: 1" in page
    bulk(admin_client, [deputy.id], "remove_group", group=admins, confirm=True)
    assert not GroupMember.select().where(GroupMember.user == deputy).exists()
    page = bulk(admin_client, [admin.id], "remove_group", group=admins).get_data(as_text=True)
    assert "the last administrator" in page and 'name="confirm"' not in page
    assert "None of the ticked people can be changed this way." in page
    bulk(admin_client, [admin.id], "remove_group", group=admins, confirm=True)
    assert GroupMember.select().where(GroupMember.user == admin).exists()


def test_add_and_remove_a_group_by_the_rules_of_one_at_a_time(client, org, admin):
    editor = make_user(org, "e@example.com")
    grant(editor, "users.view", "users.edit", "clients.view")
    workers = people(org, 3)
    viewers = Group.create(organization=org, name="Viewers")
    billing = Group.create(organization=org, name="Billing")
    from models import GroupPermission
    GroupPermission.create(group=viewers, permission="clients.view")
    GroupPermission.create(group=billing, permission="billing.edit")
    add_to_group(workers[0], viewers)
    sign_in(client, "e@example.com")
    ids = [w.id for w in workers]
    page = bulk(client, ids, "add_group", group=viewers).get_data(as_text=True)
    assert "<dd>Viewers</dd>" in page and "Will be changed: 2" in page and "already in the group" in page
    assert bulk(client, ids, "add_group", group=viewers, confirm=True).status_code == 303
    assert GroupMember.select().where(GroupMember.group == viewers).count() == 3
    assert AuditEvent.select().where(AuditEvent.action == "group.member_added").count() == 2
    response = bulk(client, ids, "add_group", group=billing, confirm=True)
    assert response.status_code == 403
    assert "grants permissions you do not hold" in response.get_data(as_text=True)
    assert not GroupMember.select().where(GroupMember.group == billing).exists()
    response = bulk(client, ids, "add_group", group=administrators_group(org), confirm=True)
    assert response.status_code == 403 and "Only an administrator" in response.get_data(as_text=True)
    assert bulk(client, ids[:2], "remove_group", group=viewers, confirm=True).status_code == 303
    assert [m.user_id for m in GroupMember.select().where(GroupMember.group == viewers)] == [workers[2].id]


def test_disabling_asks_for_a_recent_password(admin_client, org):
    worker = make_user(org, "w@example.com")
    UserSession.update(reauth_at=utcnow() - timedelta(hours=2)).execute()
    page = bulk(admin_client, [worker.id], "disable").get_data(as_text=True)
    assert 'name="password"' in page
    response = bulk(admin_client, [worker.id], "disable", confirm=True)
    assert response.status_code == 422 and "Enter your password" in response.get_data(as_text=True)
    response = bulk(admin_client, [worker.id], "disable", confirm=True, password="wrong one")
    assert response.status_code == 422 and "The password is not right." in response.get_data(as_text=True)
    assert User.get_by_id(worker.id).status == "enabled"
    assert bulk(admin_client, [worker.id], "disable", confirm=True, password=PASSWORD).status_code == 303
    assert User.get_by_id(worker.id).status == "disabled"
    # adding to a group does not weaken anyone's sign-in: no password asked
    UserSession.update(reauth_at=utcnow() - timedelta(hours=2)).execute()
    team = Group.create(organization=org, name="Team")
    assert 'name="password"' not in bulk(admin_client, [worker.id], "add_group", group=team).get_data(as_text=True)


def test_bad_input_is_told_at_the_field_never_a_500(admin_client, org, app):
    worker = make_user(org, "w@example.com")
    cases = [
        ([worker.id], "", None, "Choose what to do with the ticked people."),
        ([worker.id], "explode", None, "Choose what to do with the ticked people."),
        ([worker.id], "add_group", None, "Choose a group."),
        ([worker.id], "add_group", 999999999999999999999, "Choose a group."),
        ([], "disable", None, "Tick at least one person"),
        (["x1"], "disable", None, "could not be read"),
        ([10**30], "disable", None, "could not be read"),
        (list(range(1, 5003)), "enable", None, "At most 5000 people at a time."),
    ]
    for ids, action, group, message in cases:
        response = bulk(admin_client, ids, action, group=group, confirm=True)
        assert response.status_code == 422, (action, message)
        assert message in response.get_data(as_text=True)
    assert admin_client.post("/admin/users/bulk", data={"action": "disable", "ids": [str(worker.id)]}).status_code == 403  # no CSRF token
    assert User.get_by_id(worker.id).status == "enabled"
    # in Russian
    User.update(language="ru").where(User.email == "boss@example.com").execute()
    response = bulk(admin_client, [], "disable")
    assert response.status_code == 422 and "Отметьте" in response.get_data(as_text=True)


def test_someone_without_users_edit_sees_no_ticks_and_cannot_post(client, org):
    viewer = make_user(org, "v@example.com")
    grant(viewer, "users.view")
    worker = make_user(org, "w@example.com")
    sign_in(client, "v@example.com")
    html = client.get("/admin/users").get_data(as_text=True)
    assert 'name="ids"' not in html and "bulk-form" not in html
    response = client.post("/admin/users/bulk", data={"csrf_token": csrf_from(html), "ids": [str(worker.id)],
                                                       "action": "disable", "confirm": "1"})
    assert response.status_code == 403 and User.get_by_id(worker.id).status == "enabled"


def test_the_work_does_not_grow_query_by_query_with_the_people(client, org, admin):
    """A few queries per bulk action whatever the number of people (no per-person permission checks)."""
    from models import db

    editor = make_user(org, "e@example.com")
    grant(editor, "users.view", "users.edit")
    admin_client = client
    sign_in(client, "e@example.com")
    team = Group.create(organization=org, name="Team")
    counts = {}
    for n in (5, 60):
        ids = [w.id for w in people(org, n, prefix=f"p{n}-")]
        token = csrf_from(admin_client.get("/admin/users").get_data(as_text=True))
        executed = []
        original = db.obj.execute_sql

        def counting(sql, params=None, *args, **kwargs):
            executed.append(sql)
            return original(sql, params, *args, **kwargs)

        db.obj.execute_sql = counting
        try:
            response = admin_client.post("/admin/users/bulk", data={"csrf_token": token, "ids": [str(i) for i in ids],
                                                                     "action": "add_group", "group": str(team.id), "confirm": "1"})
        finally:
            db.obj.execute_sql = original
        assert response.status_code == 303
        counts[n] = len(executed)
    assert counts[60] == counts[5], counts
    assert GroupMember.select().where(GroupMember.group == team).count() == 65

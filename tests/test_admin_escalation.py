"""SECURITY.md 29 as a property: random sequences of back-office actions (group permissions, members, a
person's groups and status, JSON import, deleting groups) by people holding random sets of permissions,
through the pages, never leave anyone holding a permission that neither they nor the acting person held,
never change a group the actor is in, never touch someone standing above the actor, and always leave
the owner and an administrator able to sign in. tests/test_admin_hierarchy.py has the named cases."""
import json

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from models import Group, GroupMember, GroupPermission, User
from services.permissions import PERMISSIONS, add_to_group, administrators_group
from services.sessions import start_session
from tests.conftest import csrf_from, empty_tables, make_user

# A few permissions, so that random people often hold what the routes need and often lack what they give.
SOME = ("users.view", "users.edit", "groups.manage", "users.impersonate", "billing.edit")
PEOPLE = 4  # besides the owner (index 0)
GROUPS = 1 + PEOPLE + 2  # Administrators, one group per person, two more

person = st.integers(0, PEOPLE)
group = st.integers(0, GROUPS - 1)
permission_set = st.frozensets(st.sampled_from(SOME))
actions = st.lists(
    st.one_of(
        st.tuples(st.just("permissions"), person, group, permission_set),
        st.tuples(st.just("add"), person, group, person),
        st.tuples(st.just("remove"), person, group, person),
        st.tuples(st.just("user"), person, person, st.frozensets(group, max_size=3), st.sampled_from(["enabled", "disabled"])),
        st.tuples(st.just("import"), person, st.one_of(st.none(), group), permission_set),
        st.tuples(st.just("delete"), person, group),
    ),
    min_size=1,
    max_size=6,
)


def signed_in(app, user):
    """A test client with an open session for `user`, as the sign-in page would leave it (no password hashing)."""
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["sid"] = start_session(user)
        cookie["_user_id"] = str(user.id)
    client.csrf = csrf_from(client.get("/forgot-password").get_data(as_text=True))
    return client


def snapshot(people):
    """Per person: (permissions their groups grant, group ids, status, IP list, is an administrator)."""
    every = frozenset(PERMISSIONS)
    granted = {}
    for row in GroupPermission.select():
        granted.setdefault(row.group_id, set()).add(row.permission)
    admins = {g.id for g in Group.select().where(Group.is_administrators == True)}  # noqa: E712
    state = {}
    for user in people:
        fresh = User.get_by_id(user.id)
        groups = frozenset(m.group_id for m in GroupMember.select().where(GroupMember.user == user.id))
        is_admin = bool(groups & admins)
        held = every if is_admin else frozenset(p for gid in groups for p in granted.get(gid, ()))
        state[user.id] = {"held": held, "groups": groups, "status": fresh.status, "ip": fresh.ip_allowlist,
                          "admin": is_admin, "owner": fresh.role == "owner"}
    return state, {gid: frozenset(perms) for gid, perms in granted.items()}


def stands_above(target, actor):
    """The rule, written out independently of services.permissions."""
    if target is actor:
        return False
    if actor["owner"]:
        return False
    if target["owner"] or (target["admin"] and not actor["admin"]):
        return True
    return not target["held"] <= actor["held"]


def act(client, step, people, groups):
    kind, _actor, *args = step
    if kind == "permissions":
        gid, perms = groups[args[0]].id, args[1]
        return client.post(f"/admin/groups/{gid}/permissions", data={"csrf_token": client.csrf, "permissions": sorted(perms)})
    if kind == "add":
        gid, email = groups[args[0]].id, people[args[1]].email
        return client.post(f"/admin/groups/{gid}/members", data={"csrf_token": client.csrf, "email": email})
    if kind == "remove":
        gid, uid = groups[args[0]].id, people[args[1]].id
        return client.post(f"/admin/groups/{gid}/members/{uid}/remove", data={"csrf_token": client.csrf})
    if kind == "user":
        target, chosen, status = people[args[0]], args[1], args[2]
        data = {"csrf_token": client.csrf, "groups": [str(groups[i].id) for i in chosen], "status": status,
                "ip_allowlist": User.get_by_id(target.id).ip_allowlist}
        return client.post(f"/admin/users/{target.id}", data=data)
    if kind == "import":
        existing = Group.get_or_none(Group.id == groups[args[0]].id) if args[0] is not None else None
        entry = {"id": existing.id, "name": existing.name} if existing else {"name": "Imported"}
        payload = json.dumps({"groups": [{**entry, "permissions": sorted(args[1])}]})
        return client.post("/admin/groups/import/apply", data={"csrf_token": client.csrf, "payload": payload})
    gid = groups[args[0]].id
    return client.post(f"/admin/groups/{gid}/delete", data={"csrf_token": client.csrf})


# Bounded for the suite (~20 s); no shrinking, which can take minutes here: a failure names its step.
@settings(max_examples=50, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(held=st.lists(permission_set, min_size=PEOPLE, max_size=PEOPLE),
       administrator=st.lists(st.booleans(), min_size=PEOPLE, max_size=PEOPLE),
       extra=st.lists(permission_set, min_size=2, max_size=2),
       steps=actions)
def test_no_sequence_of_actions_gives_anyone_more_than_the_actors_held(app, database, held, administrator, extra, steps):
    empty_tables(database)
    from models import Organization

    org = Organization.create(name="Org")
    admins = administrators_group(org)
    owner = make_user(org, "owner@example.com", role="owner")
    add_to_group(owner, admins)
    people, groups = [owner], [admins]
    for i, (perms, is_admin) in enumerate(zip(held, administrator), 1):
        user = make_user(org, f"p{i}@example.com")
        own = Group.create(organization=org, name=f"Own {i}")
        for code in perms:
            GroupPermission.create(group=own, permission=code)
        add_to_group(user, own)
        if is_admin and i == 1:  # at most one administrator besides the owner
            add_to_group(user, admins)
        people.append(user)
        groups.append(own)
    for i, perms in enumerate(extra):
        more = Group.create(organization=org, name=f"More {i}")
        for code in perms:
            GroupPermission.create(group=more, permission=code)
        groups.append(more)
    clients = [signed_in(app, user) for user in people]

    for step in steps:
        actor = people[step[1]]
        before, group_perms = snapshot(people)
        member_of = before[actor.id]["groups"]
        response = act(clients[step[1]], step, people, groups)
        assert response.status_code < 500, step
        after, group_perms_after = snapshot(people)
        acting = before[actor.id]
        lent = acting["held"] if acting["status"] == "enabled" else frozenset()
        for user in people:
            was, now = before[user.id], after[user.id]
            gained = now["held"] - was["held"]
            assert gained <= lent, (step, user.email, sorted(gained))
            if now["admin"] and not was["admin"]:
                assert acting["admin"], (step, user.email)
            if stands_above(was, acting):
                assert (now["groups"], now["status"], now["ip"]) == (was["groups"], was["status"], was["ip"]), (step, user.email)
        for gid in member_of:  # the groups the actor is in keep their permissions (and exist)
            assert Group.get_or_none(Group.id == gid) is not None, step
            assert group_perms_after.get(gid, frozenset()) == group_perms.get(gid, frozenset()), step
        assert after[owner.id]["status"] == "enabled"
        assert any(state["admin"] and state["status"] == "enabled" for state in after.values()), step

"""The permission walk (issue 6): every /admin route of the URL map, for an anonymous visitor, a member
without permissions, a member with one permission (for each permission: exactly the routes it opens),
an administrator, a disabled user and an administrator of another organization, each with the status
it must get. tests/test_every_route.py walks every route of the app with coarser expectations."""
import re

import pytest

from blueprints.admin.core import SECTIONS
from models import Client, ClientTag, Group, Organization, User, UserSession
from services import audit
from services.permissions import PERMISSIONS, add_to_group, administrators_group, grant
from tests.conftest import make_user, sign_in
from tests.test_every_route import csrf_token

# endpoint: (the permission it needs, or a tuple of all it needs; "*": any that opens a section;
#            None: any signed-in person), {method: the status its holder gets for a form with only the CSRF token}
WALK = {
    "admin.index": ("*", {"GET": 302}),
    "admin.users": ("users.view", {"GET": 200}),
    "admin.user": ("users.view", {"GET": 200}),
    "admin.create_user": ("users.edit", {"GET": 200, "POST": 422}),
    "admin.save_user": ("users.edit", {"POST": 303}),  # nothing sent: nothing changes
    "admin.send_reset": ("users.edit", {"POST": 303}),
    "admin.reset_two_factor": ("users.edit", {"POST": 303}),
    "admin.groups": ("groups.manage", {"GET": 200}),
    "admin.create_group": ("groups.manage", {"POST": 422}),
    "admin.group": ("groups.manage", {"GET": 200}),
    "admin.save_permissions": ("groups.manage", {"POST": 303}),
    "admin.rename_group": ("groups.manage", {"POST": 422}),
    "admin.delete_group": ("groups.manage", {"POST": 303}),
    "admin.add_member": ("groups.manage", {"POST": 422}),
    "admin.remove_member": ("groups.manage", {"POST": 303}),
    "admin.export": ("groups.manage", {"GET": 200}),
    "admin.import_preview": ("groups.manage", {"POST": 422}),
    "admin.import_apply": ("groups.manage", {"POST": 400}),  # the preview's hidden payload is missing
    "admin.client_tags": ("tags.manage", {"GET": 200}),
    "admin.create_tag": ("tags.manage", {"POST": 422}),
    "admin.rename_tag": ("tags.manage", {"POST": 422}),
    "admin.delete_tag": ("tags.manage", {"POST": 303}),
    "admin.clients": ("clients.view", {"GET": 200}),
    "admin.clients_json": ("clients.view", {"GET": 200}),
    "admin.import_clients_csv": ("clients.import", {"POST": 422}),
    "admin.events": ("events.view", {"GET": 200}),
    "admin.event": ("events.view", {"GET": 200}),
    "admin.comment_event": (("events.view", "events.comment"), {"POST": 422}),  # commenting needs seeing
    "admin.impersonate": ("users.impersonate", {"POST": 303}),  # `call` comes back to the own account
    "admin.stop_impersonating": (None, {"POST": 303}),  # not impersonating: "you are in your own account"
    "admin.organization": ("billing.edit", {"GET": 200}),
    "admin.save_organization": ("billing.edit", {"POST": 422}),
}
# Routes of an area still being built: (permission, None) checks the permission and leaves the statuses
# to that area's own tests until it is finished.
OPTIONAL = {
    # The back office's bulk actions, a person's sessions, identity and deletion, invitations and the events
    # log's export and retention: their statuses are pinned by their own test files (tests/test_admin_bulk.py,
    # test_admin_user_sessions.py, test_admin_user_manage.py, test_admin_invitations.py,
    # test_admin_event_export.py); here the permission each needs.
    "admin.users_bulk": ("users.edit", None),
    "admin.export_events": ("events.view", None),
    "admin.save_events_retention": (tuple(PERMISSIONS), None),  # events.view and an administrator: as all of them
    "admin.resend_invitation": ("users.edit", None),
    "admin.user_identity": ("users.edit", None),
    "admin.save_user_identity": ("users.edit", None),
    "admin.delete_user_page": ("users.edit", None),
    "admin.delete_user": ("users.edit", None),
    "admin.end_user_session": ("users.edit", None),
    "admin.end_user_sessions": ("users.edit", None),
}


@pytest.fixture
def world(org):
    """An administrator, a worker to act on, a group, a tag, a client and an event to point routes at."""
    admin = make_user(org, "boss@example.com", full_name="Boss", role="owner")
    add_to_group(admin, administrators_group(org))
    worker = make_user(org, "w@example.com", full_name="Worker")
    group = Group.create(organization=org, name="Support")
    tag = ClientTag.create(organization=org, caption="VIP")
    client = Client.create(organization=org, name="Acme", email="acme@example.com", country="RU")
    event = audit.record("user.created", actor=admin, target=worker.email)
    return {"admin": admin, "worker": worker, "group_id": group.id, "user_id": worker.id, "tag_id": tag.id,
            "client_id": client.id, "event_id": event.id, "method": "email", "kind": "csv",
            "session_id": UserSession.create(user=worker, token_hash="walk").id}


def admin_rules(app):
    """(rule, method) for every rule of the URL map under /admin, deletions last (they remove the objects)."""
    rules = [(rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(rules, key=lambda item: ("delete" in item[0].endpoint, item[0].rule, item[1]))


def url_of(rule, world):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(world[m.group(1)]), rule.rule)


def call(client, rule, method, world, headers=None):
    url = url_of(rule, world)
    if method == "GET":
        return client.get(url, headers=headers or {})
    if not hasattr(client, "csrf"):
        client.csrf = csrf_token(client)
    response = client.post(url, data={"csrf_token": client.csrf}, headers=headers or {})
    if rule.endpoint == "admin.impersonate" and response.status_code == 303:
        # "Sign in as" worked: come back to the walker's own account before the next route.
        assert client.post("/admin/impersonation/end", data={"csrf_token": client.csrf}).status_code == 303
    return response


def needs(endpoint):
    return {**WALK, **OPTIONAL}[endpoint][0]


def expected(endpoint, method):
    statuses = {**WALK, **OPTIONAL}[endpoint][1]
    return statuses[method] if statuses else None


def walk(app, client, world):
    """[(endpoint, method, status)] for every /admin route."""
    return [(rule.endpoint, method, call(client, rule, method, world).status_code) for rule, method in admin_rules(app)]


def test_every_admin_route_is_in_the_walk(app):
    endpoints = {rule.endpoint for rule, _m in admin_rules(app)}
    assert all(e.startswith("admin.") for e in endpoints)
    missing = endpoints - set(WALK) - set(OPTIONAL)
    assert not missing, f"add these endpoints to the permission walk: {missing}"
    assert set(WALK) <= endpoints, f"gone from the URL map: {set(WALK) - endpoints}"
    for endpoint, (permission, statuses) in WALK.items():
        for name in permission if isinstance(permission, tuple) else [permission]:
            assert name in ("*", None) or name in PERMISSIONS, endpoint
        methods = {m for rule, m in admin_rules(app) if rule.endpoint == endpoint}
        assert set(statuses) == methods, endpoint


def test_anonymous_visitors_are_sent_to_sign_in(app, client, world):
    for rule, method in admin_rules(app):
        response = call(client, rule, method, world)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (rule.rule, method)
        # htmx is told to navigate (SECURITY.md 20) instead of swapping the sign-in page into a fragment
        response = call(client, rule, method, world, headers={"HX-Request": "true"})
        assert response.status_code == 401 and "/login" in response.headers["HX-Redirect"], (rule.rule, method)


def test_disabled_user_is_signed_out_of_every_route(app, client, world):
    sign_in(client, "boss@example.com")
    User.update(status="disabled").where(User.id == world["admin"].id).execute()
    for rule, method in admin_rules(app):
        response = call(client, rule, method, world)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (rule.rule, method)


def test_member_without_permissions_gets_403_everywhere(app, client, world, org):
    make_user(org, "m@example.com")
    sign_in(client, "m@example.com")
    for endpoint, method, status in walk(app, client, world):
        if needs(endpoint) is None:
            assert status not in (403, 500), (endpoint, method, status)
        else:
            assert status == 403, (endpoint, method, status)


def opens(permission, held):
    if permission is None:
        return True
    if permission == "*":
        return any(p in held for p, _endpoint, _label in SECTIONS)
    return set(permission if isinstance(permission, tuple) else [permission]) <= held


@pytest.mark.parametrize("held", [(p,) for p in sorted(PERMISSIONS)] + [("events.view", "events.comment")],
                         ids=lambda held: "+".join(held))
def test_member_with_one_permission_opens_exactly_its_routes(app, client, world, org, held):
    member = make_user(org, "m@example.com")
    grant(member, *held)
    sign_in(client, "m@example.com")
    opened = set()
    for endpoint, method, status in walk(app, client, world):
        if not opens(needs(endpoint), set(held)):
            assert status == 403, (endpoint, method, status)
        elif expected(endpoint, method) is not None:
            assert status == expected(endpoint, method), (endpoint, method, status)
            opened.add(endpoint)
        else:
            assert status not in (403, 500), (endpoint, method, status)
    sections = {p for p, _e, _l in SECTIONS}
    if set(held) & sections:
        assert "admin.index" in opened  # the Administration link leads somewhere


def test_administrator_gets_every_routes_status(app, client, world):
    sign_in(client, "boss@example.com")
    for endpoint, method, status in walk(app, client, world):
        wanted = expected(endpoint, method)
        if wanted is None:
            assert status < 500, (endpoint, method, status)
        else:
            assert status == wanted, (endpoint, method, status)


def test_administrator_of_another_organization_gets_404_for_these_ids(app, client, world):
    """SECURITY.md 19: a user, group, tag or event id of another organization is not found."""
    other = Organization.create(name="Other Ltd")
    stranger = make_user(other, "eve@example.com")
    add_to_group(stranger, administrators_group(other))
    sign_in(client, "eve@example.com")
    for rule, method in admin_rules(app):
        if "<" not in rule.rule or rule.endpoint in OPTIONAL:
            continue
        response = call(client, rule, method, world)
        assert response.status_code == 404, (rule.rule, method, response.status_code)
    assert Group.select().where(Group.organization == world["admin"].organization_id).count() == 2
    assert ClientTag.select().count() == 1


def test_the_menu_shows_administration_and_the_sections_a_person_may_open(app, client, org):
    """The account panel's Administration group (admin_sections()): a member without permissions does not
    see it; one with users.view sees it with only the Users section, on every page."""
    make_user(org, "plain@example.com")
    clerk = make_user(org, "clerk@example.com")
    grant(clerk, "users.view")
    sign_in(client, "plain@example.com")
    page = client.get("/app/personal-data").get_data(as_text=True)
    assert 'href="/admin/' not in page and "Administration" not in page
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    sign_in(client, "clerk@example.com")
    page = client.get("/app/personal-data").get_data(as_text=True)
    assert 'href="/admin/users"' in page and "Administration" in page and 'href="/admin/groups"' not in page
    menu = client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users"' in menu and 'href="/admin/groups"' not in menu and 'href="/admin/events"' not in menu

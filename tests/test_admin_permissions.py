"""The permission walk (issue 6): every /admin route for an anonymous visitor, a member without
permissions, a member with one permission, an administrator and a disabled user."""
import re

import pytest

from models import Client, ClientTag, Group, User
from blueprints.admin import SECTIONS
from services.permissions import PERMISSIONS, add_to_group, administrators_group, grant
from tests.conftest import csrf_from, make_user, sign_in

# The permission each back-office endpoint needs; None: any signed-in person.
ROUTES = {
    "admin.index": "*",  # any permission that opens a section
    "admin.users": "users.view",
    "admin.user": "users.view",
    "admin.create_user": "users.edit",
    "admin.save_user": "users.edit",
    "admin.send_reset": "users.edit",
    "admin.reset_two_factor": "users.edit",
    "admin.groups": "groups.manage",
    "admin.create_group": "groups.manage",
    "admin.group": "groups.manage",
    "admin.save_permissions": "groups.manage",
    "admin.rename_group": "groups.manage",
    "admin.delete_group": "groups.manage",
    "admin.add_member": "groups.manage",
    "admin.remove_member": "groups.manage",
    "admin.export": "groups.manage",
    "admin.import_preview": "groups.manage",
    "admin.import_apply": "groups.manage",
}
OPTIONAL_ROUTES = {
    "admin.client_tags": "tags.manage",
    "admin.create_tag": "tags.manage",
    "admin.rename_tag": "tags.manage",
    "admin.delete_tag": "tags.manage",
    "admin.clients": "clients.view",
    "admin.clients_json": "clients.view",
    "admin.import_clients_csv": "clients.import",
    "admin.events": "events.view",
    "admin.event": "events.view",
    "admin.comment_event": "events.comment",
    "admin.impersonate": "users.impersonate",
    "admin.stop_impersonating": None,
    "admin.picture": None,
    "admin.upload_picture": None,
    "admin.delete_picture": None,
    "admin.avatar": None,
    "admin.organization": "billing.edit",
    "admin.save_organization": "billing.edit",
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
    from services import audit

    event = audit.record("user.created", actor=admin, target=worker.email)
    return {"admin": admin, "worker": worker, "group_id": group.id, "user_id": worker.id, "tag_id": tag.id,
            "client_id": client.id, "event_id": event.id, "method": "email"}


def admin_rules(app):
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rules.append((rule, method))
    return sorted(rules, key=lambda item: ("delete" in item[0].endpoint, item[0].rule, item[1]))  # deletions last


def url_of(rule, world):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(world[m.group(1)]), rule.rule)


def call(client, rule, method, world):
    url = url_of(rule, world)
    if method == "GET":
        return client.get(url)
    if not hasattr(client, "csrf"):  # the session's token, read once from a page with a form
        client.csrf = csrf_from(client.get("/forgot-password").get_data(as_text=True))
    response = client.post(url, data={"csrf_token": client.csrf})
    if rule.endpoint == "admin.impersonate" and response.status_code == 303:
        # "Sign in as" worked: come back to the walker's own account before the next route.
        assert client.post("/admin/impersonation/end", data={"csrf_token": client.csrf}).status_code == 303
    return response


def test_every_admin_route_is_in_the_walk(app):
    known = {**ROUTES, **OPTIONAL_ROUTES}
    missing = {rule.endpoint for rule, _m in admin_rules(app)} - set(known)
    assert not missing, f"add these endpoints to the permission walk: {missing}"
    assert set(ROUTES) <= {rule.endpoint for rule, _m in admin_rules(app)}
    assert set(filter(None, known.values())) - {"*"} <= set(PERMISSIONS)


def test_anonymous_visitors_are_sent_to_sign_in(app, client, world):
    for rule, method in admin_rules(app):
        response = call(client, rule, method, world)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (rule.rule, method)


def test_disabled_user_is_signed_out_of_every_route(app, client, world):
    sign_in(client, "boss@example.com")
    User.update(status="disabled").where(User.id == world["admin"].id).execute()
    for rule, method in admin_rules(app):
        response = call(client, rule, method, world)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (rule.rule, method)


def permission_of(endpoint):
    return {**ROUTES, **OPTIONAL_ROUTES}[endpoint]


def test_member_without_permissions_gets_403_everywhere_but_their_own_pages(app, client, world, org):
    make_user(org, "m@example.com")
    sign_in(client, "m@example.com")
    for rule, method in admin_rules(app):
        response = call(client, rule, method, world)
        if permission_of(rule.endpoint) is None:
            assert response.status_code not in (403, 500), (rule.rule, method)
        else:
            assert response.status_code == 403, (rule.rule, method, response.status_code)


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_member_with_one_permission_opens_only_its_routes(app, client, world, org, permission):
    member = make_user(org, "m@example.com")
    grant(member, permission)
    sign_in(client, "m@example.com")
    for rule, method in admin_rules(app):
        response = call(client, rule, method, world)
        needed = permission_of(rule.endpoint)
        if needed == "*":
            opens = any(p == permission and e in app.view_functions for p, e, _label in SECTIONS)
            assert response.status_code == (302 if opens else 403), (rule.rule, response.status_code)
        elif needed is None or needed == permission:
            assert response.status_code not in (403, 500), (rule.rule, method, response.status_code)
        else:
            assert response.status_code == 403, (rule.rule, method, response.status_code)


def test_administrator_opens_every_route(app, client, world):
    sign_in(client, "boss@example.com")
    for rule, method in admin_rules(app):
        response = call(client, rule, method, world)
        if method == "GET":
            assert response.status_code in (200, 302), (rule.rule, response.status_code)
        else:
            assert response.status_code in (200, 303, 400, 409, 422), (rule.rule, response.status_code)

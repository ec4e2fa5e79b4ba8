"""The admin API for users and groups (issue 17): each route with the permission of its page, refused
where the page refuses (someone above you, the last administrator, a permission you lack, another
organization's rows), the invitation really mailed, and every change in the audit trail with via=api."""
import json

import pytest

from models import AuditEvent, Group, GroupMember, GroupPermission, Organization, User, UserSession
from services import apikeys, service_keys
from services.permissions import add_to_group, administrators_group, grant
from tests.conftest import make_user

API = "/api/v1/admin"


def key_for(person, scopes=("read", "write")):
    return {"Authorization": f"Bearer {apikeys.create_key(person, 'admin', list(scopes))[0]}"}


def audited(action):
    return [(e.target, json.loads(e.details or "{}")) for e in AuditEvent.select().where(AuditEvent.action == action)]


@pytest.fixture
def boss(admin):
    """The owner, in Administrators, with a read+write key."""
    return key_for(admin)


@pytest.fixture
def clerk(org):
    """Carl, who holds users.view, users.edit and groups.manage, and nothing else."""
    person = make_user(org, "carl@example.com", full_name="Carl Clerk")
    grant(person, "users.view", "users.edit", "groups.manage")
    return person


def test_the_list_filters_sorts_and_pages_like_the_page(client, org, admin, boss):
    for i in range(5):
        make_user(org, f"p{i}@example.com", full_name=f"Person {i}", status="disabled" if i % 2 else "enabled")
    page = client.get(f"{API}/users?sort=email&dir=asc&limit=2", headers=boss).get_json()
    assert [p["email"] for p in page["items"]] == ["boss@example.com", "p0@example.com"]
    seen = [p["email"] for p in page["items"]]
    while page["next_cursor"]:
        page = client.get(f"{API}/users?sort=email&dir=asc&limit=2&cursor={page['next_cursor']}", headers=boss).get_json()
        seen += [p["email"] for p in page["items"]]
    assert seen == sorted(u.email for u in User.select())
    disabled = client.get(f"{API}/users?status=disabled", headers=boss).get_json()["items"]
    assert {p["email"] for p in disabled} == {"p1@example.com", "p3@example.com"}
    assert [p["email"] for p in client.get(f"{API}/users?q=Person%203", headers=boss).get_json()["items"]] == ["p3@example.com"]
    admins = client.get(f"{API}/users?group={administrators_group(org).id}", headers=boss).get_json()["items"]
    assert [p["email"] for p in admins] == ["boss@example.com"] and admins[0]["groups"][0]["name"] == "Administrators"
    assert client.get(f"{API}/users?status=gone", headers=boss).status_code == 422
    elsewhere = Group.create(organization=Organization.create(name="Other"), name="Theirs")
    assert client.get(f"{API}/users?group={elsewhere.id}", headers=boss).get_json()["items"] == []


def test_one_person_and_other_organizations_are_404(client, org, admin, boss):
    other = make_user(Organization.create(name="Other"), "x@example.org")
    mine = client.get(f"{API}/users/{admin.id}", headers=boss)
    assert mine.status_code == 200 and mine.get_json()["role"] == "owner"
    for method, url in [("GET", f"/users/{other.id}"), ("PATCH", f"/users/{other.id}"), ("DELETE", f"/users/{other.id}"),
                        ("POST", f"/users/{other.id}/disable")]:
        assert client.open(API + url, method=method, headers=boss, json={}).status_code == 404, url
    assert User.get_by_id(other.id).status == "enabled"


def test_permissions_scopes_and_service_keys_are_refused(client, org, user):
    plain = key_for(user)
    answer = client.get(f"{API}/users", headers=plain)
    assert answer.status_code == 403 and answer.get_json()["code"] == "forbidden"
    russian = client.get(f"{API}/users", headers={**plain, "Accept-Language": "ru"}).get_json()["message"]
    assert russian == "У владельца ключа нет права «Смотреть пользователей»."
    grant(user, "users.view")
    assert client.get(f"{API}/users", headers=plain).status_code == 200
    assert client.post(f"{API}/users", headers=plain, json={"full_name": "X", "email": "x@example.com"}).status_code == 403
    assert client.get(f"{API}/groups", headers=plain).status_code == 403
    assert client.get(f"{API}/users", headers=key_for(user, ["write"])).get_json()["code"] == "insufficient_scope"
    service = {"Authorization": f"Bearer {service_keys.create_key(org.id, user, 's', ['read', 'write'])[0]}"}
    assert client.get(f"{API}/users", headers=service).get_json()["code"] == "person_required"


def test_create_mails_the_invitation_and_is_audited(client, org, admin, boss, smtp):
    tag = Group.create(organization=org, name="Sales")
    answer = client.post(f"{API}/users", headers=boss, json={"full_name": "Boris Ivanov", "email": "Boris@Example.com",
                                                               "phone": "+7 912 345-67-89", "groups": [tag.id]})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["email"] == "boris@example.com" and body["phone"] == "+79123456789" and body["invitation_sent"]
    assert body["groups"] == [{"id": tag.id, "name": "Sales"}] and body["invitation_pending"]
    message = smtp.wait_for(1)[0]
    assert message.rcpt_tos == ["boris@example.com"]
    assert "/reset-password/" in message.message.get_body(("plain",)).get_content()
    assert [(target, details["via"]) for target, details in audited("user.created")] == [("boris@example.com", "api")]
    again = client.post(f"{API}/users", headers=boss, json={"full_name": "B", "email": "boris@example.com"})
    assert again.status_code == 422 and "email" in again.get_json()["fields"]
    bad = client.post(f"{API}/users", headers=boss, json={"full_name": "", "email": "nope", "groups": [10**18]})
    assert bad.status_code == 422 and set(bad.get_json()["fields"]) == {"full_name", "email", "groups"}
    assert client.post(f"{API}/users", headers=boss, data="[1]", content_type="application/json").status_code == 400
    assert client.post(f"{API}/users", headers=boss, json={"groups": "1"}).get_json()["fields"] == {"groups": ["Send a list of ids."]}
    russian = client.post(f"{API}/users", headers={**boss, "Accept-Language": "ru"}, json={"groups": "1"})
    assert russian.get_json()["fields"] == {"groups": ["Передайте список идентификаторов."]}


def test_create_into_a_group_granting_what_you_lack_is_403(client, org, clerk):
    billing = grant(make_user(org, "b@example.com"), "billing.edit")
    for group in (billing, administrators_group(org)):
        answer = client.post(f"{API}/users", headers=key_for(clerk), json={"full_name": "N", "email": "n@example.com",
                                                                           "groups": [group.id]})
        assert answer.status_code == 403, group.name
    assert not User.select().where(User.email == "n@example.com").exists()


def test_patch_changes_what_the_page_changes_with_its_rules(client, org, admin, clerk):
    worker = make_user(org, "w@example.com", full_name="Walter")
    group = grant(make_user(org, "v@example.com"), "users.view")
    headers = key_for(clerk)
    answer = client.patch(f"{API}/users/{worker.id}", headers=headers, json={
        "full_name": "Walter White", "groups": [group.id], "mask_data": True, "subscriptions": ["user.created"],
        "countries": ["RU"], "telegram_chat_id": "@news"})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["full_name"], body["mask_data"], body["countries"], body["telegram_chat_id"]) == ("Walter White", True, ["RU"], "@news")
    assert [g["id"] for g in body["groups"]] == [group.id]
    assert sorted(d["fields"] for _t, d in audited("user.updated")) == [
        ["countries", "event_subscriptions", "groups", "mask_data", "telegram_chat_id"], ["full_name"]]
    assert all(d["via"] == "api" for _t, d in audited("user.updated"))
    for body, field in [({"phone": "12"}, "phone"), ({"role": "owner"}, "role"), ({"full_name": " "}, "full_name"),
                        ({"countries": ["XX"]}, "countries"), ({"mask_data": "yes"}, "mask_data")]:
        answer = client.patch(f"{API}/users/{worker.id}", headers=headers, json=body)
        assert answer.status_code == 422 and field in answer.get_json()["fields"], body
    for body in ({"status": "enabled"}, {"ip_allowlist": ""}, {"email": "new@example.com"}):
        assert client.patch(f"{API}/users/{worker.id}", headers=headers, json=body).get_json()["code"] == "unknown_field"
    role = client.patch(f"{API}/users/{worker.id}", headers=headers, json={"role": "admin"})
    assert role.status_code == 409, "only the owner changes roles"
    above = client.patch(f"{API}/users/{admin.id}", headers=headers, json={"full_name": "Ha"})
    assert above.status_code == 403 and above.get_json()["code"] == "above_you"
    admins = client.patch(f"{API}/users/{worker.id}", headers=headers, json={"groups": [administrators_group(org).id]})
    assert admins.status_code == 403
    assert User.get_by_id(admin.id).full_name == "Boss Admin" and User.get_by_id(worker.id).role == "employee"


def test_the_last_administrator_stays(client, org, admin, boss):
    other = make_user(org, "a2@example.com")
    add_to_group(other, administrators_group(org))
    headers = key_for(other)
    answer = client.patch(f"{API}/users/{other.id}", headers=headers, json={"groups": []})
    assert answer.status_code == 200, "two administrators: one may leave"
    add_to_group(other, administrators_group(org))
    User.update(status="disabled").where(User.id == admin.id).execute()
    answer = client.patch(f"{API}/users/{other.id}", headers=headers, json={"groups": []})
    assert answer.status_code == 409 and "last administrator" in answer.get_json()["message"]
    answer = client.delete(f"{API}/groups/{administrators_group(org).id}/members/{other.id}", headers=headers)
    assert answer.status_code == 409
    assert client.delete(f"{API}/users/{other.id}", headers=headers).status_code == 409


def test_disable_ends_sessions_and_refuses_like_the_page(client, org, admin, boss, clerk):
    worker = make_user(org, "w@example.com")
    UserSession.create(user=worker, token_hash="h" * 64)
    answer = client.post(f"{API}/users/{worker.id}/disable", headers=key_for(clerk))
    assert answer.status_code == 200 and answer.get_json()["status"] == "disabled"
    assert UserSession.get().ended_at is not None
    assert [t for t, _d in audited("user.disabled")] == ["w@example.com"]
    again = client.post(f"{API}/users/{worker.id}/disable", headers=key_for(clerk))
    assert again.status_code == 200 and len(audited("user.disabled")) == 1, "already disabled: nothing changes"
    assert client.post(f"{API}/users/{admin.id}/disable", headers=key_for(clerk)).status_code == 403, "the owner"
    assert client.post(f"{API}/users/{clerk.id}/disable", headers=key_for(clerk)).status_code == 409, "oneself"
    assert client.post(f"{API}/users/{admin.id}/disable", headers=boss).status_code == 409
    assert User.get_by_id(admin.id).status == "enabled"


def test_delete_erases_and_refuses_like_the_page(client, org, admin, boss, clerk):
    worker = make_user(org, "w@example.com")
    answer = client.delete(f"{API}/users/{worker.id}", headers=key_for(clerk))
    assert answer.status_code == 200 and answer.get_json() == {"id": worker.id, "deleted": True}
    assert not User.select().where(User.email == "w@example.com").exists()
    assert [t for t, _d in audited("user.deleted")] == [f"deleted-user-{worker.id}"]
    assert client.delete(f"{API}/users/{admin.id}", headers=key_for(clerk)).status_code == 403
    assert client.delete(f"{API}/users/{admin.id}", headers=boss).status_code == 409, "oneself, the only owner"


def test_groups_create_rename_permissions_members_delete(client, org, admin, clerk):
    headers = key_for(clerk)
    made = client.post(f"{API}/groups", headers=headers, json={"name": "Support"})
    assert made.status_code == 201 and made.get_json()["permissions"] == []
    group_id = made.get_json()["id"]
    assert client.post(f"{API}/groups", headers=headers, json={"name": "Support"}).status_code == 422
    assert client.post(f"{API}/groups", headers=headers, json={"name": "Administrators"}).status_code == 422
    changed = client.patch(f"{API}/groups/{group_id}", headers=headers, json={"name": "Help", "permissions": ["users.view"]})
    assert changed.status_code == 200 and changed.get_json()["name"] == "Help"
    assert changed.get_json()["permissions"] == ["users.view"]
    lacking = client.patch(f"{API}/groups/{group_id}", headers=headers, json={"permissions": ["billing.edit"]})
    assert lacking.status_code == 403 and "billing.edit" in lacking.get_json()["message"]
    assert client.patch(f"{API}/groups/{group_id}", headers=headers, json={"permissions": ["nope"]}).status_code == 422
    worker = make_user(org, "w@example.com")
    added = client.post(f"{API}/groups/{group_id}/members", headers=headers, json={"user_id": worker.id})
    assert added.status_code == 200 and [m["id"] for m in added.get_json()["members"]] == [worker.id]
    assert client.post(f"{API}/groups/{group_id}/members", headers=headers, json={"user_id": worker.id}).status_code == 200
    assert client.post(f"{API}/groups/{group_id}/members", headers=headers, json={"user_id": admin.id}).status_code == 403
    assert client.post(f"{API}/groups/{group_id}/members", headers=headers, json={"user_id": 10**15}).status_code == 422
    removed = client.delete(f"{API}/groups/{group_id}/members/{worker.id}", headers=headers)
    assert removed.status_code == 200 and removed.get_json()["members"] == []
    assert client.delete(f"{API}/groups/{group_id}", headers=headers).get_json() == {"id": group_id, "deleted": True}
    assert not Group.select().where(Group.id == group_id).exists()
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions == ["group.created", "group.changed", "group.renamed", "group.member_added", "group.member_removed",
                       "group.deleted"]
    assert all(json.loads(e.details)["via"] == "api" for e in AuditEvent.select())


def test_groups_refuse_escalation_like_the_page(client, org, admin, clerk):
    headers = key_for(clerk)
    own = Group.get(Group.name == "users.view+users.edit+groups.manage")
    mine = client.patch(f"{API}/groups/{own.id}", headers=headers, json={"permissions": []})
    assert mine.status_code == 403, "a group one is in"
    assert client.delete(f"{API}/groups/{own.id}", headers=headers).status_code == 403
    admins = administrators_group(org)
    assert client.patch(f"{API}/groups/{admins.id}", headers=headers, json={"name": "Kings"}).status_code == 403
    assert client.post(f"{API}/groups/{admins.id}/members", headers=headers, json={"user_id": clerk.id}).status_code == 403
    shared = Group.create(organization=org, name="Shared")
    GroupPermission.create(group=shared, permission="users.view")
    GroupMember.create(group=shared, user=admin)
    above = client.patch(f"{API}/groups/{shared.id}", headers=headers, json={"permissions": []})
    assert above.status_code == 403 and "boss@example.com" in above.get_json()["message"], "member_above"
    assert GroupPermission.select().where(GroupPermission.group == shared).count() == 1
    elsewhere = Group.create(organization=Organization.create(name="Other"), name="Theirs")
    for method in ("GET", "PATCH", "DELETE"):
        assert client.open(f"{API}/groups/{elsewhere.id}", method=method, headers=headers, json={}).status_code == 404
    listed = client.get(f"{API}/groups", headers=headers).get_json()["items"]
    assert elsewhere.id not in [g["id"] for g in listed] and listed[0]["name"] == "Administrators"

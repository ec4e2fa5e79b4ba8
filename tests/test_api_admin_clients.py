"""The admin API for client tags, clients and the events log (issue 17): each route with the permission of
its back-office page, the page's validation and masking, keyset pages walked whole, the exports with the
page's CSV safety, other organizations' rows out of reach, and no way in for a service key."""
import csv
import io
import json
from datetime import datetime

import pytest

from models import AuditEvent, Client, ClientTag, ClientTagLink, EventComment, Organization, User, UserAllowedTag
from services import apikeys, audit, service_keys
from services.permissions import grant
from tests.conftest import make_user, sign_in

API = "/api/v1/admin"


def key_of(user, scopes=("read", "write")):
    return {"Authorization": "Bearer " + apikeys.create_key(user, "admin", list(scopes))[0]}


@pytest.fixture
def manager(org):
    """Mila, who holds the three permissions of the routes (and no other)."""
    user = make_user(org, "mila@example.com", full_name="Mila Manager")
    grant(user, "tags.manage", "clients.view", "events.view")
    return user


@pytest.fixture
def headers(manager):
    return key_of(manager)


# --- client tags ---------------------------------------------------------------------------------


def test_tags_listed_added_renamed_and_deleted_and_audited(client, org, manager, headers):
    ClientTag.create(organization=org, caption="Retail")
    ClientTag.create(organization=Organization.create(name="Other"), caption="Theirs")
    added = client.post(f"{API}/client-tags", json={"caption": "  VIP  "}, headers=headers)
    assert added.status_code == 201 and added.get_json()["caption"] == "VIP"
    tag_id = added.get_json()["id"]
    listed = client.get(f"{API}/client-tags", headers=headers).get_json()["items"]
    assert [tag["caption"] for tag in listed] == ["Retail", "VIP"], "the organization's tags by caption, no others"
    renamed = client.patch(f"{API}/client-tags/{tag_id}", json={"caption": "Gold"}, headers=headers)
    assert renamed.status_code == 200 and renamed.get_json() == {"id": tag_id, "caption": "Gold"}
    assert ClientTag.get_by_id(tag_id).caption == "Gold"
    deleted = client.delete(f"{API}/client-tags/{tag_id}", headers=headers)
    assert deleted.status_code == 200 and deleted.get_json() == {"id": tag_id, "caption": "Gold"}
    assert ClientTag.get_or_none(ClientTag.id == tag_id) is None
    trail = [(e.action, e.target, json.loads(e.details)["via"]) for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert trail == [("client_tag.created", "VIP", "api"), ("client_tag.renamed", "Gold", "api"),
                     ("client_tag.deleted", "Gold", "api")]
    assert all(e.actor_id == manager.id for e in AuditEvent.select())


def test_the_only_allowed_tag_of_someone_is_kept(client, org, headers):
    tag = ClientTag.create(organization=org, caption="VIP")
    UserAllowedTag.create(user=make_user(org, "limited@example.com"), tag=tag)
    response = client.delete(f"{API}/client-tags/{tag.id}", headers={**headers, "Accept-Language": "ru"})
    assert response.status_code == 409 and response.get_json()["code"] == "conflict"
    assert "единственный разрешённый тег у limited@example.com" in response.get_json()["message"]
    assert ClientTag.get_or_none(ClientTag.id == tag.id) is not None


def test_tag_refusals_are_the_pages(client, org, headers):
    ClientTag.create(organization=org, caption="VIP")
    other = ClientTag.create(organization=org, caption="Retail")
    russian = {**headers, "Accept-Language": "ru"}
    for body, field, message in (({"caption": "VIP"}, "caption", "A tag with this caption already exists."),
                                 ({"caption": ""}, "caption", "This field is required."),
                                 ({}, "caption", "This field is required."),
                                 ({"caption": "x" * 61}, "caption", "At most 60 characters."),
                                 ({"caption": 5}, "caption", "Send a string."),
                                 ({"caption": "A", "colour": "red"}, "colour", "This field is not known.")):
        response = client.post(f"{API}/client-tags", json=body, headers=headers)
        assert response.status_code == 422 and response.get_json()["fields"][field] == [message], body
    renamed = client.patch(f"{API}/client-tags/{other.id}", json={"caption": "VIP"}, headers=russian)
    assert renamed.status_code == 422
    assert renamed.get_json()["fields"] == {"caption": ["Тег с таким названием уже есть."]}
    assert client.patch(f"{API}/client-tags/{other.id}", json={"caption": "Retail"}, headers=headers).status_code == 200, \
        "a tag keeps its own caption"
    for bad in ("[1]", "null", "not json", '"VIP"'):
        response = client.post(f"{API}/client-tags", data=bad, content_type="application/json", headers=headers)
        assert response.status_code == 400 and response.get_json()["code"] == "bad_request", bad
    assert ClientTag.select().count() == 2


def test_two_tags_of_one_caption_added_at_once_give_one_tag_and_a_422(app, client, manager, headers, monkeypatch):
    """As on the page: the caption is checked and the tag added under the organization's lock."""
    from blueprints.admin.clients import TagForm
    from tests.races import hold_after, run_together

    hold_after(monkeypatch, TagForm, "validate_caption")
    second = app.test_client()

    def add(test_client):
        return test_client.post(f"{API}/client-tags", json={"caption": "VIP"}, headers=headers).status_code

    assert sorted(run_together(lambda: add(client), lambda: add(second))) == [201, 422]
    assert ClientTag.select().where(ClientTag.caption == "VIP").count() == 1


def test_another_organizations_tag_is_not_found(client, headers):
    theirs = ClientTag.create(organization=Organization.create(name="Other"), caption="Theirs")
    for method in ("patch", "delete"):
        response = getattr(client, method)(f"{API}/client-tags/{theirs.id}", json={"caption": "Mine"}, headers=headers)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    assert client.delete(f"{API}/client-tags/{2**63 - 1}", headers=headers).status_code == 404
    for method in ("patch", "delete"):  # no rule matches an id no column holds (not even the other method's: no 405)
        too_big = getattr(client, method)(f"{API}/client-tags/{2**63}", json={"caption": "Mine"}, headers=headers)
        assert too_big.status_code == 404 and too_big.get_json()["code"] == "not_found"
    assert ClientTag.get_by_id(theirs.id).caption == "Theirs"


# --- clients -------------------------------------------------------------------------------------


@pytest.fixture
def registry(org):
    vip, retail = ClientTag.create(organization=org, caption="VIP"), ClientTag.create(organization=org, caption="Retail")
    for number in range(23):
        country = ("RU", "DE", "KZ")[number % 3]
        made = Client.create(organization=org, name=f"Anna Smirnova {number}", email=f"anna{number}@mail.example",
                             phone="+79123456789", country=country)
        for tag in ([vip], [retail], [vip, retail], [])[number % 4]:
            ClientTagLink.create(client=made, tag=tag)
    Client.create(organization=Organization.create(name="Other"), name="Foreign Secret", country="RU")
    return vip, retail


def api_walk(client, headers, limit):
    """Every client the API gives, page after page."""
    seen, cursor, pages = [], "", 0
    while True:
        body = client.get(f"{API}/clients?limit={limit}&cursor={cursor}", headers=headers).get_json()
        seen += body["items"]
        pages += 1
        if body["next_cursor"] is None:
            return seen, pages
        cursor = body["next_cursor"]


def page_walk(client):
    """Every client /admin/clients.json (the page's list for scripts) shows the signed-in person."""
    seen, after = [], ""
    while True:
        body = client.get(f"/admin/clients.json?after={after}").get_json()
        seen += body["clients"]
        if body["next_after"] is None:
            return seen
        after = body["next_after"]


@pytest.mark.parametrize("mask", [True, False])
@pytest.mark.parametrize("rules", ["all", "tags", "countries", "except"])
def test_clients_are_what_the_page_shows_the_same_person(client, org, registry, mask, rules):
    from models import UserAdminSettings, UserAllowedTag

    vip, _retail = registry
    viewer = make_user(org, "viewer@example.com")
    grant(viewer, "clients.view")
    if rules == "tags":
        UserAllowedTag.create(user=viewer, tag=vip)
    UserAdminSettings.create(user=viewer, countries={"countries": "DE,KZ", "except": "RU"}.get(rules, ""),
                             countries_except=rules == "except", mask_data=mask)
    from_api, pages = api_walk(client, key_of(viewer, ["read"]), limit=4)
    sign_in(client, "viewer@example.com")
    assert from_api == page_walk(client), "the same clients, masked the same, in the same order"
    ids = [item["id"] for item in from_api]
    assert ids == sorted(set(ids)) and len(ids) >= 10 and pages == -(-len(ids) // 4)
    assert all("Foreign" not in item["name"] for item in from_api)
    names = " ".join(item["name"] + item["email"] for item in from_api)
    assert ("Smirnova" in names) is not mask and ("A*** S*******" in names) is mask


def test_clients_cursor_and_limit_are_checked(client, registry, headers):
    for bad in ("cursor=abc", "cursor=0", f"cursor={2**63}", "limit=0", "limit=101", "limit=x"):
        response = client.get(f"{API}/clients?{bad}", headers=headers)
        assert response.status_code == 422 and set(response.get_json()["fields"]) <= {"cursor", "limit"}, bad
    assert client.get(f"{API}/clients?cursor={2**63 - 1}", headers=headers).get_json() == {"items": [],
                                                                                           "next_cursor": None}
    assert len(client.get(f"{API}/clients", headers=headers).get_json()["items"]) == 23, "default 50 a page"


# --- the events log ------------------------------------------------------------------------------


@pytest.fixture
def log(org, manager):
    other = make_user(org, "olga@example.com")
    for number in range(30):
        audit.record("user.created" if number % 2 else "user.disabled", actor=manager if number % 3 else other,
                     target=f"p{number}@example.com", ip="203.0.113.7" if number % 5 else "198.51.100.1")
    elsewhere = Organization.create(name="Other")
    audit.record("user.created", actor=make_user(elsewhere, "x@other.example"), target="foreign@example.com")
    return other


def events_walk(client, headers, query):
    seen, cursor = [], ""
    while True:
        response = client.get(f"{API}/events?{query}&limit=7&cursor={cursor}", headers=headers)
        assert response.status_code == 200, response.get_json()
        seen += response.get_json()["items"]
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            return seen


@pytest.mark.parametrize("query", ["", "action=user.created", "actor=olga@example.com", "ip=203.0.113.7",
                                   "target=p4@example.com", "action=user.disabled&actor=mila@example.com"])
def test_events_filtered_and_walked_whole_newest_first(client, org, log, headers, query):
    seen = events_walk(client, headers, query)
    ids = [item["id"] for item in seen]
    filters = dict(part.split("=") for part in query.split("&") if part)
    expected = AuditEvent.select().where(AuditEvent.organization == org.id)
    for name, column in (("action", AuditEvent.action), ("target", AuditEvent.target), ("ip", AuditEvent.ip)):
        if name in filters:
            expected = expected.where(column == filters[name])
    if "actor" in filters:
        expected = expected.where(AuditEvent.actor == User.get(User.email == filters["actor"]).id)
    assert ids == [e.id for e in expected.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())]
    assert ids and len(ids) == len(set(ids))
    assert all(item["target"] != "foreign@example.com" for item in seen)


def test_days_are_the_owners_and_bounded(client, manager, log, headers):
    User.update(time_zone="Asia/Yekaterinburg").where(User.id == manager.id).execute()
    late = audit.record("user.created", actor=manager, target="late@example.com")
    AuditEvent.update(created_at=datetime(2026, 3, 1, 20, 0)).where(AuditEvent.id == late.id).execute()  # 01:00 on 2 March in UTC+5
    on_day = client.get(f"{API}/events?since=2026-03-02&until=2026-03-02", headers=headers).get_json()["items"]
    assert [item["target"] for item in on_day] == ["late@example.com"]
    assert on_day[0]["time"] == "2026-03-02T01:00:00+05:00"
    assert client.get(f"{API}/events?since=2026-03-01&until=2026-03-01", headers=headers).get_json()["items"] == []
    russian = {**headers, "Accept-Language": "ru"}
    for query, field in (("since=1899-12-31", "since"), ("until=3000-01-01", "until"), ("since=2026-02-30", "since"),
                         ("since=2026-03-02&until=2026-03-01", "until"), ("actor=nobody@example.com", "actor"),
                         ("actor=x@other.example", "actor"), ("action=no.such", "action"), ("ip=300.1.1.1", "ip"),
                         ("cursor=junk", "cursor"), ("cursor=2026-13-45T00:00:00_1", "cursor"), ("limit=0", "limit")):
        response = client.get(f"{API}/events?{query}", headers=russian)
        assert response.status_code == 422 and list(response.get_json()["fields"]) == [field], query
        assert all(ord(ch) < 128 for ch in query) and any("а" <= ch <= "я" for ch in str(response.get_json()["fields"]))


def test_one_event_with_its_comments_and_no_one_elses(client, org, manager, log, headers):
    event = AuditEvent.select().where(AuditEvent.organization == org.id).order_by(AuditEvent.id).first()
    EventComment.create(event=event, author=manager, text="Checked")
    body = client.get(f"{API}/events/{event.id}", headers=headers).get_json()
    assert body["id"] == event.id and body["action"] == event.action and body["target"] == event.target
    assert [(c["author"], c["text"]) for c in body["comments"]] == [("mila@example.com", "Checked")]
    foreign = AuditEvent.get(AuditEvent.target == "foreign@example.com")
    for event_id in (foreign.id, 2**63 - 1):
        assert client.get(f"{API}/events/{event_id}", headers=headers).status_code == 404


def read_csv(response):
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_export_is_the_pages_with_formulas_neutralised(client, org, manager, headers):
    from blueprints.admin.event_export import COLUMNS

    for target in ('=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", "\tx", "\ry", "plain"):
        audit.record("user.created", actor=manager, target=target, ip="203.0.113.7")
    audit.record("user.disabled", actor=manager, target="=other")
    response = client.get(f"{API}/events/export.csv?action=user.created", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store" and "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == list(COLUMNS)
    assert sorted(row[5] for row in rows[1:]) == sorted(
        ["'=HYPERLINK(\"http://evil\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\ry", "plain"])
    sign_in(client, manager.email)
    page = read_csv(client.get("/admin/events/export.csv?action=user.created"))
    assert [row[1:] for row in page] == [row[1:] for row in rows], "the page's file, the same cells"
    exported = AuditEvent.select().where(AuditEvent.action == "events.exported").order_by(AuditEvent.id).first()
    assert exported.actor_id == manager.id and json.loads(exported.details)["via"] == "api"


def test_json_export_with_filters_in_the_requested_language_and_nothing_foreign(client, manager, log, headers):
    everything = json.loads(client.get(f"{API}/events/export.json", headers=headers).get_data(as_text=True))
    assert len(everything["events"]) == 31 and "foreign@example.com" not in json.dumps(everything)  # and the export's own event
    response = client.get(f"{API}/events/export.json?ip=198.51.100.1&action=user.created",
                          headers={**headers, "Accept-Language": "ru"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["truncated"] is False and data["events"]
    assert {(e["ip"], e["action"], e["action_label"]) for e in data["events"]} == {
        ("198.51.100.1", "user.created", "Создан пользователь")}
    assert client.get(f"{API}/events/export.json?since=2026-05-01&until=2026-04-01", headers=headers).status_code == 422
    assert client.get(f"{API}/events/export.csv?actor=x@other.example", headers=headers).status_code == 422


# --- who may call ----------------------------------------------------------------------------------


ROUTES = [("get", "/client-tags", "tags.manage"), ("post", "/client-tags", "tags.manage"),
          ("get", "/clients", "clients.view"), ("get", "/events", "events.view"),
          ("get", "/events/export.csv", "events.view"), ("get", "/events/export.json", "events.view")]


def test_without_the_pages_permission_403_and_with_it_the_route_answers(client, org):
    tag = ClientTag.create(organization=org, caption="VIP")
    event = audit.record("user.created", organization=org.id, target="x")
    for permission in ("tags.manage", "clients.view", "events.view"):
        person = make_user(org, f"{permission}@example.com")
        grant(person, permission)
        headers = key_of(person)
        routes = [*ROUTES, ("patch", f"/client-tags/{tag.id}", "tags.manage"), ("get", f"/events/{event.id}", "events.view")]
        for method, path, needed in routes:
            response = getattr(client, method)(API + path, json={"caption": method}, headers=headers)
            response.get_data()  # an export streams: read it whole within its request
            if needed == permission:
                assert response.status_code in (200, 201), (permission, method, path, response.get_data(as_text=True))
            else:
                assert response.status_code == 403 and response.get_json()["code"] == "forbidden", (permission, path)
    assert client.delete(f"{API}/client-tags/{tag.id}", headers=key_of(make_user(org, "nobody@example.com"))).status_code == 403
    assert ClientTag.get_by_id(tag.id).caption == "patch"


def test_a_service_key_acts_for_no_person_and_is_refused(client, org, manager):
    key = service_keys.create_key(org.id, manager, "service", ["read", "write"])[0]
    for method, path, _permission in ROUTES:
        response = getattr(client, method)(API + path, json={"caption": "X"}, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403 and response.get_json()["code"] == "person_required", path


def test_a_read_key_cannot_change_tags(client, org, manager):
    headers = key_of(manager, ["read"])
    assert client.post(f"{API}/client-tags", json={"caption": "X"}, headers=headers).get_json()["code"] == "insufficient_scope"
    assert client.get(f"{API}/client-tags", headers=headers).status_code == 200
    assert not ClientTag.select().exists()


def test_everything_is_in_the_document_with_the_csv_as_text_csv(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/admin/client-tags/{tag_id}"]) == {"patch", "delete"}
    assert "text/csv" in paths["/admin/events/export.csv"]["get"]["responses"]["200"]["content"]
    assert {p["name"] for p in paths["/admin/events"]["get"]["parameters"]} == {
        "actor", "action", "target", "ip", "since", "until", "cursor", "limit"}

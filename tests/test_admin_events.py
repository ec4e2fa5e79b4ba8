"""The events log (issue 6): who, what, target, when in the viewer's zone, IP; filters, keyset pages,
organization scope, comments with the commenter's picture; the important actions write events."""
import re
from datetime import datetime, timedelta

import pytest

from models import AuditEvent, EventComment, Organization, User, utcnow
from services import audit
from services.permissions import grant
from tests.conftest import csrf_from, form_post, make_user, sign_in
from tests.test_profile_picture import picture_bytes, upload

HTMX = {"HX-Request": "true"}


def event_rows(html):
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_events_show_who_what_target_when_and_ip(admin_client, admin, org):
    User.update(time_zone="Asia/Yekaterinburg").where(User.id == admin.id).execute()
    worker = make_user(org, "w@example.com", full_name="Worker")
    event = audit.record("user.created", actor=admin, target=worker.email, ip="203.0.113.7")
    AuditEvent.update(created_at=datetime(2026, 3, 1, 10, 0)).where(AuditEvent.id == event.id).execute()
    html = admin_client.get("/admin/events?action=user.created").get_data(as_text=True)
    [row] = event_rows(html)
    assert "Boss Admin" in row and "User created" in row and "w@example.com" in row and "203.0.113.7" in row
    assert "3/1/26, 3:00" in row  # 10:00 UTC shown in Yekaterinburg (UTC+5)
    assert '<span class="avatar initials small' in row and ">BA</span>" in row


def test_actor_picture_is_shown_beside_their_events(admin_client, admin):
    upload(admin_client, picture_bytes())
    html = admin_client.get("/admin/events?action=profile.picture_changed").get_data(as_text=True)
    [row] = event_rows(html)
    assert re.search(rf'<img class="avatar small" src="/app/pictures/{admin.id}/small/[0-9a-f]{{16}}"', row)


def test_other_organizations_events_are_not_listed_or_opened(admin_client, admin):
    stranger = make_user(Organization.create(name="Other"), "eve@example.com")
    theirs = audit.record("user.created", actor=stranger, target="secret@other.example")
    html = admin_client.get("/admin/events").get_data(as_text=True)
    assert "secret@other.example" not in html
    assert admin_client.get(f"/admin/events/{theirs.id}").status_code == 404
    response = form_post(admin_client, f"/admin/events/{theirs.id}/comments", {"text": "hi"}, page="/admin/events")
    assert response.status_code == 404 and not EventComment.select().exists()


def test_filters(admin_client, admin, org):
    worker = make_user(org, "w@example.com", full_name="Worker")
    audit.record("user.created", actor=admin, target="w@example.com")
    audit.record("group.created", actor=admin, target="Support")
    audit.record("signin", actor=worker, target="w@example.com")
    old = audit.record("signin", actor=worker, target="w@example.com")
    AuditEvent.update(created_at=utcnow() - timedelta(days=10)).where(AuditEvent.id == old.id).execute()

    def count(query):
        response = admin_client.get(f"/admin/events?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return len(event_rows(response.get_data(as_text=True)))

    assert count("") == 5  # with the administrator's own sign-in
    assert count("actor=W@Example.com") == 2
    assert count("action=signin") == 3
    assert count("target=Support") == 1
    today = utcnow().date()
    assert count(f"since={(today - timedelta(days=1)).isoformat()}") == 4
    assert count(f"until={(today - timedelta(days=5)).isoformat()}") == 1
    assert count(f"actor=w%40example.com&action=signin&since={(today - timedelta(days=1)).isoformat()}") == 1


@pytest.mark.parametrize("query, message", [
    ("actor=nobody@example.com", "There is no user with this e-mail"),
    ("actor=not-an-email", "valid e-mail"),
    ("action=rm+-rf", "Choose an action from the list."),
    ("since=2026-13-45", "Not a valid date value."),
    ("since=2026-05-02&until=2026-05-01", "The end date is before the start date."),
    ("target=" + "x" * 300, "At most 200 characters."),
])
def test_bad_filters_get_a_message_and_422(admin_client, admin, query, message):
    response = admin_client.get(f"/admin/events?{query}")
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_bad_filters_under_htmx_show_in_the_swapped_table(admin_client, admin):
    response = admin_client.get("/admin/events?since=2026-13-45", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html and "Check the filters: Not a valid date value." in html


def test_a_cursor_that_is_not_ours_shows_the_first_page(admin_client, admin):
    audit.record("signin", actor=admin)
    for junk in ("x", "2026-01-01T00:00:00_99999999999999999999", "'; drop table audit_event; --"):
        assert len(event_rows(admin_client.get(f"/admin/events?older={junk}").get_data(as_text=True))) == 2  # with the sign-in


def test_keyset_pages_walk_every_event_once(admin_client, admin, monkeypatch):
    monkeypatch.setattr(audit, "PAGE_SIZE", 7)
    same_time = datetime(2026, 1, 1, 12, 0)
    for n in range(23):
        event = audit.record("signin", actor=admin, target=f"t{n:02d}")
        if n % 3 == 0:  # several events in the same microsecond: the id breaks the tie
            AuditEvent.update(created_at=same_time).where(AuditEvent.id == event.id).execute()
    seen, url = [], "/admin/events?action=signin"
    while url:
        html = admin_client.get(url).get_data(as_text=True)
        seen += re.findall(r"target=(t\d\d)", html.split("<tbody>", 1)[1].split("</tbody>")[0])
        match = re.search(r'href="([^"]*older=[^"]*)"[^>]*rel="next"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert len(seen) == 23 and len(set(seen)) == 23
    assert seen.index("t01") < seen.index("t00")  # newest first; t00 was moved back in time
    # and back again from the last page through "Newer"
    match = re.search(r'href="([^"]*newer=[^"]*)"[^>]*rel="prev"', html)
    back = admin_client.get(match.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(event_rows(back)) == 7 and "target=t09" in back and "target=t06" not in back


def test_pages_are_read_by_keyset_not_offset(admin_client, admin, caplog):
    """No OFFSET and no count(*): a page costs the same wherever it is (DESIGN.md performance budgets)."""
    import logging

    for _n in range(3):
        audit.record("signin", actor=admin)
    cursor = audit.encode_cursor(AuditEvent.select().order_by(AuditEvent.id.desc()).first())
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        admin_client.get(f"/admin/events?older={cursor}&action=signin")
    sql = [r.getMessage() for r in caplog.records if "audit_event" in r.getMessage()]
    assert sql and not [s for s in sql if "OFFSET" in s.upper() or "COUNT(*)" in s.upper()]
    assert any("LIMIT" in s for s in sql)


def test_comment_with_the_commenters_picture_and_time(admin_client, admin):
    upload(admin_client, picture_bytes())
    event = audit.record("user.created", actor=admin, target="w@example.com")
    page = f"/admin/events/{event.id}"
    response = form_post(admin_client, f"{page}/comments", {"text": "Checked with HR <b>ok</b>"}, page=page)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{page}#comments")
    html = admin_client.get(page).get_data(as_text=True)
    comments = html.split('id="comments"', 1)[1]
    assert "Checked with HR &lt;b&gt;ok&lt;/b&gt;" in comments and "Comment added." in html
    assert re.search(rf'<img class="avatar small" src="/app/pictures/{admin.id}/small/', comments)
    assert EventComment.get().author_id == admin.id
    listing = admin_client.get("/admin/events").get_data(as_text=True)
    assert f'href="/admin/events/{event.id}#comments">1</a>' in listing


def test_comment_with_htmx_swaps_the_comments(admin_client, admin):
    event = audit.record("signin", actor=admin)
    page = f"/admin/events/{event.id}"
    token = csrf_from(admin_client.get(page).get_data(as_text=True))
    response = admin_client.post(f"{page}/comments", data={"text": "seen"}, headers={**HTMX, "X-CSRFToken": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "seen" in html and "Comment added." in html
    bad = admin_client.post(f"{page}/comments", data={"text": " "}, headers={**HTMX, "X-CSRFToken": token})
    assert bad.status_code == 422 and "Write a comment." in bad.get_data(as_text=True)
    long = admin_client.post(f"{page}/comments", data={"text": "x" * 2001}, headers={**HTMX, "X-CSRFToken": token})
    assert long.status_code == 422 and EventComment.select().count() == 1


def test_reading_needs_events_view_and_commenting_events_comment(client, admin, org):
    reader = make_user(org, "r@example.com")
    grant(reader, "events.view")
    event = audit.record("signin", actor=admin)
    sign_in(client, "r@example.com")
    page = client.get(f"/admin/events/{event.id}").get_data(as_text=True)
    assert "Add comment" not in page
    response = form_post(client, f"/admin/events/{event.id}/comments", {"text": "hi"}, page=f"/admin/events/{event.id}")
    assert response.status_code == 403 and not EventComment.select().exists()


def test_a_deleted_commenter_and_actor_leave_the_event_readable(admin_client, admin, org):
    gone = make_user(org, "gone@example.com")
    event = audit.record("signin", actor=gone)
    audit.add_comment(event, gone, "bye")
    User.delete().where(User.id == gone.id).execute()
    html = admin_client.get(f"/admin/events/{event.id}").get_data(as_text=True)
    assert "Deleted user" in html and "bye" in html


# --- the important actions write events --------------------------------------------------------


def actions():
    return [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]


def test_admin_actions_are_recorded_with_actor_and_ip(admin_client, admin, org):
    form_post(admin_client, "/admin/client-tags", {"caption": "VIP"})
    form_post(admin_client, "/admin/groups", {"name": "Support"})
    from models import Group

    group = Group.get(Group.name == "Support")
    form_post(admin_client, f"/admin/groups/{group.id}/permissions", {"permissions": ["events.view"]},
              page=f"/admin/groups/{group.id}")
    form_post(admin_client, "/admin/users/new", {"full_name": "New", "email": "new@example.com"})
    new = User.get(User.email == "new@example.com")
    form_post(admin_client, f"/admin/users/{new.id}", {"status": "disabled", "groups": [str(group.id)]},
              page=f"/admin/users/{new.id}")
    recorded = actions()
    for action in ("signin", "client_tag.created", "group.created", "group.changed", "user.created", "user.updated",
                   "user.disabled"):
        assert action in recorded, (action, recorded)
    assert all(e.ip == "127.0.0.1" and e.organization_id == org.id for e in AuditEvent.select())
    updated = AuditEvent.get(AuditEvent.action == "user.updated")
    assert "groups" in updated.details and "status" in updated.details


def test_every_recorded_action_has_a_label():
    """Each action the code records is named in audit.ACTIONS (so the filter offers it, translated)."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    recorded = set()
    for path in list((root / "blueprints").rglob("*.py")) + list((root / "services").rglob("*.py")):
        recorded |= set(re.findall(r'record\(\s*"([a-z0-9_.]+)"', path.read_text()))
        recorded |= set(re.findall(r'action = "([a-z0-9_.]+)"', path.read_text()))
    missing = recorded - set(audit.ACTIONS)
    assert not missing, f"name these actions in services.audit.ACTIONS: {sorted(missing)}"


def test_an_action_under_sign_in_as_names_both_people(admin_client, admin, org):
    worker = make_user(org, "w@example.com", full_name="Worker Bee")
    event = audit.record("profile.changed", actor=worker, target=worker.email, impersonator=admin)
    html = admin_client.get("/admin/events?action=profile.changed").get_data(as_text=True)
    [row] = event_rows(html)
    assert "Worker Bee" in row and "signed in as them by Boss Admin" in row
    page = admin_client.get(f"/admin/events/{event.id}").get_data(as_text=True)
    assert "Signed in as them" in page and "boss@example.com" in page

"""The events log: export of what the filters show (CSV and JSON, streamed, bounded, in the viewer's
time zone and language, formulas neutralised, no-store), the filter by address, and the retention
setting with the scheduler job that deletes older events."""
import csv
import io
import json
from datetime import datetime, timedelta

from blueprints.admin import event_export
from models import AuditEvent, EventComment, Organization, User, UserSession, utcnow
from services import audit
from services.permissions import grant
from services.scheduler import purge_old_events
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in


def read_csv(response):
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_has_what_the_filters_show_in_the_viewers_zone_with_formulas_neutralised(admin_client, admin, org):
    User.update(time_zone="Asia/Yekaterinburg").where(User.id == admin.id).execute()
    hostile = audit.record("user.created", actor=admin, target="=HYPERLINK(\"http://evil\")", ip="203.0.113.7")
    for target in ("+1", "-2", "@SUM(A1)", "\tx", "\ry", "plain"):
        audit.record("user.created", actor=admin, target=target, ip="198.51.100.1")
    audit.record("user.disabled", actor=admin, target="other", ip="203.0.113.7")
    AuditEvent.update(created_at=datetime(2026, 3, 1, 10, 0)).where(AuditEvent.id == hostile.id).execute()
    response = admin_client.get("/admin/events/export.csv?action=user.created")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="events-')
    rows = read_csv(response)
    assert rows[0] == list(event_export.COLUMNS)
    targets = [row[5] for row in rows[1:]]
    assert sorted(targets) == sorted(["'=HYPERLINK(\"http://evil\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\ry", "plain"])
    [old] = [row for row in rows[1:] if row[5].startswith("'=")]
    assert old[0] == "2026-03-01T15:00:00+05:00" and old[1] == "boss@example.com" and old[4] == "User created"
    assert AuditEvent.select().where(AuditEvent.action == "events.exported").count() == 1


def test_json_in_russian_with_the_address_filter(admin_client, admin):
    User.update(language="ru").where(User.id == admin.id).execute()
    audit.record("user.created", actor=admin, target="w@example.com", ip="203.0.113.7")
    audit.record("user.created", actor=admin, target="x@example.com", ip="198.51.100.1")
    response = admin_client.get("/admin/events/export.json?ip=203.0.113.7")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert [e["target"] for e in data["events"]] == ["w@example.com"]
    assert data["events"][0]["action_label"] == "Создан пользователь" and data["truncated"] is False
    page = admin_client.get("/admin/events?ip=203.0.113.7").get_data(as_text=True)
    assert "w@example.com" in page and "x@example.com" not in page
    assert "/admin/events/export.csv?ip=203.0.113.7" in page


def test_bad_filters_answer_422_at_the_field(admin_client, admin):
    for query, message in (("ip=not-an-ip", "Enter one IP address"), ("since=2026-13-01", ""),
                           ("actor=nobody@example.com", "There is no user")):
        response = admin_client.get(f"/admin/events/export.csv?{query}")
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert admin_client.get("/admin/events?ip=" + "9" * 60).status_code == 422


def test_the_export_is_bounded_and_says_so(admin_client, admin, monkeypatch):
    monkeypatch.setattr(event_export, "EXPORT_MAX", 5)
    monkeypatch.setattr(event_export, "CHUNK", 2)
    for i in range(8):
        audit.record("user.created", actor=admin, target=f"p{i}@example.com")
    rows = read_csv(admin_client.get("/admin/events/export.csv?action=user.created"))
    assert [row[5] for row in rows[1:6]] == [f"p{i}@example.com" for i in range(7, 2, -1)]
    assert "More than 5 events" in rows[6][0] and len(rows) == 7
    data = json.loads(admin_client.get("/admin/events/export.json?action=user.created").get_data(as_text=True))
    assert len(data["events"]) == 5 and data["truncated"] is True


def test_only_events_view_and_only_ones_own_organization(client, org, admin):
    other = Organization.create(name="Other")
    stranger = make_user(other, "x@other.com")
    audit.record("user.created", actor=stranger, target="secret@other.com")
    viewer = make_user(org, "v@example.com")
    grant(viewer, "users.view")
    sign_in(client, "v@example.com")
    assert client.get("/admin/events/export.csv").status_code == 403
    grant(viewer, "events.view")
    text = client.get("/admin/events/export.csv").get_data(as_text=True)
    assert "secret@other.com" not in text


def test_retention_setting_and_the_job(admin_client, admin, org):
    old = audit.record("user.created", actor=admin, target="old@example.com")
    EventComment.create(event=old, author=admin, text="note")
    recent = audit.record("user.created", actor=admin, target="new@example.com")
    AuditEvent.update(created_at=utcnow() - timedelta(days=40)).where(AuditEvent.id == old.id).execute()
    other = Organization.create(name="Other")
    kept = audit.record("user.created", organization=other.id, target="theirs@example.com")
    AuditEvent.update(created_at=utcnow() - timedelta(days=400)).where(AuditEvent.id == kept.id).execute()
    page = admin_client.get("/admin/events").get_data(as_text=True)
    assert 'id="retention"' in page
    for bad in ("abc", "3", "99999", "-5"):
        response = form_post(admin_client, "/admin/events/retention", {"days": bad}, page="/admin/events")
        assert response.status_code == 422 and "Enter a number of days from 7 to 3650" in response.get_data(as_text=True)
    UserSession.update(reauth_at=utcnow() - timedelta(hours=2)).execute()
    response = form_post(admin_client, "/admin/events/retention", {"days": "30"}, page="/admin/events")
    assert response.status_code == 303 and "/reauth" in response.headers["Location"]
    assert Organization.get_by_id(org.id).events_retention_days is None
    UserSession.update(reauth_at=utcnow()).execute()
    response = form_post(admin_client, "/admin/events/retention", {"days": "30"}, page="/admin/events")
    assert response.status_code == 303 and Organization.get_by_id(org.id).events_retention_days == 30
    purge_old_events()
    assert AuditEvent.get_or_none(AuditEvent.id == old.id) is None
    assert AuditEvent.get_or_none(AuditEvent.id == recent.id) is not None
    assert AuditEvent.get_or_none(AuditEvent.id == kept.id) is not None  # no setting there: kept
    assert EventComment.select().count() == 0
    assert form_post(admin_client, "/admin/events/retention", {"days": ""}, page="/admin/events").status_code == 303
    assert Organization.get_by_id(org.id).events_retention_days is None


def test_retention_is_for_administrators_only(client, org, admin):
    viewer = make_user(org, "v@example.com")
    grant(viewer, "events.view")
    sign_in(client, "v@example.com")
    page = client.get("/admin/events").get_data(as_text=True)
    assert 'id="retention"' not in page
    response = client.post("/admin/events/retention", data={"csrf_token": csrf_from(page), "days": "7"})
    assert response.status_code == 403 and Organization.get_by_id(org.id).events_retention_days is None

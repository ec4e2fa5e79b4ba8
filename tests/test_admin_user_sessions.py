"""A person's open sessions on their back-office page: device, address, last activity; "End this one"
and "End all", audited, refused for someone who stands above the actor, with htmx and without."""
from models import AuditEvent, User, UserSession
from services.permissions import grant
from tests.conftest import csrf_from, make_user, sign_in

HTMX = {"HX-Request": "true"}
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def browser_of(app, email, agent, ip):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": ip})
    sign_in(client, email)
    return client


def post(client, url, user, headers=None):
    token = csrf_from(client.get(f"/admin/users/{user.id}").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token}, headers=headers or {})


def open_ids(user):
    return [s.id for s in UserSession.select().where(UserSession.user == user.id, UserSession.ended_at.is_null()).order_by(UserSession.id)]


def test_the_page_lists_devices_addresses_and_ends_one_then_all(admin_client, org, app):
    worker = make_user(org, "w@example.com", full_name="Walter")
    laptop = browser_of(app, "w@example.com", FIREFOX, "203.0.113.5")
    phone = browser_of(app, "w@example.com", IPHONE, "198.51.100.7")
    page = admin_client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
    assert "Active sessions" in page
    assert "Firefox 128 on Windows" in page or "Firefox on Windows" in page
    assert "203.0.113.5" in page and "198.51.100.7" in page and "iOS" in page
    first, second = open_ids(worker)
    response = post(admin_client, f"/admin/users/{worker.id}/sessions/{first}/end", worker)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/users/{worker.id}#user-sessions")
    assert open_ids(worker) == [second]
    assert laptop.get("/app/personal-data").status_code == 302  # signed out at once
    assert phone.get("/app/personal-data").status_code == 200
    event = AuditEvent.get(AuditEvent.action == "user.session_ended")
    assert event.target == "w@example.com" and event.actor_id != worker.id
    response = post(admin_client, f"/admin/users/{worker.id}/sessions/end-all", worker, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="user-sessions"')
    assert "Sessions ended: 1." in html and "No active sessions." in html
    assert open_ids(worker) == [] and phone.get("/app/personal-data").status_code == 302
    assert AuditEvent.select().where(AuditEvent.action == "user.sessions_ended").count() == 1


def test_someone_above_the_actor_keeps_their_sessions(client, org, admin, app):
    editor = make_user(org, "e@example.com")
    grant(editor, "users.view", "users.edit")
    sign_in(client, "e@example.com")
    browser_of(app, "boss@example.com", FIREFOX, "203.0.113.9")
    page = client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    assert "203.0.113.9" in page and "End this one" not in page and "End all" not in page
    before = open_ids(admin)
    response = post(client, f"/admin/users/{admin.id}/sessions/{before[0]}/end", admin)
    assert response.status_code == 303
    assert "stands above you" in client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    response = post(client, f"/admin/users/{admin.id}/sessions/end-all", admin, headers=HTMX)
    assert response.status_code == 403 and "stands above you" in response.get_data(as_text=True)
    assert open_ids(admin) == before
    assert not AuditEvent.select().where(AuditEvent.action.in_(["user.session_ended", "user.sessions_ended"])).exists()


def test_a_viewer_sees_the_sessions_but_cannot_end_them(client, org, app):
    viewer = make_user(org, "v@example.com")
    grant(viewer, "users.view")
    worker = make_user(org, "w@example.com")
    browser_of(app, "w@example.com", FIREFOX, "203.0.113.5")
    sign_in(client, "v@example.com")
    page = client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
    assert "203.0.113.5" in page and "End all" not in page
    assert post(client, f"/admin/users/{worker.id}/sessions/end-all", worker).status_code == 403
    assert len(open_ids(worker)) == 1


def test_bad_session_ids_and_ones_own_current_session(admin_client, org, admin, app):
    worker = make_user(org, "w@example.com")
    other = make_user(org, "o@example.com")
    browser_of(app, "o@example.com", FIREFOX, "203.0.113.5")
    foreign = open_ids(other)[0]
    for session_id in (foreign, 999999):
        response = post(admin_client, f"/admin/users/{worker.id}/sessions/{session_id}/end", worker, headers=HTMX)
        assert response.status_code == 404 and "already ended" in response.get_data(as_text=True)
    # An id no column can hold matches no route at all (blueprints/bounds.py): the app's 404.
    assert post(admin_client, f"/admin/users/{worker.id}/sessions/{2**64}/end", worker, headers=HTMX).status_code == 404
    assert open_ids(other) == [foreign]
    own_current = open_ids(admin)[-1]
    response = post(admin_client, f"/admin/users/{admin.id}/sessions/{own_current}/end", admin, headers=HTMX)
    assert response.status_code == 409
    response = post(admin_client, f"/admin/users/{admin.id}/sessions/end-all", admin)
    assert response.status_code == 303 and open_ids(admin) == [own_current]  # all but the one in use
    assert admin_client.get(f"/admin/users/{admin.id}").status_code == 200


def test_in_russian(admin_client, org, admin, app):
    User.update(language="ru").execute()
    worker = make_user(org, "w@example.com")
    browser_of(app, "w@example.com", FIREFOX, "203.0.113.5")
    page = admin_client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
    assert "Активные сеансы" in page and "Завершить все" in page

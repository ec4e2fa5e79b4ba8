"""Active sessions and sign-in history (SECURITY.md 14, 19)."""
import re

from models import AuditEvent, UserSession
from services.useragent import describe
from tests.conftest import csrf_from, form_post, make_user, sign_in
from tests.security_helpers import HTMX

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
)


def test_device_names_come_from_the_user_agent():
    assert describe(FIREFOX_WINDOWS) == ("Firefox 128", "Windows")
    assert describe(SAFARI_IPHONE) == ("Safari 17", "iOS")
    assert describe(CHROME_ANDROID) == ("Chrome 126", "Android")
    assert describe(EDGE) == ("Edge 126", "Windows")
    assert describe("") == ("", "")
    assert describe("x" * 10000) == ("", "")


def browser(app, user_agent, ip="127.0.0.1"):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": ip})
    return client


def test_sessions_list_shows_each_device_and_ends_one(app, user):
    laptop = browser(app, FIREFOX_WINDOWS, "203.0.113.7")
    phone = browser(app, SAFARI_IPHONE, "198.51.100.2")
    sign_in(laptop)
    sign_in(phone)
    html = laptop.get("/app/security/sessions").get_data(as_text=True)
    assert "Firefox 128 on Windows" in html and "Safari 17 on iOS" in html
    assert "203.0.113.7" in html and "198.51.100.2" in html and "(this session)" in html
    phone_session = UserSession.get(UserSession.ip == "198.51.100.2")
    response = form_post(laptop, f"/app/security/sessions/{phone_session.id}/end", {}, page="/app/security/sessions")
    assert response.status_code == 303
    assert phone.get("/app/personal-data").status_code == 302, "the phone is signed out at once"
    assert laptop.get("/app/personal-data").status_code == 200
    assert "Safari 17 on iOS" not in laptop.get("/app/security/sessions").get_data(as_text=True)


def test_sign_out_all_other_sessions_by_htmx(app, user):
    me, other1, other2 = (browser(app, ua) for ua in (EDGE, SAFARI_IPHONE, CHROME_ANDROID))
    for client in (me, other1, other2):
        sign_in(client)
    token = csrf_from(me.get("/app/security/sessions").get_data(as_text=True))
    response = me.post("/app/security/sessions/end-others", headers={**HTMX, "X-CSRFToken": token})
    assert response.headers["HX-Redirect"].endswith("/app/security/sessions")
    assert other1.get("/app/personal-data").status_code == 302
    assert other2.get("/app/personal-data").status_code == 302
    assert me.get("/app/personal-data").status_code == 200
    assert AuditEvent.select().where(AuditEvent.action == "session.ended_others").count() == 1


def test_someone_elses_session_gives_404(app, org, user, signed_in):
    boris = make_user(org, email="boris@example.com")
    other = app.test_client()
    sign_in(other, "boris@example.com")
    theirs = UserSession.get(UserSession.user == boris)
    response = form_post(signed_in, f"/app/security/sessions/{theirs.id}/end", {}, page="/app/security/sessions")
    assert response.status_code == 404
    assert other.get("/app/personal-data").status_code == 200
    bad = form_post(signed_in, "/app/security/sessions/99999999999999999999/end", {}, page="/app/security/sessions")
    assert bad.status_code == 404


def test_sign_in_history_lists_successes_and_failures_and_pages_by_keyset(app, user):
    client = browser(app, FIREFOX_WINDOWS, "203.0.113.9")
    wrong = form_post(client, "/login", {"email": "anna@example.com", "password": "not my password at all"})
    assert wrong.status_code == 422
    sign_in(client)
    html = client.get("/app/security/history").get_data(as_text=True)
    assert "Failed" in html and "Signed in" in html and "203.0.113.9" in html and "Firefox 128 on Windows" in html
    for _ in range(30):
        AuditEvent.create(actor=user, organization=user.organization_id, action="signin.failed", ip="192.0.2.1")
    first = client.get("/app/security/history").get_data(as_text=True)
    assert first.count("<tr>") == 21  # the header row and 20 events
    older = re.search(r'href="(/app/security/history\?before=\d+)"', first).group(1)
    second = client.get(older, headers=HTMX).get_data(as_text=True)
    assert "<html" not in second and second.count("<tr>") == 12  # 30 + 1 failure + 1 success - 20
    assert 'id="history-more"' not in second
    assert client.get("/app/security/history?before=abc").status_code == 200


def test_a_remembered_session_cookie_still_expires_and_a_forged_one_is_refused(app, signed_in, monkeypatch):
    """The signed cookie's verified content is kept per process (overrides.CookieSessions); that
    must not stretch its lifetime nor let a changed cookie through."""
    import time

    import overrides

    assert signed_in.get("/app/personal-data").status_code == 200  # the cookie is now remembered
    cookie = signed_in.get_cookie(app.config["SESSION_COOKIE_NAME"])
    forged = cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB")
    other = app.test_client()
    other.set_cookie(cookie.key, forged)
    assert other.get("/app/personal-data").status_code == 302, "a cookie with a bad signature is no session"

    later = time.time() + app.permanent_session_lifetime.total_seconds() + 5
    monkeypatch.setattr(overrides.time, "time", lambda: later)
    response = signed_in.get("/app/personal-data")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_remembered_session_content_is_never_shared_between_requests(app):
    """A request that changes its session in place (a flash appends to a list) must not change what the
    next request with the same cookie gets."""
    from overrides import CookieSessions

    interface = CookieSessions()
    with app.test_request_context("/"):
        session = interface.session_class({"_flashes": [("info", "first")], "sid": "x"})
        value = interface.get_signing_serializer(app).dumps(dict(session))
    cookie = {"HTTP_COOKIE": f"{interface.get_cookie_name(app)}={value}"}
    with app.test_request_context("/", environ_base=cookie) as ctx:
        first = interface.open_session(app, ctx.request)
        first["_flashes"].append(("info", "second"))
    with app.test_request_context("/", environ_base=cookie) as ctx:
        assert interface.open_session(app, ctx.request)["_flashes"] == [("info", "first")]

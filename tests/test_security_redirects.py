"""Redirect targets (SECURITY.md 28): whatever a browser could read as another host never leaves the
server, in a Location header (JavaScript off) or an HX-Redirect header (htmx) alike, on every flow that
takes a `next`: sign-in, code sign-in, the language switch and re-authentication."""
from datetime import timedelta
from urllib.parse import quote, urljoin, urlsplit

import pytest

from blueprints import local_path
from models import User, UserSession, utcnow
from tests.conftest import PASSWORD, csrf_from, make_user
from tests.security_helpers import HTMX, last_code

# Each of these is read by some browser (or by the server after decoding) as the host evil.example.
HOSTILE_TARGETS = [
    "/\\evil.example/phish",
    "/%5Cevil.example/phish",
    "/%5cevil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "//evil.example/",
    "///evil.example/",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%252F%252Fevil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/%0A/evil.example",
    "/\r\n/evil.example",
    "/%0d%0a/evil.example",
    "/\x00/evil.example",
    " //evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "evil.example",
]
HONEST_TARGETS = ["/app/security/", "/app/personal-data?tab=1#mail-servers", "/app/search?q=100%25", "/app/a%20b"]


def browser_host(location, base="http://localhost/"):
    """The host a browser lands on for this Location or HX-Redirect value (the WHATWG URL rules, roughly:
    tabs and line breaks dropped, backslashes read as slashes)."""
    cleaned = "".join(c for c in location if c not in "\t\r\n").strip("\x00 ").replace("\\", "/")
    return urlsplit(urljoin(base, cleaned)).netloc


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_local_path_refuses_what_a_browser_reads_as_another_host(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", HONEST_TARGETS)
def test_local_path_keeps_paths_on_this_site(target):
    assert local_path(target) == target


def landing(response):
    """Where a browser goes next: HX-Redirect for htmx, else Location."""
    assert response.status_code in (204, 303, 302), response.get_data(as_text=True)[:300]
    return response.headers.get("HX-Redirect") or response.headers["Location"]


def post(client, url, data, page, htmx):
    token = csrf_from(client.get(page).get_data(as_text=True))
    headers = {**HTMX, "X-CSRFToken": token} if htmx else {}
    return client.post(url, data={"csrf_token": token, **data}, headers=headers)


def assert_stays_here(location, default):
    assert browser_host(location) == "localhost", location
    assert location == default, location


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_sign_in_never_sends_the_browser_elsewhere(app, client, user, htmx):
    for target in HOSTILE_TARGETS:
        url = f"/login?next={quote(target, safe='')}"
        location = landing(post(client, url, {"email": user.email, "password": PASSWORD}, "/login", htmx))
        assert_stays_here(location, "/app/personal-data")
        # Signed in already, the sign-in page redirects at once, with the same check.
        assert_stays_here(client.get(url).headers["Location"], "/app/personal-data")
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/app/personal-data").get_data(as_text=True))})


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_code_sign_in_never_sends_the_browser_elsewhere(app, client, org, htmx):
    user = make_user(org, two_factor="email")
    for target in HOSTILE_TARGETS[:8]:
        url = f"/login?next={quote(target, safe='')}"
        assert landing(post(client, url, {"email": user.email, "password": PASSWORD}, "/login", htmx)) == "/login/code"
        location = landing(post(client, "/login/code", {"code": last_code(app)}, "/login/code", htmx))
        assert_stays_here(location, "/app/personal-data")
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/app/personal-data").get_data(as_text=True))})


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_language_switch_never_sends_the_browser_elsewhere(client, htmx):
    for target in HOSTILE_TARGETS:
        assert_stays_here(landing(post(client, "/language", {"lang": "ru", "next": target}, "/login", htmx)), "/login")
    assert landing(post(client, "/language", {"lang": "en", "next": "/forgot-password"}, "/login", htmx)) == "/forgot-password"


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_reauth_never_sends_the_browser_elsewhere(app, signed_in, user, htmx):
    for target in HOSTILE_TARGETS:
        UserSession.update(reauth_at=utcnow() - timedelta(minutes=16)).execute()
        url = f"/app/security/reauth?next={quote(target, safe='')}"
        assert_stays_here(landing(post(signed_in, url, {"password": PASSWORD}, url, htmx)), "/app/security/")


def test_htmx_redirect_is_encoded_like_the_location_header(app, signed_in):
    """A non-ASCII path reaches the browser percent-encoded in both headers (a raw one would not fit a header)."""
    target = "/app/personal-data?q=имя"
    plain = post(signed_in, "/language", {"lang": "en", "next": target}, "/app/personal-data", False)
    htmx = post(signed_in, "/language", {"lang": "en", "next": target}, "/app/personal-data", True)
    assert plain.headers["Location"] == htmx.headers["HX-Redirect"] == "/app/personal-data?q=%D0%B8%D0%BC%D1%8F"
    assert User.select().count() == 1

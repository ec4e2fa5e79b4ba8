"""IP allowlists per person and per organization (seeds 003, 004)."""
import pytest

from models import AuditEvent, Organization, User, UserSession
from services import ipallow
from tests.conftest import csrf_from, form_post, make_user, sign_in
from tests.security_helpers import HTMX


def client_from(app, ip):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


@pytest.mark.parametrize("text, ip, expected", [
    ("", "203.0.113.5", True),
    ("203.0.113.5", "203.0.113.5", True),
    ("203.0.113.0/24", "203.0.113.77", True),
    ("203.0.113.0/24", "203.0.114.1", False),
    ("2001:db8::/32", "2001:db8:1::5", True),
    ("2001:db8::/32", "2001:db9::5", False),
    ("203.0.113.5", "::ffff:203.0.113.5", True),  # IPv4-mapped IPv6
    ("10.0.0.0/8\n2001:db8::1", "2001:db8::1", True),
    ("203.0.113.5", "not an address", False),
])
def test_allowlist_matching(text, ip, expected):
    assert ipallow.allowed(ip, text) is expected


def test_bad_lists_get_a_reason():
    assert ipallow.parse("192.0.2.0/33")[1] is not None
    assert "300.1.1.1" in str(ipallow.parse("10.0.0.1\n300.1.1.1")[1])
    too_many = "\n".join(f"10.0.{i // 250}.{i % 250}" for i in range(300))
    assert "at most 100" in str(ipallow.parse(too_many)[1])
    assert ipallow.normalized("203.0.113.9/24, 203.0.113.0/24\n2001:DB8::1") == "203.0.113.0/24\n2001:db8::1"


def test_sign_in_from_outside_the_persons_list_is_refused_and_audited(app, user):
    User.update(ip_allowlist="203.0.113.0/24").execute()
    outside = client_from(app, "198.51.100.7")
    response = form_post(outside, "/login", {"email": "anna@example.com", "password": "correct horse battery staple"})
    assert response.status_code == 403 and "is not allowed for this account" in response.get_data(as_text=True)
    assert outside.get("/app/personal-data").status_code == 302
    assert AuditEvent.get(AuditEvent.action == "signin.blocked").ip == "198.51.100.7"
    sign_in(client_from(app, "203.0.113.20"))


def test_sign_in_outside_the_organizations_list_is_refused_in_russian(app, org, user):
    Organization.update(ip_allowlist="2001:db8::/32").execute()
    outside = client_from(app, "198.51.100.7")
    outside.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    response = form_post(outside, "/login", {"email": "anna@example.com", "password": "correct horse battery staple"})
    assert response.status_code == 403 and "не разрешён" in response.get_data(as_text=True)


def test_saving_a_list_ends_sessions_from_outside_it(app, user):
    office = client_from(app, "203.0.113.10")
    cafe = client_from(app, "198.51.100.99")
    sign_in(office)
    sign_in(cafe)
    response = form_post(office, "/app/security/allowlist", {"user-entries": "203.0.113.0/24"}, page="/app/security/")
    assert response.status_code == 303
    assert User.get_by_id(user.id).ip_allowlist == "203.0.113.0/24"
    assert cafe.get("/app/personal-data").status_code == 302, "the session from outside has ended"
    assert office.get("/app/personal-data").status_code == 200
    assert AuditEvent.select().where(AuditEvent.action == "ip_allowlist.changed").count() == 1


def test_shutting_yourself_out_needs_an_explicit_confirmation(app, user):
    me = client_from(app, "198.51.100.99")
    sign_in(me)
    first = form_post(me, "/app/security/allowlist", {"user-entries": "203.0.113.0/24"}, page="/app/security/")
    html = first.get_data(as_text=True)
    assert first.status_code == 409 and "198.51.100.99" in html and 'name="user-confirm"' in html
    assert User.get_by_id(user.id).ip_allowlist == ""
    confirmed = me.post("/app/security/allowlist", data={
        "csrf_token": csrf_from(html), "user-entries": "203.0.113.0/24", "user-confirm": "y"})
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/login")
    assert User.get_by_id(user.id).ip_allowlist == "203.0.113.0/24"
    assert me.get("/app/personal-data").status_code == 302


@pytest.mark.parametrize("entries, message", [
    ("192.0.2.0/99", "is not an IP address"),
    ("hello", "is not an IP address"),
    ("\n".join(f"10.1.{i // 200}.{i % 200}" for i in range(300)), "at most 100"),
    ("1" * 10_000, "At most"),
])
def test_bad_lists_are_refused_and_nothing_is_saved(app, user, signed_in, entries, message):
    User.update(ip_allowlist="127.0.0.1").execute()
    response = form_post(signed_in, "/app/security/allowlist", {"user-entries": entries}, page="/app/security/")
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert User.get_by_id(user.id).ip_allowlist == "127.0.0.1"


def test_allowlist_by_htmx_answers_with_the_form(app, user, signed_in):
    token = csrf_from(signed_in.get("/app/security/").get_data(as_text=True))
    response = signed_in.post("/app/security/allowlist", data={"user-entries": "nope"},
                              headers={**HTMX, "X-CSRFToken": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html and 'id="user-allowlist"' in html


def test_organization_list_is_for_owners_and_admins_and_ends_members_sessions(app, org, user):
    boss = make_user(org, email="boss@example.com", role="owner")
    remote_member = client_from(app, "198.51.100.5")
    sign_in(remote_member)
    employee = client_from(app, "127.0.0.1")
    sign_in(employee)
    refused = form_post(employee, "/app/security/organization/allowlist", {"org-entries": "127.0.0.0/8"},
                        page="/app/security/")
    assert refused.status_code == 403
    admin = client_from(app, "127.0.0.1")
    sign_in(admin, "boss@example.com")
    response = form_post(admin, "/app/security/organization/allowlist", {"org-entries": "127.0.0.0/8"},
                         page="/app/security/")
    assert response.status_code == 303
    assert Organization.get_by_id(org.id).ip_allowlist == "127.0.0.0/8"
    assert remote_member.get("/app/personal-data").status_code == 302
    assert employee.get("/app/personal-data").status_code == 200
    assert UserSession.select().where(UserSession.user == boss, UserSession.ended_at.is_null()).count() == 1

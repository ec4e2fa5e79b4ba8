"""'Sign in as' (issue 6): who may impersonate whom, the banner, the closed sensitive pages, the audit
trail under both names, and every way an impersonation ends."""
import re

import pytest

from models import AuditEvent, Impersonation, Organization, User, UserSession
from services import sessions
from services.permissions import add_to_group, administrators_group, grant
from tests.conftest import csrf_from, form_post, make_user, sign_in

HTMX = {"HX-Request": "true"}


@pytest.fixture
def worker(org):
    return make_user(org, "w@example.com", full_name="Walter Worker")


def token(client):
    return csrf_from(client.get("/forgot-password").get_data(as_text=True))


def impersonate(client, user, headers=None):
    return client.post(f"/admin/users/{user.id}/impersonate", data={"csrf_token": token(client)}, headers=headers or {})


def stop(client):
    return client.post("/admin/impersonation/end", data={"csrf_token": token(client)})


def events(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def test_sign_in_as_shows_their_account_with_a_banner_on_every_page(admin_client, admin, worker):
    page = admin_client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
    assert f'action="/admin/users/{worker.id}/impersonate"' in page and "Sign in as" in page
    response = impersonate(admin_client, worker)
    assert response.status_code == 303 and response.headers["Location"].endswith("/app/personal-data")
    for url in ("/app/personal-data", "/app/account/privacy", "/app/personal-data/mail-servers/new", "/admin/users"):
        response = admin_client.get(url)
        html = response.get_data(as_text=True)
        assert "You are viewing the account of Walter Worker (w@example.com)." in html, url
        assert 'action="/admin/impersonation/end"' in html and "Return to my account (Boss Admin)" in html, url
    assert admin_client.get("/admin/users").status_code == 403  # their permissions, not the administrator's
    started = events("impersonation.started")[-1]
    assert (started.actor_id, started.target) == (admin.id, "w@example.com")


def test_the_impersonated_session_is_new_and_never_counts_as_a_password_entry(admin_client, admin, worker):
    admin_session = UserSession.get(UserSession.user == admin)
    impersonate(admin_client, worker)
    held = Impersonation.get()
    assert (held.admin_id, held.admin_session_id) == (admin.id, admin_session.id)
    assert held.session.user_id == worker.id and held.session.id != admin_session.id
    assert held.session.reauth_at.year == 2000
    assert UserSession.get_by_id(admin_session.id).ended_at is None  # the administrator's own stays open


@pytest.mark.parametrize("method,url", [
    ("GET", "/app/security/"), ("GET", "/app/security/sessions"), ("GET", "/app/security/2fa/totp"),
    ("GET", "/app/security/reauth"), ("POST", "/app/security/2fa/disable"), ("POST", "/app/security/sessions/end-others"),
    ("GET", "/app/security/history"), ("GET", "/app/security/api-keys"), ("POST", "/app/security/api-keys"),
    ("GET", "/app/personal-data/edit"), ("POST", "/app/personal-data/edit"),
    ("POST", "/app/personal-data/email"), ("POST", "/app/personal-data/phone"), ("POST", "/app/account/privacy/delete"),
])
def test_sensitive_pages_stay_closed_while_impersonating(admin_client, worker, method, url):
    before = admin_client.open(url, method=method, data={"csrf_token": token(admin_client)})
    assert before.status_code != 403 or url.endswith("privacy/delete")  # open to the administrator themself
    impersonate(admin_client, worker)
    response = admin_client.open(url, method=method, data={"csrf_token": token(admin_client),
                                                            "new_password": "x" * 20, "new_email": "evil@example.com"})
    assert response.status_code == 403, url
    assert "This page is closed while you are signed in as someone else." in response.get_data(as_text=True)
    assert User.get_by_id(worker.id).email == "w@example.com"


def test_closed_pages_answer_htmx_in_the_message_area_and_in_russian(admin_client, worker):
    impersonate(admin_client, worker)
    response = admin_client.get("/app/security/sessions", headers=HTMX)
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#messages"
    User.update(language="ru").where(User.id == worker.id).execute()
    html = admin_client.get("/app/security/").get_data(as_text=True)
    assert "закрыта" in html and "Вы просматриваете учётную запись" in html


def test_every_action_is_audited_under_both_names(admin_client, admin, worker):
    impersonate(admin_client, worker)
    response = admin_client.post("/app/personal-data/field/full_name", data={"full_name": "Walter W."},
                                 headers={**HTMX, "X-CSRFToken": token(admin_client)})
    assert response.status_code == 200 and User.get_by_id(worker.id).full_name == "Walter W."
    action = events("impersonation.action")[-1]
    assert (action.actor_id, action.impersonator_id) == (worker.id, admin.id)
    assert action.target == "/app/personal-data/field/<name>" and '"status": 200' in action.details
    admin_client.post("/app/security/2fa/disable", data={"csrf_token": token(admin_client)})  # refused, still audited
    assert '"status": 403' in events("impersonation.action")[-1].details
    # A specific event written by the action names both people too.
    form_post(admin_client, "/app/account/privacy/export", {}, page="/app/account/privacy")
    exported = events("data_export.requested")[-1]
    assert (exported.actor_id, exported.impersonator_id) == (worker.id, admin.id)
    assert not AuditEvent.select().where(AuditEvent.impersonator.is_null(False), AuditEvent.actor == admin).exists()


def test_ending_returns_to_the_admins_own_account_and_users_list(admin_client, admin, worker):
    impersonate(admin_client, worker)
    response = stop(admin_client)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/users")
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "You are viewing the account" not in html and "Boss Admin" in html
    assert Impersonation.get().session.ended_at is not None
    ended = events("impersonation.ended")[-1]
    assert (ended.actor_id, ended.impersonator_id) == (worker.id, admin.id)
    assert admin_client.get("/app/security/sessions").status_code in (200, 302)  # theirs again (maybe reauth)
    assert stop(admin_client).status_code == 303  # not impersonating: nothing to end, no error


def test_ending_by_htmx_navigates(admin_client, worker):
    response = impersonate(admin_client, worker, headers=HTMX)
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith("/app/personal-data")
    response = admin_client.post("/admin/impersonation/end", headers={**HTMX, "X-CSRFToken": token(admin_client)})
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith("/admin/users")


def test_never_as_an_administrator(admin_client, org):
    deputy = make_user(org, "d@example.com", full_name="Deputy")
    add_to_group(deputy, administrators_group(org))
    assert "/impersonate" not in admin_client.get(f"/admin/users/{deputy.id}").get_data(as_text=True)
    response = impersonate(admin_client, deputy)
    assert response.status_code == 403
    assert "cannot sign in as a member of the Administrators group" in response.get_data(as_text=True)
    assert "You are viewing the account" not in admin_client.get("/app/personal-data").get_data(as_text=True)
    assert not Impersonation.select().exists()


def test_never_across_organizations(admin_client):
    stranger = make_user(Organization.create(name="Other Ltd"), "x@other.com")
    assert impersonate(admin_client, stranger).status_code == 404
    assert not Impersonation.select().exists()


@pytest.mark.parametrize("case", ["self", "disabled", "owner", "more permissions"])
def test_other_refusals(admin_client, admin, org, client, case):
    if case == "self":
        target, status, text = admin, 409, "already signed in as yourself"
    elif case == "disabled":
        target, status, text = make_user(org, "off@example.com", status="disabled"), 409, "This user is disabled"
    elif case == "owner":
        target, status, text = make_user(org, "own@example.com", role="owner"), 403, "owner"
    else:
        # A member allowed to "Sign in as" cannot become someone who can do more than they can.
        limited = make_user(org, "lim@example.com")
        grant(limited, "users.view", "users.impersonate")
        target, status, text = make_user(org, "bill@example.com"), 403, "permissions you do not have"
        grant(target, "billing.edit")
        stop(client)
        client.post("/logout", data={"csrf_token": token(client)})
        sign_in(client, "lim@example.com")
    response = impersonate(client, target)
    assert response.status_code == status and text in response.get_data(as_text=True)
    assert not Impersonation.select().exists()


def test_needs_the_permission_and_no_chains(client, org, admin, worker):
    viewer = make_user(org, "v@example.com")
    grant(viewer, "users.view")
    sign_in(client, "v@example.com")
    assert "/impersonate" not in client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
    assert impersonate(client, worker).status_code == 403
    client.post("/logout", data={"csrf_token": token(client)})
    grant(worker, "users.view", "users.impersonate")
    sign_in(client, "boss@example.com")
    assert impersonate(client, worker).status_code == 303
    third = make_user(org, "t@example.com")
    assert "/impersonate" not in client.get(f"/admin/users/{third.id}").get_data(as_text=True)
    response = impersonate(client, third)
    assert response.status_code == 409 and "Return to your own account" in response.get_data(as_text=True)


def test_the_person_ending_the_session_sends_the_admin_home(admin_client, admin, worker):
    impersonate(admin_client, worker)
    sessions.end_sessions(worker)  # e.g. the person chose "sign out other sessions"
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "You are viewing the account" not in html and "Boss Admin" in html
    assert admin_client.get("/app/personal-data").status_code == 200


def test_the_admins_own_session_ending_ends_the_impersonation(admin_client, admin, worker):
    impersonate(admin_client, worker)
    sessions.end_sessions(admin)
    assert admin_client.get("/app/personal-data").status_code == 302
    assert Impersonation.get().session.ended_at is not None


@pytest.mark.parametrize("change", ["disabled", "permission"])
def test_the_admin_losing_the_right_ends_the_impersonation(client, org, admin, worker, change):
    helper = make_user(org, "h@example.com", full_name="Helper")
    group = grant(helper, "users.view", "users.impersonate")
    sign_in(client, "h@example.com")
    assert impersonate(client, worker).status_code == 303
    if change == "disabled":
        User.update(status="disabled").where(User.id == helper.id).execute()
        assert client.get("/app/personal-data").status_code == 302
    else:
        group.permissions.where(group.permissions.model.permission == "users.impersonate").get().delete_instance()
        html = client.get("/app/personal-data").get_data(as_text=True)
        assert "You are viewing the account" not in html and "Helper" in html
    assert Impersonation.get().session.ended_at is not None


def test_signing_out_while_impersonating_ends_both_sessions(admin_client, admin, worker):
    impersonate(admin_client, worker)
    admin_client.post("/logout", data={"csrf_token": token(admin_client)})
    assert not UserSession.select().where(UserSession.ended_at.is_null()).exists()
    assert admin_client.get("/app/personal-data").status_code == 302


def test_an_org_requiring_2fa_does_not_trap_the_admin_in_the_setup(admin_client, org, worker):
    Organization.update(require_2fa=True).where(Organization.id == org.id).execute()
    User.update(two_factor="totp").where(User.email == "boss@example.com").execute()
    impersonate(admin_client, worker)
    assert admin_client.get("/app/personal-data").status_code == 200


def test_the_impersonation_cookie_alone_proves_nothing(admin_client, worker, app):
    """A normal session with a forged-looking admin_sid stays what it is: no banner, no switch."""
    with admin_client.session_transaction() as cookie:
        cookie["admin_sid"] = "made-up"
        cookie["_admin_id"] = worker.id
    html = admin_client.get("/app/personal-data").get_data(as_text=True)
    assert "You are viewing the account" not in html and "Boss Admin" in html
    with admin_client.session_transaction() as cookie:
        assert "admin_sid" not in cookie
    assert re.search(r"Boss Admin", admin_client.get("/admin/users").get_data(as_text=True))

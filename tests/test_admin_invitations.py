"""The users list's phone, "Last sign-in" and "Invitation pending" (a column tag and a filter), and
"Resend invitation" on a person's page: a new set-password link, under the reset link's rules."""
import re
from datetime import timedelta

from models import AuditEvent, User, UserSession, utcnow
from services.permissions import grant
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in


def create(client, email, send=True):
    data = {"full_name": "Nina New", "email": email, "phone": "+7 912 345-67-89"}
    if send:
        data["send_to_email"] = "y"
    response = form_post(client, "/admin/users/new", data)
    assert response.status_code == 303
    return User.get(User.email == email.lower())


def link_in(message):
    return re.search(r"http://localhost(/reset-password/\S+)", message.get_content()).group(1)


def test_pending_until_the_password_is_set_and_last_sign_in_shown(admin_client, org, smtp, app):
    nina = create(admin_client, "nina@example.com")
    quiet = create(admin_client, "quiet@example.com", send=False)
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "+79123456789" in html and "Invitation pending" in html and "never" in html
    pending = admin_client.get("/admin/users?invite=pending").get_data(as_text=True)
    assert "nina@example.com" in pending and "quiet@example.com" not in pending and "boss@example.com" not in pending
    assert quiet.invited_at is None
    link = link_in(smtp.wait_for(1)[-1].message)
    person = app.test_client()
    new_password = "violet river quietly hums 2026"
    assert form_post(person, link, {"password": new_password, "repeat": new_password}).status_code == 303
    assert User.get_by_id(nina.id).invited_at is None
    assert "nina@example.com" not in admin_client.get("/admin/users?invite=pending").get_data(as_text=True)
    sign_in(person, "nina@example.com", new_password)
    assert User.get_by_id(nina.id).last_signin_at is not None
    page = admin_client.get(f"/admin/users/{nina.id}").get_data(as_text=True)
    assert "Last sign-in" in page and "Resend invitation" not in page


def test_resend_mails_a_new_link_audited_and_refused_when_not_pending(admin_client, org, smtp, admin):
    nina = create(admin_client, "nina@example.com")
    smtp.wait_for(1)
    page = admin_client.get(f"/admin/users/{nina.id}").get_data(as_text=True)
    assert "Resend invitation" in page and "pending since" in page
    response = form_post(admin_client, f"/admin/users/{nina.id}/invitation", {}, page=f"/admin/users/{nina.id}")
    assert response.status_code == 303
    message = smtp.wait_for(2)[-1].message
    assert message["To"] == "nina@example.com" and "/reset-password/" in message.get_content()
    assert AuditEvent.get(AuditEvent.action == "user.invitation_sent").target == "nina@example.com"
    response = form_post(admin_client, f"/admin/users/{admin.id}/invitation", {}, page=f"/admin/users/{admin.id}")
    assert response.status_code == 409 and "no pending invitation" in response.get_data(as_text=True)
    assert len(smtp.messages) == 2


def test_resend_follows_the_reset_links_rules(client, org, admin, smtp):
    editor = make_user(org, "e@example.com")
    grant(editor, "users.view", "users.edit")
    User.update(invited_at=utcnow()).where(User.id == admin.id).execute()
    sign_in(client, "e@example.com")
    response = form_post(client, f"/admin/users/{admin.id}/invitation", {}, page=f"/admin/users/{admin.id}")
    assert response.status_code == 403 and "stands above you" in response.get_data(as_text=True)
    worker = make_user(org, "w@example.com", invited_at=utcnow())
    UserSession.update(reauth_at=utcnow() - timedelta(hours=2)).execute()
    response = form_post(client, f"/admin/users/{worker.id}/invitation", {}, page=f"/admin/users/{worker.id}")
    assert response.status_code == 303 and "/reauth" in response.headers["Location"]
    assert smtp.messages == []


def test_bad_filter_values_and_russian(admin_client, org):
    make_user(org, "w@example.com", invited_at=utcnow())
    for value in ("", "x", "pending" * 50, "\x00"):
        assert admin_client.get("/admin/users", query_string={"invite": value}).status_code == 200
    User.update(language="ru").execute()
    html = admin_client.get("/admin/users?invite=pending").get_data(as_text=True)
    assert "Приглашение не принято" in html and "Последний вход" in html

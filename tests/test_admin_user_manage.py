"""An administrator changes a person's name and e-mail (the new address counts once its owner opens the
mailed link) and deletes a person (personal data erased, audit trail kept under a pseudonym), under the
hierarchy and re-authentication rules."""
import re
from datetime import timedelta

from models import AuditEvent, User, UserSession, utcnow
from services import audit
from services.permissions import add_to_group, administrators_group, grant
from tests.conftest import csrf_from, form_post, make_user, sign_in


def test_name_changes_at_once_and_email_after_its_owner_confirms(admin_client, org, smtp, app):
    worker = make_user(org, "w@example.com", full_name="Walter")
    page = admin_client.get(f"/admin/users/{worker.id}/identity").get_data(as_text=True)
    assert 'value="Walter"' in page and 'value="w@example.com"' in page
    response = form_post(admin_client, f"/admin/users/{worker.id}/identity",
                         {"full_name": "Walter White", "email": "Walt@New.example"}, page=f"/admin/users/{worker.id}/identity")
    assert response.status_code == 303
    worker = User.get_by_id(worker.id)
    assert worker.full_name == "Walter White" and worker.email == "w@example.com"  # not yet
    message = smtp.wait_for(1)[-1].message
    assert message["To"] == "walt@new.example" and "boss@example.com" in message.get_content()
    link = re.search(r"http://localhost(/app/personal-data/email/confirm/\S+)", message.get_content()).group(1)
    owner = app.test_client()
    page = owner.get(link).get_data(as_text=True)
    assert owner.post(link, data={"csrf_token": csrf_from(page)}).status_code == 303
    assert User.get_by_id(worker.id).email == "walt@new.example"
    assert AuditEvent.select().where(AuditEvent.action == "email.change_requested").count() == 1


def test_identity_bad_input_and_taken_address(admin_client, org, smtp):
    worker = make_user(org, "w@example.com", full_name="Walter")
    make_user(org, "taken@example.com")
    url = f"/admin/users/{worker.id}/identity"
    for data, message in (({"full_name": "", "email": "w@example.com"}, ""),
                          ({"full_name": "W", "email": "not an address"}, ""),
                          ({"full_name": "W", "email": "taken@example.com"}, "belongs to another account"),
                          ({"full_name": "x" * 300, "email": "w@example.com"}, "")):
        response = form_post(admin_client, url, data, page=url)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert User.get_by_id(worker.id).full_name == "Walter" and smtp.messages == []


def test_delete_names_the_person_erases_them_and_keeps_the_trail(admin_client, org, admin, app):
    worker = make_user(org, "w@example.com", full_name="Walter", phone="+79123456789")
    audit.record("user.created", actor=admin, target="w@example.com")
    audit.record("profile.changed", actor=worker, target="w@example.com", ip="203.0.113.5")
    page = admin_client.get(f"/admin/users/{worker.id}/delete").get_data(as_text=True)
    assert "Delete Walter (w@example.com)?" in page and f"deleted-user-{worker.id}" in page
    response = form_post(admin_client, f"/admin/users/{worker.id}/delete", {}, page=f"/admin/users/{worker.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    assert User.get_or_none(User.id == worker.id) is None
    events = list(AuditEvent.select())
    assert not any("w@example.com" in e.target + e.details for e in events)
    assert any(e.action == "user.deleted" and e.target == f"deleted-user-{worker.id}" and e.actor_id == admin.id
               for e in events)
    assert any(e.action == "profile.changed" and e.target == f"deleted-user-{worker.id}" and e.ip == "" for e in events)


def test_delete_and_identity_follow_the_hierarchy_and_reauth(client, org, admin):
    editor = make_user(org, "e@example.com")
    grant(editor, "users.view", "users.edit")
    sign_in(client, "e@example.com")
    assert client.get(f"/admin/users/{admin.id}/delete").status_code == 403
    assert client.get(f"/admin/users/{admin.id}/identity").status_code == 403
    response = form_post(client, f"/admin/users/{admin.id}/delete", {}, page=f"/admin/users/{admin.id}")
    assert response.status_code == 403 and User.get_or_none(User.id == admin.id) is not None
    response = form_post(client, f"/admin/users/{admin.id}/identity", {"full_name": "X", "email": "x@example.com"},
                         page=f"/admin/users/{admin.id}")
    assert response.status_code == 403 and User.get_by_id(admin.id).full_name == "Boss Admin"
    worker = make_user(org, "w@example.com")
    UserSession.update(reauth_at=utcnow() - timedelta(hours=2)).execute()
    response = form_post(client, f"/admin/users/{worker.id}/delete", {}, page=f"/admin/users/{worker.id}")
    assert response.status_code == 303 and "/reauth" in response.headers["Location"]
    assert User.get_or_none(User.id == worker.id) is not None


def test_self_last_owner_and_last_administrator_are_not_deleted(admin_client, org, admin):
    page = admin_client.get(f"/admin/users/{admin.id}/delete").get_data(as_text=True)
    assert "You cannot delete yourself here" in page and 'class="danger"' not in page
    response = form_post(admin_client, f"/admin/users/{admin.id}/delete", {}, page=f"/admin/users/{admin.id}")
    assert response.status_code == 409 and User.get_or_none(User.id == admin.id) is not None


def test_russian(admin_client, org):
    User.update(language="ru").execute()
    worker = make_user(org, "w@example.com", full_name="Вальтер")
    page = admin_client.get(f"/admin/users/{worker.id}/delete").get_data(as_text=True)
    assert "Удалить пользователя" in page and "Вальтер" in page

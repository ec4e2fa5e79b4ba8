"""My data (issue 8): "Download my data" as a background ZIP of JSON plus the person's files, and
"Delete my account" with password, confirmation, a grace period that signing in cancels, then erasure."""
import io
import json
import zipfile
from datetime import timedelta

import pytest

from models import AuditEvent, DataExport, DeletionRequest, StoredFile, User, UserSession, utcnow
from services import deletion, export, files
from services.permissions import grant
from services.scheduler import JOBS
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in

HTMX = {"HX-Request": "true"}


def test_export_is_queued_built_in_the_background_and_holds_json_and_files(app, signed_in, user, org):
    grant(user, "files.manage")
    token = csrf_from(signed_in.get("/app/account/files").get_data(as_text=True))
    signed_in.post("/app/account/files", data={"csrf_token": token, "file": (io.BytesIO(b"%PDF-1.4 x"), "Паспорт.pdf")},
                   content_type="multipart/form-data")
    response = form_post(signed_in, "/app/account/privacy/export", {})
    assert response.status_code == 303
    page = signed_in.get("/app/account/privacy").get_data(as_text=True)
    assert "We are preparing your data." in page and "being prepared" in page and 'hx-trigger="every 1s"' in page
    export_row = DataExport.get()
    assert export_row.status == "pending"
    assert signed_in.get(f"/app/account/privacy/export/{export_row.id}").status_code == 404  # not ready yet

    with app.app_context():
        assert export.run_pending_exports() == 1
    export_row = DataExport.get()
    assert export_row.status == "done" and export_row.size > 0
    fragment = signed_in.get("/app/account/privacy?part=exports", headers=HTMX).get_data(as_text=True)
    assert "<html" not in fragment and "Download (" in fragment and "every 1s" not in fragment  # polling stops

    response = signed_in.get(f"/app/account/privacy/export/{export_row.id}")
    assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"  # SECURITY.md 27: no copy kept by a browser or proxy
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    response.close()
    data = json.loads(archive.read("data.json"))
    assert data["person"]["email"] == "anna@example.com" and data["person"]["full_name"] == "Anna Test"
    assert "password_hash" not in data["person"]
    assert data["organization"]["name"] == "ООО «Тест»"
    assert any(e["action"] == "signin" for e in data["audit_event"])
    assert data["user_session"] and all("token_hash" not in s for s in data["user_session"])
    assert data["stored_file"][0]["name"] == "Паспорт.pdf" and "storage_name" in data["stored_file"][0]
    names = archive.namelist()
    assert any(n.endswith("-Паспорт.pdf") and n.startswith("files/") for n in names)
    assert archive.read([n for n in names if n.startswith("files/")][0]) == b"%PDF-1.4 x"


def test_export_of_someone_else_is_404_and_a_second_request_does_not_queue_twice(app, signed_in, user, org):
    other = make_user(org, "boris@example.com")
    theirs = export.request_export(other)
    with app.app_context():
        export.run_pending_exports()
    assert signed_in.get(f"/app/account/privacy/export/{theirs.id}").status_code == 404
    form_post(signed_in, "/app/account/privacy/export", {})
    form_post(signed_in, "/app/account/privacy/export", {})
    assert DataExport.select().where(DataExport.user == user.id).count() == 1


def test_old_exports_are_purged_with_their_files(app, user):
    row = export.request_export(user)
    with app.app_context():
        export.run_pending_exports()
        path = export.export_path(app.config, DataExport.get_by_id(row.id))
        assert path.exists()
        DataExport.update(created_at=utcnow() - timedelta(days=8)).execute()
        export.purge_old_exports()
    assert not path.exists() and not DataExport.select().exists()


def test_scheduler_runs_the_account_jobs():
    names = {job_id for job_id, _func, _interval in JOBS}
    assert {"account_exports", "account_purge_exports", "account_erase_due"} <= names


def delete_post(client, data, headers=None):
    return form_post(client, "/app/account/privacy/delete", data, page="/app/account/privacy", headers=headers)


def test_deletion_needs_the_password_and_the_confirmation(signed_in, user):
    wrong = delete_post(signed_in, {"password": "not my password", "confirm": "y"})
    assert wrong.status_code == 422 and "The password is not right." in wrong.get_data(as_text=True)
    unticked = delete_post(signed_in, {"password": PASSWORD})
    assert unticked.status_code == 422 and "Tick the box to confirm." in unticked.get_data(as_text=True)
    huge = delete_post(signed_in, {"password": "x" * 10_000, "confirm": "y"})
    assert huge.status_code == 422
    assert not DeletionRequest.select().exists()


def test_deletion_request_signs_out_and_signing_in_within_the_grace_period_cancels_it(app, client, user, org):
    make_user(org, "owner2@example.com", role="owner")
    sign_in(client)
    response = delete_post(client, {"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "Your account will be erased on" in client.get("/login").get_data(as_text=True)
    request = DeletionRequest.get()
    assert timedelta(days=13, hours=23) < request.erase_after - utcnow() <= timedelta(days=14)
    assert UserSession.select().where(UserSession.ended_at.is_null()).count() == 0
    assert client.get("/app/account/privacy").status_code == 302

    sign_in(client)
    assert "your account will not be deleted" in client.get("/app/account/privacy").get_data(as_text=True)
    assert DeletionRequest.get().cancelled_at is not None
    DeletionRequest.update(erase_after=utcnow() - timedelta(seconds=1)).execute()
    with app.app_context():
        assert deletion.erase_due_accounts() == 0
    assert User.get_or_none(User.id == user.id) is not None


def test_after_the_grace_period_the_person_is_erased_and_audit_events_are_anonymised(app, client, user, org):
    grant(user, "files.manage")
    sign_in(client)
    token = csrf_from(client.get("/app/account/files").get_data(as_text=True))
    client.post("/app/account/files", data={"csrf_token": token, "file": (io.BytesIO(b"hello"), "a.txt")},
                content_type="multipart/form-data")
    export.request_export(user)
    with app.app_context():
        export.run_pending_exports()
    delete_post(client, {"password": PASSWORD, "confirm": "y"})
    DeletionRequest.update(erase_after=utcnow() - timedelta(seconds=1)).execute()
    with app.app_context():
        assert deletion.erase_due_accounts() == 1
    assert User.get_or_none(User.id == user.id) is None
    events = list(AuditEvent.select())
    assert events and all(e.actor_id is None for e in events)
    assert not any("anna@example.com" in (e.target + e.details) for e in events)
    assert AuditEvent.get(AuditEvent.action == "account.erased").target == f"deleted-user-{user.id}"
    assert StoredFile.get().uploaded_by_id is None  # the organization's file stays, without its uploader
    assert not DataExport.select().exists()
    assert list((files.storage_root(app.config) / "exports").iterdir()) == []
    assert "Wrong e-mail or password." in form_post(client, "/login", {"email": "anna@example.com",
                                                                       "password": PASSWORD}).get_data(as_text=True)


def test_the_last_owner_cannot_delete_themselves(client, org):
    make_user(org, "owner@example.com", role="owner")
    sign_in(client, "owner@example.com")
    page = client.get("/app/account/privacy").get_data(as_text=True)
    assert "You are the organization's last owner." in page
    response = delete_post(client, {"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 409 and "last owner" in response.get_data(as_text=True)
    assert not DeletionRequest.select().exists()


def test_htmx_deletion_errors_come_back_as_the_card(signed_in):
    token = csrf_from(signed_in.get("/app/account/privacy").get_data(as_text=True))
    response = signed_in.post("/app/account/privacy/delete", data={"password": "nope nope", "confirm": "y"},
                              headers={**HTMX, "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in body and 'id="delete-card"' in body


def test_someone_else_cannot_delete_an_account(client, user, org):
    """Another member's password does not work for Anna, a cross-site post is refused, and no route
    takes a person's id: the form always acts on the signed-in person."""
    make_user(org, "boris@example.com", password="boris own passphrase 77")
    sign_in(client)
    response = delete_post(client, {"password": "boris own passphrase 77", "confirm": "y", "user_id": "2"})
    assert response.status_code == 422
    token = csrf_from(client.get("/app/account/privacy").get_data(as_text=True))
    cross = client.post("/app/account/privacy/delete", data={"csrf_token": token, "password": PASSWORD, "confirm": "y"},
                        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    no_token = client.post("/app/account/privacy/delete", data={"password": PASSWORD, "confirm": "y"})
    assert no_token.status_code == 403
    assert not DeletionRequest.select().exists()


@pytest.mark.parametrize("language,text", [("ru", "Удалить мою учётную запись"), ("en", "Delete my account")])
def test_privacy_page_in_both_languages(client, org, language, text):
    make_user(org, "lang@example.com", language=language)
    sign_in(client, "lang@example.com")
    assert text in client.get("/app/account/privacy").get_data(as_text=True)


def test_every_table_that_points_at_a_person_lets_the_erasure_through():
    """Erasing deletes the user row: each foreign key to it must cascade or be set to NULL, or the
    database would refuse (any area's table, present or future)."""
    import peewee as pw

    from tests.conftest import all_models

    blocking = [f"{m.__name__}.{f.name}" for m in all_models() for f in m._meta.sorted_fields
                if isinstance(f, pw.ForeignKeyField) and f.rel_model is User
                and f.on_delete not in ("CASCADE", "SET NULL")]
    assert blocking == []


def test_export_appears_in_the_list_of_operations_and_finishing_notifies(app, user):
    """With the notifications area: the export is an operation from request to finish, linked to the ZIP."""
    from models import Notification, Operation

    with app.test_request_context():
        row = export.request_export(user)
        operation = Operation.get_by_id(row.operation_id)
        assert (operation.kind, operation.status, operation.user_id) == ("data_export", "pending", user.id)
        export.run_pending_exports()
    operation = Operation.get_by_id(row.operation_id)
    assert operation.status == "completed"
    with app.test_request_context(headers={"Accept-Language": "ru"}):  # worded in the reader's language when shown
        from services.results import message_text

        assert message_text(operation.result).startswith("Ваши данные готовы")
    assert operation.result_url == f"/app/account/privacy/export/{row.id}"
    assert Notification.select().where(Notification.user == user.id, Notification.category == "operations").exists()


def test_wrong_passwords_on_deletion_are_throttled(signed_in, user):
    """DESIGN.md: every endpoint that checks a password is rate limited; here after 5 wrong tries."""
    statuses = [delete_post(signed_in, {"password": f"wrong password {i}", "confirm": "y"}).status_code
                for i in range(5)]
    assert statuses == [422] * 5
    blocked = delete_post(signed_in, {"password": PASSWORD, "confirm": "y"})
    assert blocked.status_code == 429 and "Too many" in blocked.get_data(as_text=True)
    assert not DeletionRequest.select().exists()
    assert AuditEvent.select().where(AuditEvent.action == "reauth.failed").count() == 5


def test_erasure_removes_numbers_old_addresses_and_ips_from_every_event(app, user, org):
    """Audit events keep what happened, not who: the person's phone, former e-mail and session IPs go
    too, in their own events and in those others wrote about them; other people's events stay as they were."""
    from services import audit

    User.update(phone="+79161234567").where(User.id == user.id).execute()
    user = User.get_by_id(user.id)
    admin = make_user(org, "admin@example.com")
    audit.record("email.changed", actor=user, target=user.email, old="Anna.Old@Example.com", ip="10.1.2.3")
    audit.record("phone.verified", actor=user, target="+79161234567", old="+79160000000")
    audit.record("session.ended", actor=user, target="203.0.113.77", session=5)
    audit.record("user.updated", actor=admin, target=user.email, fields=["phone"], ip="10.9.9.9")
    audit.record("user.role_changed", actor=admin, target="anna.old@example.com", role="admin")
    audit.record("signin", actor=admin, target=admin.email, ip="10.9.9.9")
    with app.app_context():
        deletion.erase_user(user)
    anonymous = f"deleted-user-{user.id}"
    text = " ".join(e.target + " " + e.details + " " + e.ip for e in AuditEvent.select())
    for gone in ("anna@example.com", "anna.old@example.com", "Anna.Old", "+79161234567", "+79160000000",
                 "203.0.113.77", "10.1.2.3"):
        assert gone not in text, gone
    assert AuditEvent.get(AuditEvent.action == "user.role_changed").target == anonymous
    kept = AuditEvent.get(AuditEvent.action == "signin")
    assert (kept.actor_id, kept.target, kept.ip) == (admin.id, "admin@example.com", "10.9.9.9")
    assert AuditEvent.get(AuditEvent.action == "user.updated").ip == "10.9.9.9"  # the admin's own address


def test_an_export_whose_build_died_does_not_block_a_new_request(app, user):
    stuck = export.request_export(user)
    DataExport.update(status="running", created_at=utcnow() - timedelta(hours=2)).execute()
    fresh = export.request_export(user)
    assert fresh.id != stuck.id and fresh.status == "pending"
    assert DataExport.get_by_id(stuck.id).status == "failed"
    recent = export.request_export(user)
    assert recent.id == fresh.id  # a waiting one is not queued twice


def test_export_holds_what_others_recorded_about_the_person_without_their_address(app, user, org):
    from services import audit

    admin = make_user(org, "admin@example.com")
    audit.record("user.role_changed", actor=admin, target=user.email, role="admin", ip="10.9.9.9",
                 user_agent="Admin's browser")
    data = export.collect(user)
    about = data["audit_event_about_you"]
    assert [e["action"] for e in about] == ["user.role_changed"] and '"admin"' in about[0]["details"]
    assert "10.9.9.9" not in json.dumps(data) and "Admin's browser" not in json.dumps(data)

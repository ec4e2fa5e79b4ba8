"""File manager (issue 8): uploads checked by content and size before anything is stored, quota,
sanitised names, random storage names outside static/, downloads as attachments for members only."""
import io
import zipfile
from pathlib import Path

import pytest

from models import AuditEvent, Organization, StoredFile
from services import files
from services.permissions import grant
from tests.conftest import csrf_from, make_user, sign_in
from tests.races import hold_after, run_together

HTMX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx_bytes(part="word/document.xml"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<w:document/>")
    return buffer.getvalue()


@pytest.fixture
def manager(client, org):
    user = make_user(org, "files@example.com")
    grant(user, "files.manage")
    sign_in(client, "files@example.com")
    return client


def upload(client, name, content, headers=None):
    token = csrf_from(client.get("/app/account/files").get_data(as_text=True))
    return client.post("/app/account/files", data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data", headers=headers or {})


def stored_paths(app):
    root = files.storage_root(app.config)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("name,content,kind", [
    ("Счёт.pdf", PDF, "pdf"),
    ("logo.PNG", PNG, "png"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32, "jpeg"),
    ("list.csv", "имя;e-mail\nАнна;anna@example.com\n".encode(), "csv"),
    ("notes.txt", "Заметки\r\n".encode("cp1251"), "txt"),
    ("contract.docx", docx_bytes(), "docx"),
    ("report.xlsx", docx_bytes("xl/workbook.xml"), "xlsx"),
])
def test_allowed_files_are_stored_under_random_names_and_listed(app, manager, org, name, content, kind):
    response = upload(manager, name, content)
    assert response.status_code == 303
    assert f"Uploaded {name}." in manager.get("/app/account/files").get_data(as_text=True)
    stored = StoredFile.get()
    assert stored.kind == kind and stored.name == name and stored.size == len(content)
    path = files.path_of(app.config, stored)
    assert path.read_bytes() == content and name not in str(path) and len(stored.storage_name) == 32
    assert "static" not in path.parts
    assert AuditEvent.get(AuditEvent.action == "file.uploaded").target == name


@pytest.mark.parametrize("name,content", [
    ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100),  # a Windows executable named .pdf
    ("run.exe", b"MZ\x90\x00"),
    ("script.sh", b"#!/bin/sh\nrm -rf /\n"),
    ("fake.docx", docx_bytes("payload.bin")),  # a zip, but not a Word document
    ("photo.png", b"\xff\xd8\xff\xe0jpeg inside"),  # a JPEG named .png
    ("noext", b"plain"),
])
def test_wrong_types_are_refused_with_a_message_and_nothing_stored(app, manager, name, content):
    response = upload(manager, name, content)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert ("not allowed" in body or "needs a name with an extension" in body) and 'id="file-error"' in body
    assert not StoredFile.select().exists() and stored_paths(app) == []


def test_a_path_in_the_name_is_cut_to_the_file_name(app, manager):
    response = upload(manager, "../../etc/passwd.txt", b"root:x:0:0")
    assert response.status_code == 303
    stored = StoredFile.get()
    assert stored.name == "passwd.txt"
    assert files.path_of(app.config, stored).parent == files.storage_root(app.config) / str(stored.organization_id)
    assert files.sanitize_name("..\\..\\windows\\win.ini") == "win.ini"
    assert files.sanitize_name("a\x00b\x1f.txt") == "ab.txt"
    assert files.sanitize_name("....hidden.txt") == "hidden.txt"


def test_one_file_over_the_limit_is_refused_by_content_length_before_it_is_read(app, manager):
    app.config["FILES_MAX_BYTES"] = 1024
    token = csrf_from(manager.get("/app/account/files").get_data(as_text=True))
    read = []

    class Body(io.RawIOBase):
        """A 1 GB body that records how much of it the server reads (seekable, as the test client wants)."""

        size, pos = 1 << 30, 0

        def readable(self):
            return True

        def seekable(self):
            return True

        def seek(self, offset, whence=0):
            self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
            return self.pos

        def tell(self):
            return self.pos

        def readinto(self, buffer):
            read.append(len(buffer))
            buffer[: len(buffer)] = b"\x00" * len(buffer)
            return len(buffer)

    response = manager.post("/app/account/files", input_stream=Body(), headers={
        "Content-Type": "multipart/form-data; boundary=x", "X-CSRFToken": token})
    assert response.status_code == 413
    assert "The file is too large: at most 1" in response.get_data(as_text=True)
    assert sum(read) == 0  # not one byte of the gigabyte was read
    assert not StoredFile.select().exists()


def test_a_file_over_the_limit_within_the_request_is_refused_while_streaming(app, manager):
    app.config["FILES_MAX_BYTES"] = 100
    response = upload(manager, "big.txt", b"a" * 101)
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)
    assert not StoredFile.select().exists() and stored_paths(app) == []


def test_the_organizations_quota_is_kept(app, manager):
    app.config["FILES_QUOTA_BYTES"] = 150
    assert upload(manager, "a.txt", b"a" * 100).status_code == 303
    response = upload(manager, "b.txt", b"b" * 100)
    assert response.status_code == 413 and "There is no room left" in response.get_data(as_text=True)
    assert StoredFile.select().count() == 1 and len(stored_paths(app)) == 1


def test_two_uploads_racing_into_a_nearly_full_quota_do_not_both_pass(app, manager, org, monkeypatch):
    """SECURITY issue item 5: each upload counts the quota, then adds its row. One is stored, the other is
    told there is no room; on SQLite neither answers 503 "database is locked"."""
    app.config["FILES_QUOTA_BYTES"] = 150
    grant(make_user(org, "files2@example.com"), "files.manage")
    second = app.test_client()
    sign_in(second, "files2@example.com")
    tokens = [csrf_from(c.get("/app/account/files").get_data(as_text=True)) for c in (manager, second)]
    hold_after(monkeypatch, files, "used_bytes")

    def upload_100_bytes(client, token, name):
        response = client.post("/app/account/files", data={"csrf_token": token, "file": (io.BytesIO(b"x" * 100), name)},
                               content_type="multipart/form-data")
        return response.status_code, response.get_data(as_text=True)

    answers = run_together(lambda: upload_100_bytes(manager, tokens[0], "a.txt"),
                           lambda: upload_100_bytes(second, tokens[1], "b.txt"))
    assert sorted(status for status, _body in answers) == [303, 413], [a[0] for a in answers]
    assert "There is no room left" in next(body for status, body in answers if status == 413)
    assert StoredFile.select().count() == 1 and len(stored_paths(app)) == 1


def test_an_empty_upload_and_a_missing_file_get_messages(manager):
    assert "Choose a file to upload." in manager.post(
        "/app/account/files", data={"csrf_token": csrf_from(manager.get("/app/account/files").get_data(as_text=True))}
    ).get_data(as_text=True)
    assert "The file is empty." in upload(manager, "empty.txt", b"").get_data(as_text=True)


def test_htmx_upload_answers_with_the_refreshed_list(manager):
    token = csrf_from(manager.get("/app/account/files").get_data(as_text=True))
    response = manager.post("/app/account/files", data={"file": (io.BytesIO(PDF), "a.pdf")},
                            content_type="multipart/form-data", headers={**HTMX, "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="files"' in body
    assert "Uploaded a.pdf." in body and ">a.pdf</a>" in body


def test_download_is_an_attachment_for_members_and_404_for_other_organizations(app, manager, client, org):
    upload(manager, "Договор.pdf", PDF)
    stored = StoredFile.get()
    response = manager.get(f"/app/account/files/{stored.id}/download")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%D0%94" in response.headers["Content-Disposition"]
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"  # SECURITY.md 27, as invoices
    response.close()
    manager.post("/logout", data={"csrf_token": csrf_from(manager.get("/app/account/files").get_data(as_text=True))})

    outsider = make_user(Organization.create(name="Чужая"), "out@example.com")
    grant(outsider, "files.manage")
    sign_in(client, "out@example.com")
    assert client.get(f"/app/account/files/{stored.id}/download").status_code == 404
    token = csrf_from(client.get("/app/account/files").get_data(as_text=True))
    assert client.post(f"/app/account/files/{stored.id}/delete", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/app/account/files/{stored.id}/rename",
                       data={"csrf_token": token, "name": "x.pdf"}).status_code == 404
    assert StoredFile.get().name == "Договор.pdf"


def test_rename_keeps_the_extension_and_delete_removes_the_bytes(app, manager):
    upload(manager, "a.pdf", PDF)
    stored = StoredFile.get()
    page = manager.get(f"/app/account/files/{stored.id}/rename").get_data(as_text=True)
    token = csrf_from(page)
    bad = manager.post(f"/app/account/files/{stored.id}/rename", data={"csrf_token": token, "name": "a.exe"})
    assert bad.status_code == 422 and "Keep the extension of the file: .pdf." in bad.get_data(as_text=True)
    good = manager.post(f"/app/account/files/{stored.id}/rename",
                        data={"csrf_token": token, "name": "../Акт сверки.pdf"})
    assert good.status_code == 303 and StoredFile.get().name == "Акт сверки.pdf"
    htmx = manager.post(f"/app/account/files/{stored.id}/delete", headers={**HTMX, "X-CSRFToken": token})
    assert "Deleted Акт сверки.pdf." in htmx.get_data(as_text=True) and "<html" not in htmx.get_data(as_text=True)
    assert not StoredFile.select().exists() and stored_paths(app) == []


def test_members_without_the_permission_cannot_reach_files(app, manager, client, org):
    upload(manager, "a.pdf", PDF)
    stored = StoredFile.get()
    make_user(org, "plain@example.com")
    other = app.test_client()
    sign_in(other, "plain@example.com")
    assert other.get(f"/app/account/files/{stored.id}/download").status_code == 403
    assert other.get("/app/account/files").status_code == 403


def test_storage_is_outside_static(app):
    root = files.storage_root(app.config).resolve()
    static = (Path(__file__).resolve().parent.parent / "static").resolve()
    assert static not in root.parents and root != static


def test_the_list_is_paged_and_a_file_being_renamed_is_on_screen(app, manager, org):
    """DESIGN.md: lists are paginated with indexed queries; 50 files a page, newest first."""
    from blueprints.organization.files import FILES_PER_PAGE
    from models import User

    uploader = User.get(User.email == "files@example.com")
    made = [files.save_upload(app.config, uploader.organization_id, uploader, io.BytesIO(b"x"), f"f{i:03d}.txt")
            for i in range(FILES_PER_PAGE + 5)]
    first = manager.get("/app/account/files").get_data(as_text=True)
    assert ">f054.txt</a>" in first and ">f005.txt</a>" in first and ">f004.txt</a>" not in first
    next_url = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = manager.get(next_url).get_data(as_text=True)
    assert ">f004.txt</a>" in second and ">f000.txt</a>" in second and ">f005.txt</a>" not in second
    assert "First page" in second and 'rel="next"' not in second
    renaming = manager.get(f"/app/account/files/{made[1].id}/rename").get_data(as_text=True)
    assert 'value="f001.txt"' in renaming
    assert manager.get("/app/account/files?before=" + "9" * 30).status_code == 200


class DiesMidUpload:
    """An upload stream whose process is killed half-way: no except or finally clause runs."""

    def __init__(self):
        self.sent = 0

    def read(self, _size):
        import os

        if self.sent:
            os._exit(0)
        self.sent += 1
        return PDF


def crashed_upload(app, org, user):
    """Run save_upload in a child process that dies mid-upload, as a killed worker would."""
    import os

    pid = os.fork()
    if pid == 0:
        files.save_upload(app.config, org.id, user, DiesMidUpload(), "a.pdf")
        os._exit(1)
    os.waitpid(pid, 0)


def test_sweep_removes_what_a_crashed_upload_or_export_left_and_nothing_else(app, manager, org):
    import os
    import time

    from services.scheduler import JOBS

    upload(manager, "kept.pdf", PDF)
    kept = files.path_of(app.config, StoredFile.get())
    crashed_upload(app, org, StoredFile.get().uploaded_by)
    root = files.storage_root(app.config)
    [left] = list(root.glob(f"{org.id}/*.part"))
    exports = root / "exports"
    exports.mkdir()
    (exports / "abc.part").write_bytes(b"PK half a zip")
    hour_ago = time.time() - files.PARTIAL_MAX_AGE - 1
    for stale in (left, exports / "abc.part"):
        os.utime(stale, (hour_ago, hour_ago))
    (root / str(org.id) / "writing.part").write_bytes(b"%PDF still arriving")  # an upload in progress

    with app.app_context():
        assert files.sweep_partial_files() == 2
    assert sorted(p.name for p in root.rglob("*.part")) == ["writing.part"]
    response = manager.get(f"/app/account/files/{StoredFile.get().id}/download")
    assert kept.exists() and response.data == PDF
    response.close()
    assert "sweep_partial_files" in [job_id for job_id, _func, _interval in JOBS]  # hourly, and at the start


def test_a_failed_export_leaves_no_file(app, user, monkeypatch):
    from models import DataExport
    from services import export

    record = DataExport.create(user=user)
    monkeypatch.setattr(export, "collect", lambda _user: 1 / 0)
    with app.app_context(), pytest.raises(ZeroDivisionError):
        export.run_pending_exports()
    assert list(export.exports_root(app.config).iterdir()) == []
    assert DataExport.get_by_id(record.id).status == "failed"

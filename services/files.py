"""The file manager's storage: files under FILES_PATH with random names, types checked by content,
names sanitised, a per-file limit and a per-organization quota."""
import os
import re
import secrets
import shutil
import time
import unicodedata
import zipfile
from pathlib import Path

from flask_babel import lazy_gettext as _l
from peewee import fn

from models import Organization, StoredFile, write_transaction

NAME_MAX = 200
# The extensions a kind may carry; a name's extension must match what the content is.
EXTENSIONS = {
    "pdf": ("pdf",),
    "png": ("png",),
    "jpeg": ("jpg", "jpeg"),
    "csv": ("csv",),
    "txt": ("txt",),
    "docx": ("docx",),
    "xlsx": ("xlsx",),
}
MIME_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "csv": "text/csv",
    "txt": "text/plain",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
ALLOWED_LIST = "PDF, PNG, JPEG, CSV, TXT, DOCX, XLSX"


class FileRejected(ValueError):
    """An upload that is refused; `message` is translated for the person."""

    def __init__(self, message, status=422):
        super().__init__(str(message))
        self.message = message
        self.status = status  # 413 for size and quota, 422 for the rest


def storage_root(config):
    return Path(config.get("FILES_PATH") or Path(config["INSTANCE_PATH"]) / "files")


def path_of(config, stored):
    """Where the bytes of `stored` are; the storage name is ours (hex), never the person's."""
    return storage_root(config) / str(stored.organization_id) / stored.storage_name


def sanitize_name(name):
    """The last path component, without control characters or leading dots, at most NAME_MAX characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot else ""
        name = (stem if dot else name)[: NAME_MAX - len(ext) - 1].rstrip() + ("." + ext if ext else "")
    return name


def extension(name):
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _is_text(head):
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end of the sample is fine
            try:
                text = head.decode("cp1251")
            except UnicodeDecodeError:
                return False
        else:
            text = head[: exc.start].decode("utf-8")
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f" for ch in text)


def detect_kind(path):
    """What the file at `path` is by its content (magic numbers, OOXML parts), or None."""
    with open(path, "rb") as f:
        head = f.read(8192)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        if "[Content_Types].xml" in names:
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
        return None
    if _is_text(head):
        return "text"
    return None


def check_kind(path, name):
    """The kind of the file, when its content is allowed and matches its name's extension."""
    ext = extension(name)
    kind = detect_kind(path)
    if kind == "text":
        kind = "csv" if ext == "csv" else "txt"
    if kind is None or ext not in EXTENSIONS.get(kind, ()):
        raise FileRejected(
            _l("This type of file is not allowed, or its content does not match its name. Allowed: %(types)s.",
               types=ALLOWED_LIST)
        )
    return kind


def used_bytes(organization_id):
    return StoredFile.select(fn.COALESCE(fn.SUM(StoredFile.size), 0)).where(
        StoredFile.organization == organization_id
    ).scalar() or 0


def save_upload(config, organization_id, user, stream, filename):
    """Store one upload (a file-like `stream`) for the organization, or raise FileRejected."""
    name = sanitize_name(filename)
    if not name or not extension(name):
        raise FileRejected(_l("The file needs a name with an extension, like report.pdf."))
    limit = config["FILES_MAX_BYTES"]
    folder = storage_root(config) / str(organization_id)
    folder.mkdir(parents=True, exist_ok=True)
    storage_name = secrets.token_hex(16)
    target = folder / storage_name
    partial = folder / (storage_name + ".part")
    try:
        size = 0
        with open(partial, "wb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise FileRejected(too_large_message(config), 413)
                out.write(chunk)
        if size == 0:
            raise FileRejected(_l("The file is empty."))
        kind = check_kind(partial, name)
        # Counted inside the transaction that adds the row, with the organization's row locked (PostgreSQL) or
        # SQLite's write lock taken first, so two uploads cannot both squeeze in (models.write_transaction).
        with write_transaction((Organization, organization_id)):
            if used_bytes(organization_id) + size > config["FILES_QUOTA_BYTES"]:
                raise FileRejected(
                    _l("There is no room left: the organization's files may take at most %(quota)s.",
                       quota=human_size(config["FILES_QUOTA_BYTES"])), 413
                )
            os.replace(partial, target)
            return StoredFile.create(
                organization=organization_id, uploaded_by=user, name=name, storage_name=storage_name,
                size=size, kind=kind,
            )
    except BaseException:
        for leftover in (partial, target):
            leftover.unlink(missing_ok=True)
        raise


PARTIAL_MAX_AGE = 3600  # seconds; a write in progress touches its file far more often than this


def sweep_partial_files(config=None, now=None):
    """Scheduler job (and at the scheduler's start): remove the `.part` files that an upload or a data
    export left behind when its process died mid-write (a crash skips save_upload's own clean-up).
    Only files untouched for PARTIAL_MAX_AGE: a write still in progress keeps its file. Returns how many."""
    if config is None:
        from flask import current_app

        config = current_app.config
    cutoff = (now or time.time()) - PARTIAL_MAX_AGE
    removed = 0
    for path in storage_root(config).glob("*/*.part"):  # <organization>/ and exports/
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # removed meanwhile (its upload finished or failed)
    return removed


def too_large_message(config):
    return _l("The file is too large: at most %(size)s per file.", size=human_size(config["FILES_MAX_BYTES"]))


def rename(stored, new_name):
    """Give `stored` a new display name that keeps its extension's kind; raise FileRejected otherwise."""
    name = sanitize_name(new_name)
    if not name:
        raise FileRejected(_l("Enter a name."))
    if extension(name) not in EXTENSIONS[stored.kind]:
        raise FileRejected(_l("Keep the extension of the file: .%(ext)s.", ext=EXTENSIONS[stored.kind][0]))
    StoredFile.update(name=name).where(StoredFile.id == stored.id).execute()
    stored.name = name
    return stored


def delete(config, stored):
    StoredFile.delete().where(StoredFile.id == stored.id).execute()
    path_of(config, stored).unlink(missing_ok=True)


def delete_organization_files(config, organization_id):
    shutil.rmtree(storage_root(config) / str(organization_id), ignore_errors=True)


def human_size(n):
    """A byte count as people read it (10 MB, 1,5 KB), in the current locale."""
    from flask_babel import format_decimal

    for unit, factor in ((_l("GB"), 1 << 30), (_l("MB"), 1 << 20), (_l("KB"), 1 << 10)):
        if n >= factor:
            return f"{format_decimal(round(n / factor, 1))} {unit}"
    unit = _l("bytes")
    return f"{n} {unit}"

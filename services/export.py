""""Download my data": a ZIP of everything Kabinet holds about a person (data.json plus the files they
uploaded), produced by a scheduler job and kept for EXPORT_KEEP_DAYS."""
import json
import os
import secrets
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal

import peewee as pw
from flask import current_app

from models import AuditEvent, BaseModel, DataExport, StoredFile, User, utcnow, write_transaction

from . import audit, results
from .files import path_of, storage_root

# Columns never exported: hashes and encrypted secrets are of no use to the person and must not leave.
SECRET_WORDS = ("hash", "secret", "encrypted", "password", "token", "otp", "recovery", "key")
STALE_AFTER = timedelta(hours=1)


def request_export(user):
    """Queue an export unless one is already waiting; returns the DataExport row."""
    # A build whose process died stays "running" for ever: after STALE_AFTER, asking again starts over.
    DataExport.update(status="failed", finished_at=utcnow()).where(
        DataExport.user == user.id, DataExport.status == "running", DataExport.created_at < utcnow() - STALE_AFTER
    ).execute()
    # Checked and queued in one transaction with the person's row locked: two clicks queue one export.
    with write_transaction((User, user.id)):
        pending = DataExport.get_or_none(DataExport.user == user.id, DataExport.status.in_(("pending", "running")))
        if pending:
            return pending
        export = DataExport.create(user=user)
        audit.record("data_export.requested", actor=user, target=user.email)
        operations = operations_area()
        if operations:
            export.operation_id = operations.start_operation(user, "data_export").id
            DataExport.update(operation_id=export.operation_id).where(DataExport.id == export.id).execute()
    return export


def exports_root(config):
    return storage_root(config) / "exports"


def export_path(config, export):
    return exports_root(config) / export.storage_name


def all_models():
    found, todo = [], list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return found


def plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def row_data(row):
    out = {}
    for field in row._meta.sorted_fields:
        if any(word in field.name.lower() for word in SECRET_WORDS):
            continue
        value = row.__data__.get(field.name)
        out[field.name] = plain(value)
    return out


def collect(user):
    """Everything about `user`: their row, their organization's name, and every row of any table
    (this area's or another's) that points at them, secrets left out."""
    data = {
        "generated_at": utcnow().isoformat() + "Z",
        "person": row_data(user),
        "organization": {"id": user.organization_id, "name": user.organization.name},
    }
    for model in sorted(all_models(), key=lambda m: m._meta.table_name):
        links = [f for f in model._meta.sorted_fields if isinstance(f, pw.ForeignKeyField) and f.rel_model is User]
        if not links or model is User:
            continue
        condition = None
        for field in links:
            condition = (field == user.id) if condition is None else (condition | (field == user.id))
        rows = [row_data(row) for row in model.select().where(condition).order_by(*model._meta.get_primary_keys())]
        if rows:
            data[model._meta.table_name] = rows
    # What others did about the person (an administrator created, changed or reset them): named by address.
    about = AuditEvent.select().where(AuditEvent.target == user.email, AuditEvent.actor.is_null(True)
                                      | (AuditEvent.actor != user.id)).order_by(AuditEvent.id)
    # Without the other person's IP, browser or id: those are theirs, not this person's.
    data["audit_event_about_you"] = [{"action": row.action, "details": row.details, "created_at": plain(row.created_at)}
                                     for row in about]
    return data


def build_export(config, export):
    """Write the ZIP for one export; returns its path."""
    user = User.get_by_id(export.user_id)
    folder = exports_root(config)
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16)
    target = folder / name
    # Written as .part and renamed when complete: a failure removes it, a crash leaves it to
    # services.files.sweep_partial_files, and no half-made archive is ever offered for download.
    partial = folder / (name + ".part")
    files = StoredFile.select().where(StoredFile.uploaded_by == user.id).order_by(StoredFile.id)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.json", json.dumps(collect(user), ensure_ascii=False, indent=2))
            for stored in files:
                source = path_of(config, stored)
                if source.exists():
                    # The id keeps two files with the same name apart; the name is already sanitised.
                    archive.write(source, f"files/{stored.id}-{stored.name}")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return name, target.stat().st_size


def run_pending_exports(config=None):
    """Scheduler job: produce every waiting export, one at a time; the list of operations follows along."""
    config = config or current_app.config
    done = 0
    for export in DataExport.select().where(DataExport.status == "pending").order_by(DataExport.id):
        claimed = DataExport.update(status="running").where(
            DataExport.id == export.id, DataExport.status == "pending"
        ).execute()
        if not claimed:  # another scheduler took it
            continue
        operation = operation_of(export)
        if operation:
            operations_area().set_progress(operation, 10)
        try:
            name, size = build_export(config, export)
        except Exception:
            DataExport.update(status="failed", finished_at=utcnow()).where(DataExport.id == export.id).execute()
            if operation:
                operations_area().fail_operation(operation, results.stored_message("export_failed"))
            raise
        DataExport.update(status="done", storage_name=name, size=size, finished_at=utcnow()).where(
            DataExport.id == export.id
        ).execute()
        if operation:
            # A plain path: the scheduler has no request to build URLs from, and this one never moves.
            result = results.stored_message("export_ready", bytes=size)  # worded when shown
            operations_area().finish_operation(operation, result=result,
                                               result_url=f"/app/account/privacy/export/{export.id}")
        else:  # without the list of operations (whose finish() emits it), the export says so itself
            from services import webhooks

            webhooks.emit(export.user.organization_id, "operation.finished", {
                "operation_kind": "data_export", "status": "completed", "user": {"id": export.user_id},
                "result_url": f"/app/account/privacy/export/{export.id}"})
        done += 1
    return done


def purge_old_exports(config=None):
    """Scheduler job: remove exports older than EXPORT_KEEP_DAYS, files and rows."""
    config = config or current_app.config
    cutoff = utcnow() - timedelta(days=config["EXPORT_KEEP_DAYS"])
    for export in DataExport.select().where(DataExport.created_at < cutoff):
        if export.storage_name:
            export_path(config, export).unlink(missing_ok=True)
        export.delete_instance()


def delete_user_exports(config, user_id):
    for export in DataExport.select().where(DataExport.user == user_id):
        if export.storage_name:
            export_path(config, export).unlink(missing_ok=True)
    DataExport.delete().where(DataExport.user == user_id).execute()


def operations_area():
    """services.operations once the notifications area has landed, else None."""
    try:
        from services import operations
    except ImportError:
        return None
    return operations


def operation_of(export):
    if not export.operation_id or not operations_area():
        return None
    from models import Operation

    return Operation.get_or_none(Operation.id == export.operation_id)

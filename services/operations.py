"""The list of operations: long-running jobs of an organization (client import, data export).

A job calls start_operation() when it is asked for, set_progress() while it works, and ends through
finish() (finish_operation / fail_operation): the one place that stamps the end, tells the person who
started it ("operations" notification) and emits the "operation.finished" webhook.

A result or error is stored as what happened, a message key and its figures (`stored_message`), and
worded in the reader's language when shown (`message_text`; both in services/results.py): the list, the notification and the mail
each read it in their reader's language. Text stored before (or given as plain text) shows as it is."""
from flask_babel import force_locale

from models import Operation, User, db, utcnow
from services.results import message_parts, message_text

ACTIVE = ("pending", "running")
# The notification category a finished job is told in ("operations" unless named here).
CATEGORY_OF_KIND = {"client_import": "imports"}


def start_operation(user, kind):
    return Operation.create(organization=user.organization_id, user=user.id, kind=kind, status="pending")


def set_progress(operation, percent):
    """Mark the job running (stamping its start once) at `percent` (0-100)."""
    percent = max(0, min(int(percent), 100))
    now = utcnow()
    Operation.update(status="running", progress=percent).where(
        Operation.id == operation.id, Operation.status.in_(ACTIVE)).execute()
    Operation.update(started_at=now).where(Operation.id == operation.id, Operation.started_at.is_null()).execute()
    operation.status, operation.progress = "running", percent
    operation.started_at = operation.started_at or now


def finish(operation, status, result="", result_url="", error=""):
    """End the job once: completed or failed. Returns False when it had already ended."""
    now = utcnow()
    with db.atomic():
        changed = Operation.update(
            status=status, progress=100 if status == "completed" else Operation.progress, finished_at=now,
            started_at=operation.started_at or now, result=result[:500], result_url=result_url[:300], error=error[:500],
        ).where(Operation.id == operation.id, Operation.status.in_(ACTIVE)).execute()
        if not changed:
            return False
        operation = Operation.get_by_id(operation.id)
        data = {"kind": "operation", "operation_id": operation.id, "operation_kind": operation.kind,
                "title": operation.title, "status": status, "result": operation.result, "error": operation.error,
                "result_url": operation.result_url}
        person = User.get_or_none(User.id == operation.user_id) if operation.user_id else None
        if person is not None:
            from services.notifications import notify

            category = CATEGORY_OF_KIND.get(operation.kind, "operations")
            notify(person, category, data, key=f"operation:{operation.id}:{status}")
        emit_webhook(operation, webhook_data(data))
    return True


def webhook_data(data):
    """The webhook's payload: result and error worded in English (for the team's own product, like the API),
    with the message key and its figures beside them for a program to read."""
    data = dict(data)
    for name in ("result", "error"):
        key, figures = message_parts(data[name] or "")
        if key is not None:
            with force_locale("en"):
                data[name] = message_text(data[name])
            data[f"{name}_key"], data[f"{name}_figures"] = key, figures
    return data


def report(operation, percent=None, done=None, total=None, status_line=None):
    """A job reported from outside (the API): counts, a status line and the percent (from the counts when
    not given). Returns False when the job had already ended."""
    changes = {"status": "running"}
    if done is not None:
        changes["done"] = done
    if total is not None:
        changes["total"] = total
    if status_line is not None:
        changes["status_line"] = status_line[:200]
    done = operation.done if done is None else done
    total = operation.total if total is None else total
    if percent is None and done is not None and total:
        percent = done * 100 // total
    if percent is not None:
        changes["progress"] = max(0, min(int(percent), 100))
    now = utcnow()
    changed = Operation.update(**changes).where(Operation.id == operation.id, Operation.status.in_(ACTIVE)).execute()
    if not changed:
        return False
    Operation.update(started_at=now).where(Operation.id == operation.id, Operation.started_at.is_null()).execute()
    return True


def finish_operation(operation, result="", result_url=""):
    return finish(operation, "completed", result=str(result), result_url=result_url)


def fail_operation(operation, error):
    return finish(operation, "failed", error=str(error))


def emit_webhook(operation, data):
    """"operation.finished" to the organization's webhooks, when that area is present."""
    try:
        from services.webhooks import emit
    except ImportError:
        return
    emit(operation.organization, "operation.finished", {k: v for k, v in data.items() if k != "kind"})


def visible_to(user, shared_kinds):
    """The organization's operations `user` may see: their own, and every one of `shared_kinds` (e.g. client
    imports for those who see clients). A data export stays its owner's."""
    condition = Operation.user == user.id
    if shared_kinds:
        condition = condition | Operation.kind.in_(list(shared_kinds))
    return Operation.select().where(Operation.organization == user.organization_id, condition)


def any_active(user, shared_kinds=()):
    return visible_to(user, shared_kinds).where(Operation.status.in_(ACTIVE)).exists()


def operations_page(user, shared_kinds=(), before=None, per_page=30):
    """Newest first, keyset on id over the (organization, id) index."""
    query = visible_to(user, shared_kinds)
    if before:
        query = query.where(Operation.id < before)
    rows = list(query.order_by(Operation.id.desc()).limit(per_page + 1))
    return rows[:per_page], (rows[per_page - 1].id if len(rows) > per_page else None)

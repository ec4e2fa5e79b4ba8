"""The events log as a file: what the filters show, as CSV or JSON, streamed a chunk of rows at a time
(keyset, as the pages are read) and bounded at EXPORT_MAX rows; times in the viewer's time zone, the
actions in their language. CSV cells are neutralised against spreadsheet formulas (SECURITY.md 27);
every download is sent `Cache-Control: no-store` and audited."""
import csv
import io
import json

from flask import Response, request, stream_with_context
from flask_babel import get_timezone, to_user_timezone
from flask_babel import gettext as _

from models import utcnow
from services import audit
from services.permissions import permission_required

from blueprints.admin.core import bp, client_meta, me
from blueprints.admin.events import EventFilters, events, filter_arguments

EXPORT_MAX = 100_000
CHUNK = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("time", "actor", "impersonator", "action", "action_label", "target", "ip", "user_agent", "details")


def safe_cell(value):
    """A CSV cell a spreadsheet shows as text: a leading =, +, -, @, tab or CR gets an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def event_record(row):
    """One event as the export writes it (the time in the viewer's zone, ISO 8601 with its offset)."""
    return {
        "time": to_user_timezone(row.created_at).isoformat(timespec="seconds"),
        "actor": row.actor.email if row.actor_id else "",
        "impersonator": row.impersonator.email if row.impersonator_id else "",
        "action": row.action,
        "action_label": str(audit.action_label(row.action)),
        "target": row.target,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "details": {str(label): text for label, text in audit.details_of(row)} if row.details else {},
    }


def filtered_rows(organization_id, form):
    """The events the filters select, newest first, EXPORT_MAX at most, read CHUNK rows a query;
    then (None) when more were left out."""
    arguments = filter_arguments(form)
    cursor, sent = None, 0
    while sent < EXPORT_MAX:
        rows, _newer, older = audit.events_page(organization_id, older_than=cursor, size=min(CHUNK, EXPORT_MAX - sent),
                                                **arguments)
        for row in rows:
            yield row
        sent += len(rows)
        if older is None or not rows:
            return
        cursor = audit.decode_cursor(older)
    if audit.events_page(organization_id, older_than=cursor, size=1, **arguments)[0]:
        yield None


def csv_stream(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # spreadsheets read the file as UTF-8 (Cyrillic names and labels)
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows):
        if row is None:
            writer.writerow([safe_cell(_("More than %(n)d events: the rest is left out. Narrow the filters.", n=EXPORT_MAX))])
            break
        record = event_record(row)
        record["details"] = "; ".join(f"{k}: {v}" for k, v in record["details"].items())
        writer.writerow([safe_cell(record[name]) for name in COLUMNS])
        if count % 200 == 199:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_stream(rows):
    yield '{"time_zone": %s, "events": [' % json.dumps(str(get_timezone()))
    first, truncated = True, False
    for row in rows:
        if row is None:
            truncated = True
            break
        yield ("" if first else ",") + "\n" + json.dumps(event_record(row), ensure_ascii=False)
        first = False
    yield '\n], "truncated": %s, "limit": %d}\n' % (json.dumps(truncated), EXPORT_MAX)


@bp.get("/events/export.<any(csv, json):kind>")
@permission_required("events.view")
def export_events(kind):
    form = EventFilters(request.args)
    if not form.validate():
        return events()  # the events page with the messages at the filters (422)
    return export_response(me(), form, kind, via=kind, **client_meta())


def export_response(user, form, kind, **meta):
    """The streamed file (kind: csv or json) of what a valid EventFilters selects, audited with `meta`
    (ip, user_agent, via); the page and the API (blueprints/api/admin_events.py) both answer with it."""
    shown = ", ".join(f"{name}={value}" for name, value in form.active().items())
    audit.record("events.exported", actor=user, filters=shown or "—", **meta)
    rows = filtered_rows(user.organization_id, form)
    body = csv_stream(rows) if kind == "csv" else json_stream(rows)
    stamp = to_user_timezone(utcnow()).strftime("%Y-%m-%d-%H%M")
    response = Response(stream_with_context(body), mimetype="text/csv" if kind == "csv" else "application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="events-{stamp}.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response

"""The admin API for the events log (issue 17): the Events log page's filters and keyset pages, one event
with its comments, and the page's CSV and JSON downloads (the same streams, CSV cells safe from spreadsheet
formulas), for the key's owner with events.view. Days and times are in the owner's time zone, as the
pages show them to that person (app.select_timezone). Added to the JSON API's blueprint from here."""
from flask import g, jsonify
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from werkzeug.datastructures import MultiDict

from models import AuditEvent
from services import audit

from blueprints.admin.event_export import COLUMNS, EXPORT_MAX, event_record, export_response
from blueprints.admin.events import EventFilters, filter_arguments
from blueprints.api.core import audit_meta, bp, error, needs_permission, scope
from blueprints.api.spec import error_fields, operation

DAY = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
       "description": "A day in the key owner's time zone, 1900-01-01 to 2999-12-31"}
FILTERS = {
    "actor": {"type": "string", "maxLength": 254, "pattern": r"\S", "description": "Who: a person's e-mail"},
    "action": {"type": "string", "maxLength": 60, "enum": sorted(audit.ACTIONS), "pattern": r"^[a-z_.]+$"},
    "target": {"type": "string", "maxLength": 200, "pattern": r"\S", "description": "The target, exactly"},
    "ip": {"type": "string", "maxLength": 45, "pattern": r"\S", "description": "One IP address"},
    "since": DAY, "until": {**DAY, "description": "The last day included (not before `since`)"},
}
CURSOR = {"type": "string", "maxLength": 60, "pattern": audit.CURSOR.pattern,
          "description": "next_cursor of the previous page"}
FILTERS_TOLD = "The filters are the Events log page's: a filter the page refuses answers 422 naming it."
RECORD_PROPERTIES = {
    "time": {"type": "string", "format": "date-time", "description": "In the key owner's time zone, with its offset"},
    "actor": {"type": "string", "description": "E-mail, or empty for the system"},
    "impersonator": {"type": "string", "description": "The administrator who acted through “Sign in as”"},
    "action": {"type": "string"}, "action_label": {"type": "string"}, "target": {"type": "string"},
    "ip": {"type": "string"}, "user_agent": {"type": "string"},
    "details": {"type": "object", "additionalProperties": {"type": "string"}},
}
RECORD_SCHEMA = {"type": "object", "required": list(COLUMNS), "properties": RECORD_PROPERTIES}
EVENT_SCHEMA = {"type": "object", "required": ["id", *COLUMNS],
                "properties": {"id": {"type": "integer"}, **RECORD_PROPERTIES}}

COMMENT_SCHEMA = {"type": "object", "required": ["author", "text", "time"], "properties": {
    "author": {"type": "string"}, "text": {"type": "string"}, "time": {"type": "string", "format": "date-time"}}}
WITH_COMMENTS = {**EVENT_SCHEMA, "required": [*EVENT_SCHEMA["required"], "comments"],
                 "properties": {**EVENT_SCHEMA["properties"], "comments": {"type": "array", "items": COMMENT_SCHEMA}}}


def event_json(row):
    return {"id": row.id, **event_record(row)}


def filters_form():
    """The page's EventFilters over the query's filters: (form, None) when valid, else (None, 422)."""
    values = {name: g.api_query[name] for name in FILTERS if g.api_query[name] is not None}
    form = EventFilters(formdata=MultiDict(values), organization_id=g.api_user.organization_id, meta={"csrf": False})
    if not form.validate():
        return None, error_fields({name: [str(m) for m in messages] for name, messages in form.errors.items()})
    return form, None


@bp.get("/admin/events")
@scope("read")
@needs_permission("events.view")
@operation("The events log, newest first", {
    "type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": EVENT_SCHEMA},
        "next_cursor": {"type": ["string", "null"], "pattern": audit.CURSOR.pattern}}},
    description="events.view, as on the Events log page. " + FILTERS_TOLD + " Pass `next_cursor` back as "
                "`cursor` (with the same filters) for the next page; it is null on the last.",
    query={**FILTERS, "cursor": CURSOR, "limit": {"type": "integer", "minimum": 1, "maximum": 100,
                                                    "default": audit.PAGE_SIZE}})
def admin_events():
    form, problem = filters_form()
    if problem:
        return problem
    cursor = None
    if g.api_query["cursor"] is not None:
        cursor = audit.decode_cursor(g.api_query["cursor"])
        if cursor is None:
            return error_fields({"cursor": [_("This cursor is not valid: pass next_cursor of a previous page.")]})
    rows, _newer, older = audit.events_page(g.api_user.organization_id, **filter_arguments(form), older_than=cursor,
                                            size=g.api_query["limit"])
    return jsonify({"items": [event_json(row) for row in rows], "next_cursor": older})


@bp.get("/admin/events/<int:event_id>")
@scope("read")
@needs_permission("events.view")
@operation("One event of the log, with its comments", WITH_COMMENTS, description="events.view, as the event's page.")
def admin_event(event_id):
    row = AuditEvent.get_or_none(AuditEvent.id == event_id, AuditEvent.organization == g.api_user.organization_id)
    if row is None:
        return error(404, "not_found", _("There is no such event."))
    comments = [{"author": comment.author.email if comment.author_id else "", "text": comment.text,
                 "time": to_user_timezone(comment.created_at).isoformat(timespec="seconds")}
                for comment in audit.comments_of(row)]
    return jsonify({**event_json(row), "comments": comments})


def export(kind):
    form, problem = filters_form()
    if problem:
        return problem
    return export_response(g.api_user, form, kind, target=kind, **audit_meta())


EXPORT_TOLD = (f"events.view, as the page's download: what the filters select, newest first, at most {EXPORT_MAX} "
               "events. " + FILTERS_TOLD + " Streamed; audited.")


@bp.get("/admin/events/export.csv")
@scope("read")
@needs_permission("events.view")
@operation("The events log as a CSV file", {"type": "string", "description": "UTF-8 with a BOM; columns: "
                                            + ", ".join(COLUMNS)},
           media="text/csv", query=FILTERS,
           description=EXPORT_TOLD + " A cell that starts with =, +, -, @, a tab or a carriage return gets a "
                                     "leading apostrophe, so a spreadsheet shows it as text.")
def admin_events_csv():
    return export("csv")


@bp.get("/admin/events/export.json")
@scope("read")
@needs_permission("events.view")
@operation("The events log as a JSON file", {
    "type": "object", "required": ["time_zone", "events", "truncated", "limit"], "properties": {
        "time_zone": {"type": "string"}, "events": {"type": "array", "items": RECORD_SCHEMA},
        "truncated": {"type": "boolean", "description": "More events matched than `limit`"},
        "limit": {"type": "integer"}}},
    query=FILTERS, description=EXPORT_TOLD)
def admin_events_json():
    return export("json")

"""POST /api/v1/events: the product reports what happened (services/product_events.py: the catalog,
webhooks and the people concerned), once per Idempotency-Key. Added to the JSON API's blueprint from
blueprints/api.py; the catalog's extra types from PRODUCT_EVENTS are checked when the app starts."""
import json

from flask import current_app, g
from flask import request as http_request
from flask_babel import gettext as _

from models import User
from services import idempotency, product_events

from blueprints.api.core import bp, error, once, scope
from blueprints.api.spec import error_fields, operation
from blueprints.bounds import ID_MAX

bp.record_once(lambda state: product_events.register(state.app))

FIELDS = ("type", "data", "user_ids")

ANSWER_SCHEMA = {
    "type": "object", "required": ["id", "type", "webhooks", "notified"],
    "properties": {"id": {"type": "string", "description": "The Idempotency-Key"}, "type": {"type": "string"},
                   "webhooks": {"type": "integer", "description": "Deliveries queued"},
                   "notified": {"type": "integer", "description": "People told"}},
}


def event_body():
    catalog = product_events.catalog(current_app.config)
    lines = [f"`{name}`" + (f" (category {spec['category']}" + (f"; data: {', '.join(spec['fields'])})"
                                                                 if spec["fields"] else ")") if spec["category"] else "")
             for name, spec in catalog.items()]
    return {
        "type": "object", "additionalProperties": False, "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": list(catalog), "description": "One of: " + ", ".join(lines)},
            "data": {"type": "object", "description": f"What happened, as JSON (at most {product_events.DATA_MAX} "
                                                      "characters); the type's fields are required"},
            "user_ids": {"type": "array", "maxItems": product_events.RECIPIENTS_MAX, "uniqueItems": True,
                         "items": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
                         "description": "The people concerned; without it, everyone who may see the category"},
        },
        "examples": [{"type": "request.status_changed", "data": {"ref": "R-1042", "status": "In progress"}}],
    }


def problems_of(data, catalog):
    """{field: [message]} of a body that is a JSON object."""
    problems = {}
    unknown = sorted(set(data) - set(FIELDS))
    for name in unknown:
        problems[name[:60]] = [_("This field is not known.")]
    event_type = data.get("type")
    if not isinstance(event_type, str) or event_type not in catalog:
        problems["type"] = [_("Choose an event type of the catalog: %(list)s.", list=", ".join(catalog))]
    payload = data.get("data", {})
    if not isinstance(payload, dict):
        problems["data"] = [_("Send an object.")]
    elif len(json.dumps(payload, ensure_ascii=False)) > product_events.DATA_MAX:
        problems["data"] = [_("At most %(n)d characters.", n=product_events.DATA_MAX)]
    elif "type" not in problems:
        missing = [field for field in catalog[event_type]["fields"] if payload.get(field) in (None, "")]
        if missing:
            problems["data"] = [_("This event needs: %(list)s.", list=", ".join(missing))]
    user_ids = data.get("user_ids")
    if user_ids is not None and not (
            isinstance(user_ids, list) and len(user_ids) <= product_events.RECIPIENTS_MAX
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= ID_MAX for i in user_ids)):
        problems["user_ids"] = [_("Send a list of at most %(n)d person ids.", n=product_events.RECIPIENTS_MAX)]
    return problems


@bp.post("/events")
@scope("write", service=True)
@operation("Report an event of the product", ANSWER_SCHEMA, status=202, body=event_body,
           headers={idempotency.HEADER: idempotency.KEY_SCHEMA},
           description="Sent to the organization's webhooks subscribed to its type and, when the type has a "
                       "notification category, to the people concerned by their channels. The same "
                       "Idempotency-Key again answers the same and sends nothing more; with another body: 422.")
def report_event():
    data = http_request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "bad_request", _("Send a JSON object."))
    catalog = product_events.catalog()
    problems = problems_of(data, catalog)
    if problems:
        return error_fields(problems)
    org_id = g.api_organization_id
    user_ids = data.get("user_ids")
    if user_ids:
        known = {row.id for row in User.select(User.id).where(User.organization == org_id, User.id.in_(user_ids))}
        if set(user_ids) - known:
            return error_fields({"user_ids": [_("There is no such person in your organization.")]})
    key = g.api_headers[idempotency.HEADER]

    def act():
        queued, told = product_events.report(org_id, data["type"], key, data.get("data") or {}, user_ids)
        return 202, {"id": key, "type": data["type"], "webhooks": queued, "notified": told}

    return once(data, act)

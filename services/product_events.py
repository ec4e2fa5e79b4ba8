"""Events the product reports (POST /api/v1/events): a catalog of types, each fanned out to the
organization's webhooks subscribed to it (services.webhooks.emit) and, when it has a category of the
notification matrix, to the people concerned by their chosen channels (services.notifications.notify),
all in the caller's transaction.

The built-in types are below; the PRODUCT_EVENTS setting adds more as JSON,
{"order.paid": {"label": "Order paid", "category": "billing", "fields": ["number"]}}: `category` one of
models.notifications.CATEGORIES or absent (webhooks only), `fields` the keys `data` must hold."""
import json
import re

from flask import current_app

from models import User
from models.notifications import CATEGORIES

from . import webhooks

NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
BUILTIN = {
    "dispatch.sent": {"category": None, "fields": ()},
    "message.opened": {"category": None, "fields": ()},
    "link.clicked": {"category": None, "fields": ()},
    "request.status_changed": {"category": "requests", "fields": ("ref", "status")},
    "import.finished": {"category": "imports", "fields": ("count",)},
}
DATA_MAX = 4000  # characters of `data` as JSON
RECIPIENTS_MAX = 100


class CatalogError(ValueError):
    """PRODUCT_EVENTS is not valid; the app refuses to start with it."""


def configured(config):
    """The extra types of `config` ({name: {"label", "category", "fields"}}), checked."""
    raw = config.get("PRODUCT_EVENTS") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise CatalogError(f"PRODUCT_EVENTS is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CatalogError("PRODUCT_EVENTS must be a JSON object of event types")
    extras = {}
    for name, spec in raw.items():
        spec = spec if isinstance(spec, dict) else {}
        category, fields = spec.get("category"), spec.get("fields") or []
        if not NAME.match(name) or len(name) > 60:
            raise CatalogError(f"PRODUCT_EVENTS: {name!r} is not a name like order.paid")
        if category is not None and category not in CATEGORIES:
            raise CatalogError(f"PRODUCT_EVENTS: {name}: category must be one of {', '.join(CATEGORIES)}")
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise CatalogError(f"PRODUCT_EVENTS: {name}: fields must be a list of names")
        extras[name] = {"category": category, "fields": tuple(fields), "label": str(spec.get("label") or name)}
    return extras


def register(app):
    """At start: check the setting and let this app's webhooks subscribe to the extra types (kept per app, so
    one app's configuration never shows in another's)."""
    extras = {name: spec["label"] for name, spec in configured(app.config).items() if name not in webhooks.EVENT_TYPES}
    app.extensions["webhook_event_types"] = {**webhooks.EVENT_TYPES, **extras}


def catalog(config=None):
    """{type: {"category", "fields"}} of every type the product may report."""
    return {**BUILTIN, **configured(config if config is not None else current_app.config)}


def notification_data(event_type, data):
    """What the notification of `event_type` says (its text is made in the reader's language)."""
    text = {key: str(value)[:200] for key, value in data.items() if isinstance(value, (str, int, float))}
    if event_type == "request.status_changed":
        return {"kind": "request", "ref": text.get("ref", ""), "status": text.get("status", "")}
    if event_type == "import.finished":
        return {"kind": "client_import", "count": text.get("count", "0"), "file": text.get("file", "")}
    summary = text.get("text") or ", ".join(f"{k}: {v}" for k, v in text.items())[:300]
    return {"kind": "event", "event": event_type, "text": f"{event_type}: {summary}" if summary else event_type}


def people_concerned(organization_id, category, user_ids=None):
    """The named people of the organization, or without names everyone enabled who may see `category`."""
    from services.permissions import has_permission

    from services.notifications import CATEGORY_PERMISSION

    people = User.select().where(User.organization == organization_id, User.status == "enabled")
    if user_ids is not None:
        return list(people.where(User.id.in_(user_ids)))
    permission = CATEGORY_PERMISSION.get(category)
    return [person for person in people if permission is None or has_permission(person, permission)]


def report(organization_id, event_type, event_id, data, user_ids=None):
    """Fan the event out; returns (webhook deliveries queued, people notified). Call it in a transaction."""
    from services.notifications import notify

    spec = catalog()[event_type]
    queued = webhooks.emit(organization_id, event_type, {"id": event_id, "data": data})
    told = 0
    if spec["category"]:
        for person in people_concerned(organization_id, spec["category"], user_ids):
            if notify(person, spec["category"], notification_data(event_type, data),
                      key=f"event:{organization_id}:{event_id}:{person.id}"):
                told += 1
    return queued, told

"""POST /api/v1/notifications: the product tells one person, or everyone holding a permission, something in
a category of the notification matrix, with the title and text in every language of the app (each reader
gets theirs) by the channels they chose; once per Idempotency-Key. Added to the JSON API's blueprint from
blueprints/api.py."""
from flask import current_app, g
from flask import request as http_request
from flask_babel import gettext as _

from models import User
from models.notifications import CATEGORIES
from services import idempotency
from services.permissions import PERMISSIONS, has_permission

from blueprints.api.core import bp, error, once, scope
from blueprints.api.spec import error_fields, operation
from blueprints.bounds import ID_MAX
from blueprints.forms import CONTROL_CHARS

FIELDS = ("category", "title", "text", "user_id", "permission")
LIMITS = {"title": 200, "text": 2000}
ANSWER_SCHEMA = {"type": "object", "required": ["id", "notified"],
                 "properties": {"id": {"type": "string"}, "notified": {"type": "integer"}}}


def texts_schema(limit):
    languages = current_app.config["LANGUAGES"]
    return {"type": "object", "additionalProperties": False, "required": list(languages),
            "properties": {lang: {"type": "string", "minLength": 1, "maxLength": limit, "pattern": r"\S"}
                           for lang in languages}}


def message_body():
    return {
        "type": "object", "additionalProperties": False, "required": ["category", "title", "text"],
        "properties": {
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "title": texts_schema(LIMITS["title"]), "text": texts_schema(LIMITS["text"]),
            "user_id": {"type": "integer", "minimum": 1, "maximum": ID_MAX,
                        "description": "One person of the organization (or give `permission`)"},
            "permission": {"type": "string", "enum": list(PERMISSIONS),
                           "description": "Everyone of the organization holding it (or give `user_id`)"},
        },
        "examples": [{"category": "requests", "user_id": 1,
                      "title": {"en": "Request answered", "ru": "На заявку ответили"},
                      "text": {"en": "Request R-1042 got an answer.", "ru": "На заявку R-1042 пришёл ответ."}}],
    }


def problems_of(data):
    problems = {name[:60]: [_("This field is not known.")] for name in sorted(set(data) - set(FIELDS))}
    if data.get("category") not in CATEGORIES:
        problems["category"] = [_("Choose a category of the notification settings: %(list)s.", list=", ".join(CATEGORIES))]
    languages = current_app.config["LANGUAGES"]
    for field, limit in LIMITS.items():
        value = data.get(field)
        if not (isinstance(value, dict) and set(value) == set(languages) and all(
                isinstance(v, str) and v.strip() and len(v) <= limit and not CONTROL_CHARS.search(v)
                for v in value.values())):
            problems[field] = [_("Give the text in every language (%(list)s), at most %(n)d characters each.",
                                 list=", ".join(languages), n=limit)]
    user_id, permission = data.get("user_id"), data.get("permission")
    if (user_id is None) == (permission is None):
        problems["user_id"] = [_("Give either user_id or permission.")]
    elif user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int) or not 0 < user_id <= ID_MAX):
        problems["user_id"] = [_("There is no such person in your organization.")]
    elif permission is not None and permission not in PERMISSIONS:
        problems["permission"] = [_("Choose a permission: %(list)s.", list=", ".join(PERMISSIONS))]
    return problems


def recipients(org_id, category, user_id=None, permission=None):
    """Enabled people of the organization it is for, who may see `category` (billing needs billing.view...)."""
    from services.notifications import CATEGORY_PERMISSION

    people = User.select().where(User.organization == org_id, User.status == "enabled")
    if user_id is not None:
        people = people.where(User.id == user_id)
    needed = [p for p in (permission, CATEGORY_PERMISSION.get(category)) if p]
    return [person for person in people if all(has_permission(person, p) for p in needed)]


@bp.post("/notifications")
@scope("write", service=True)
@operation("Notify a person, or everyone holding a permission", ANSWER_SCHEMA, status=202, body=message_body,
           headers={idempotency.HEADER: idempotency.KEY_SCHEMA},
           description="In a category of the notification matrix, by the channels each reader chose, in the "
                       "reader's language. People who may not see the category are left out. The same "
                       "Idempotency-Key again sends nothing more; with another body: 422.")
def send_notification():
    from services.notifications import notify

    data = http_request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "bad_request", _("Send a JSON object."))
    problems = problems_of(data)
    if problems:
        return error_fields(problems)
    org_id = g.api_organization_id
    if data.get("user_id") is not None and not User.select().where(
            User.id == data["user_id"], User.organization == org_id).exists():
        return error_fields({"user_id": [_("There is no such person in your organization.")]})
    key = g.api_headers[idempotency.HEADER]

    def act():
        told = 0
        for person in recipients(org_id, data["category"], data.get("user_id"), data.get("permission")):
            message = {"kind": "message", "title": data["title"], "text": data["text"]}
            if notify(person, data["category"], message, key=f"message:{org_id}:{key}:{person.id}"):
                told += 1
        return 202, {"id": key, "notified": told}

    return once(data, act)

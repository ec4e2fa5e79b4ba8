"""The JSON API (/api/v1): bearer API keys, scopes, per-key rate limits, JSON errors, an OpenAPI document.

CSRF does not apply (csrf.exempt): requests carry a bearer key, never the session cookie.
"""
import hashlib
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from config import Config
from extensions import count_attempt, csrf, language_for, seconds_until_allowed
from models import User
from services import apikeys, audit, idempotency, region, service_keys
from services.permissions import PERMISSIONS, has_permission

from blueprints.api.spec import build_document, error_fields, form_schema, operation
from blueprints.bounds import ID_MAX

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PROFILE_FIELDS = ("full_name", "short_info", "language", "time_zone")


def error(status, code, message):
    response = jsonify({"code": code, "message": str(message)})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kabinet"'
    return response


def once(data, act):
    """`act()` -> (status, JSON-able body), run once for the request's Idempotency-Key in the key's
    organization: the same key again answers the stored response (Idempotent-Replayed: true); the key
    with another method, path or body `data` is refused with 422, the header named."""
    fingerprint = idempotency.fingerprint(request.method, request.path, data)
    try:
        status, body, replayed = idempotency.once(g.api_organization_id, g.api_headers[idempotency.HEADER],
                                                  fingerprint, act)
    except idempotency.Mismatch:
        return error_fields({idempotency.HEADER: [
            _("This key was already used for another request. Use a new key for a new change.")]})
    response = jsonify(body)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def rate_limit_key():
    """Per key: the hash of the presented bearer token (anonymous callers share their IP's bucket)."""
    header = request.headers.get("Authorization", "")
    if header:
        return "api-key:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return "api-ip:" + (request.remote_addr or "")


@bp.before_request
def rate_limit():
    """API_RATE_LIMIT per key, counted before the key is checked (guessing keys is limited too)."""
    limit, key = current_app.config["API_RATE_LIMIT"], rate_limit_key()
    if count_attempt(limit, key):
        return None
    response = error(429, "rate_limited", _("Too many requests for this key. Wait a little and try again."))
    response.headers["Retry-After"] = str(seconds_until_allowed(limit, key))
    return response


@bp.errorhandler(HTTPException)
def http_error(exc):
    codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
             415: "unsupported_media_type"}
    messages = {404: _("There is nothing here."), 405: _("This method is not allowed here."),
                413: _("The request is too large: at most %(size)d bytes.",
                       size=current_app.config["MAX_CONTENT_LENGTH"] or 0)}
    code = exc.code or 500
    return error(code, codes.get(code, "error"), messages.get(code, exc.name))


@bp.errorhandler(Exception)
def unexpected(exc):
    current_app.logger.exception("API error")
    return error(500, "server_error", _("Something went wrong on our side. Please try again."))


@bp.before_request
def authenticate():
    """Every route but the OpenAPI document needs `Authorization: Bearer <key>`."""
    if request.endpoint in ("api.openapi", None):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _sep, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return error(401, "unauthorized", _("Send an API key: Authorization: Bearer <key>."))
    key = key.strip()
    if service_keys.is_service_key(key):
        row, problem = service_keys.authenticate(key, request.remote_addr or "", request.method, request.path)
    else:
        row, problem = apikeys.authenticate(key)
    if row is None:
        if problem == "address":
            return error(403, "address_not_allowed", _("This key may not be used from your address."))
        messages = {"revoked": _("This API key has been revoked."), "expired": _("This API key has expired.")}
        return error(401, problem if problem != "invalid" else "unauthorized",
                     messages.get(problem, _("This API key is not valid.")))
    g.api_key = row
    g.api_user = User.get_by_id(row.user_id) if row.user_id is not None else None  # None: a service key
    g.api_organization_id = g.api_user.organization_id if g.api_user else row.organization_id
    return None


@bp.after_request
def record_service_key_use(response):
    """Each request a service key made is kept in its trail with the answer's status (the key's page)."""
    row = g.get("api_key")
    if row is not None and row.user_id is None:
        try:
            service_keys.record_use(row, request.remote_addr or "", request.method, request.path, response.status_code)
        except Exception:  # noqa: BLE001 (the database is away: the answer stands, the operator reads the log)
            current_app.logger.exception("service key use not recorded")
    return response


def scope(name, service=False):
    """The key must carry scope `name` (write implies nothing else: a write-only key cannot read). Unless
    `service` is true the route acts for a person, and an organization's service key is refused with 403."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if name not in g.api_key.scope_list:
                return error(403, "insufficient_scope", _("This API key lacks the “%(scope)s” scope.", scope=name))
            if not service and g.api_user is None:
                return error(403, "person_required",
                             _("This route acts for a person: use a personal API key, not a service key."))
            return view(*args, **kwargs)
        wrapper.required_scope = name  # tests/test_api_auth.py reads it to walk every route
        wrapper.accepts_service_key = service
        return wrapper
    return decorate


def needs_permission(permission):
    """For admin routes under a `scope`: the key's owner must hold `permission`, exactly as the matching
    page asks (services.permissions). Put it below `@scope(...)`, which has already refused service keys."""
    label = PERMISSIONS[permission]  # a KeyError at import time for a permission that does not exist

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not has_permission(g.api_user, permission):
                return error(403, "forbidden", _("The key's owner lacks the permission “%(permission)s”.",
                                                 permission=label))
            return view(*args, **kwargs)
        wrapper.required_permission = permission  # tests/test_api_auth.py expects 403 without it
        return wrapper
    return decorate


def audit_meta():
    """An audit event's ip, user agent and `via` for a change made through the API."""
    return {"ip": request.remote_addr or "", "user_agent": request.headers.get("User-Agent", "")[:300], "via": "api"}


def user_json(user):
    return {
        "id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "short_info": user.short_info,
        "phone": user.phone,
        "language": user.language,
        "country": user.country,
        "time_zone": user.time_zone,
        "two_factor": user.two_factor,
        "organization": {"id": user.organization_id, "name": user.organization.name},
    }


@bp.get("/me")
@scope("read")
@operation("The key's owner", {"$ref": "#/components/schemas/User"})
def me():
    return jsonify(user_json(g.api_user))


def profile_body():
    """PATCH /me's body: the personal-data page's forms, and what RegionForm checks in code."""
    from blueprints.person.profile import FullNameForm, RegionForm, ShortInfoForm

    return form_schema((FullNameForm, ShortInfoForm, RegionForm), PROFILE_FIELDS, overrides={
        "language": {"enum": ["", *current_app.config["LANGUAGES"]], "description": "Empty: the browser's language"},
        "time_zone": {"enum": ["", *region.time_zones()], "description": "An IANA name; empty: from the country"},
    }, example={"full_name": "Anna Petrova", "time_zone": "Europe/Moscow"})


@bp.patch("/me")
@scope("write")
@operation("Change name, short info, language or time zone", {"$ref": "#/components/schemas/User"},
           description="Validated like the personal-data page; an empty object changes nothing.",
           body=profile_body)
def update_me():
    """Change name, short info, language or time zone, validated by the same forms as the page."""
    from blueprints.person.profile import FullNameForm, RegionForm, ShortInfoForm

    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "bad_request", _("Send a JSON object."))
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if unknown:
        return error(422, "unknown_field", _("These fields cannot be changed: %(list)s.", list=", ".join(unknown)[:200]))
    if any(value is not None and not isinstance(value, str) for value in data.values()):
        return error(422, "invalid", _("Every value must be a string."))
    if not data:
        return jsonify(user_json(g.api_user))  # nothing to change
    user = g.api_user
    current = {"full_name": user.full_name, "short_info": user.short_info,
               "language": user.language or "", "time_zone": user.time_zone or "", "country": user.country or ""}
    merged = {**current, **{k: (v or "") for k, v in data.items()}}
    formdata = MultiDict(merged)
    meta = {"csrf": False}
    forms = [FullNameForm(formdata=formdata, meta=meta), ShortInfoForm(formdata=formdata, meta=meta),
             RegionForm(str(user.language or "en"), formdata=formdata, meta=meta)]
    errors = {}
    for form in forms:
        if not form.validate():
            errors.update({name: [str(m) for m in messages] for name, messages in form.errors.items()})
    errors = {k: v for k, v in errors.items() if k in data}
    if errors:
        return error_fields(errors)
    changes = {field: (forms[0].full_name.data if field == "full_name" else
                       forms[1].short_info.data if field == "short_info" else
                       getattr(forms[2], field).data or None)
               for field in data}
    User.update(**changes).where(User.id == user.id).execute()
    audit.record("profile.changed", actor=user, via="api", fields=sorted(changes), ip=request.remote_addr or "",
                 user_agent=request.headers.get("User-Agent", "")[:300])
    return jsonify(user_json(User.get_by_id(user.id)))


@bp.get("/notifications")
@scope("read")
@operation("In-app notifications, newest first", {
    "type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Notification"}},
        "next_cursor": {"type": ["string", "null"], "pattern": "^[0-9]{1,19}$"}}},
    description="Texts are in the key owner's language, times in UTC. Pass `next_cursor` back as `cursor` "
                "for the next page; it is null on the last.",
    query={"cursor": {"type": "integer", "minimum": 1, "maximum": ID_MAX,
                      "description": "next_cursor of the previous page"},
           "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}})
def notifications():
    """The key owner's in-app notifications, newest first, `limit` at a time; `cursor` continues a listing."""
    from services.notifications import feed_page, notification_view

    cursor, limit = g.api_query["cursor"], g.api_query["limit"]
    user = g.api_user
    rows, next_before = feed_page(user.id, before=cursor, per_page=limit)
    language = language_for(user)
    with force_locale(language):
        items = [notification_view(row, user, language) for row in rows]
    return jsonify({"items": items, "next_cursor": str(next_before) if next_before else None})


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(_rest):
    return error(404, "not_found", _("There is nothing here."))


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


USER_SCHEMA = {
    "type": "object",
    "required": ["id", "email", "full_name", "short_info", "phone", "language", "country", "time_zone", "two_factor",
                 "organization"],
    "properties": {
        "id": {"type": "integer"}, "email": {"type": "string", "format": "email"},
        "full_name": {"type": "string"}, "short_info": {"type": "string"},
        "phone": {"type": ["string", "null"], "description": "E.164"},
        "language": {"type": ["string", "null"], "enum": [*Config.LANGUAGES, None]},
        "country": {"type": ["string", "null"]}, "time_zone": {"type": ["string", "null"]},
        "two_factor": {"type": "string", "enum": ["off", "email", "totp"]},
        "organization": {"type": "object", "required": ["id", "name"],
                         "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
    },
}

COMPONENTS = {
    "openapi": "3.1.0",
    "info": {"title": "Kabinet API", "version": "1",
             "description": "Authenticate with `Authorization: Bearer <key>`: a person's API key (`kab_…`, "
                            "Integrations → API keys) or the organization's service key (`kabs_…`, Integrations → "
                            "Service keys; it acts for no person, so routes about a person answer it 403). Errors are JSON objects with `code`, `message` and, for invalid "
                            "input, `fields`. Built from the routes themselves (blueprints/api/spec.py)."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["code", "message"],
                      "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                     "fields": {"type": "object", "additionalProperties": {
                                         "type": "array", "items": {"type": "string"}}}}},
            "User": USER_SCHEMA,
            "Notification": {"type": "object", "required": ["id", "category", "title", "text", "created_at", "read"],
                             "properties": {
                                 "id": {"type": "integer"},
                                 "category": {"type": "string", "enum": ["requests", "imports", "billing",
                                                                         "low_balance", "security", "operations"]},
                                 "title": {"type": "string"}, "text": {"type": "string"},
                                 "created_at": {"type": "string", "format": "date-time"},
                                 "read": {"type": "boolean"}}},
        },
    },
}


def document():
    """The app's document, built once (the URL map does not change after start)."""
    if "api_openapi" not in current_app.extensions:
        current_app.extensions["api_openapi"] = build_document(current_app, "/api/v1", COMPONENTS)
    return current_app.extensions["api_openapi"]

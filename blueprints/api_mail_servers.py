"""GET /api/v1/mail-servers: a person's mail servers in the JSON API (never their passwords).
Added to the JSON API's blueprint from here, like the invoices."""
from flask import abort, g, jsonify

from models import MailServer
from services.mail_servers import api_view

from .api import OPENAPI, _responses, bp, scope


def own_servers():
    user = g.api_user
    return MailServer.select().where(
        MailServer.owner == user.id, MailServer.organization == user.organization_id
    )


@bp.get("/mail-servers")
@scope("read")
def mail_servers():
    return jsonify({"items": [api_view(server) for server in own_servers().order_by(MailServer.id)]})


@bp.get("/mail-servers/<int:server_id>")
@scope("read")
def mail_server(server_id):
    server = own_servers().where(MailServer.id == server_id).first()
    if server is None:
        abort(404)  # the API's own handler answers in JSON; someone else's id looks like a missing one
    return jsonify(api_view(server))


SERVER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "host": {"type": "string"},
        "port": {"type": "integer"},
        "security": {"type": "string", "enum": ["ssl", "starttls", "none"]},
        "username": {"type": "string"},
        "has_password": {"type": "boolean", "description": "The password itself is never returned"},
        "from_email": {"type": "string", "format": "email"},
        "from_name": {"type": "string"},
        "status": {"type": "string", "enum": ["checking", "online", "offline"]},
        "checked_at": {"type": ["string", "null"], "format": "date-time"},
        "reason": {"type": ["string", "null"],
                   "enum": ["refused", "timeout", "tls", "auth", "dns", "protocol", "blocked", None]},
        "reply_code": {"type": ["integer", "null"]},
    },
}
OPENAPI["paths"]["/mail-servers"] = {"get": {
    "summary": "The key owner's mail servers with their last checked status (scope: read)",
    "responses": _responses({"description": "The servers", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"items": {"type": "array", "items": SERVER_SCHEMA}}}}}}, "401", "403", "429"),
}}
OPENAPI["paths"]["/mail-servers/{id}"] = {"get": {
    "summary": "One of the key owner's mail servers (scope: read); another person's id answers 404",
    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
    "responses": _responses({"description": "The server", "content": {"application/json": {
        "schema": SERVER_SCHEMA}}}, "401", "403", "429"),
}}

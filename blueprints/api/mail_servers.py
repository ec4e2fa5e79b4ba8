"""GET /api/v1/mail-servers: a person's mail servers in the JSON API (never their passwords).
Added to the JSON API's blueprint from here, like the invoices."""
from flask import abort, g, jsonify

from models import MailServer
from services.mail_servers import api_view

from blueprints.api.core import bp, scope
from blueprints.api.spec import operation
from blueprints.bounds import ID_MAX

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


def own_servers():
    user = g.api_user
    return MailServer.select().where(
        MailServer.owner == user.id, MailServer.organization == user.organization_id
    )


@bp.get("/mail-servers")
@scope("read")
@operation("The key owner's mail servers with their last checked status", {
    "type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": SERVER_SCHEMA}}})
def mail_servers():
    return jsonify({"items": [api_view(server) for server in own_servers().order_by(MailServer.id)]})


@bp.get(f"/mail-servers/<int(max={ID_MAX}):server_id>")  # a larger id fits no column: 404, like a missing one
@scope("read")
@operation("One of the key owner's mail servers", SERVER_SCHEMA, description="Another person's id answers 404.")
def mail_server(server_id):
    server = own_servers().where(MailServer.id == server_id).first()
    if server is None:
        abort(404)  # the API's own handler answers in JSON; someone else's id looks like a missing one
    return jsonify(api_view(server))

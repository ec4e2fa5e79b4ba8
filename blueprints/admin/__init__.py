"""The back office under /admin: users, groups and permissions, client tags, clients, events log, and
the organization's legal data.

Every page needs a signed-in person (one before_request) and its own permission (a decorator on
each view); records of another organization answer 404."""
from flask import Blueprint, abort, current_app, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from services.permissions import PERMISSIONS, permissions_of

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The first page of the area each permission opens, in menu order.
SECTIONS = (
    ("users.view", "admin.users", _l("Users")),
    ("groups.manage", "admin.groups", _l("Groups")),
    ("tags.manage", "admin.client_tags", _l("Client tags")),
    ("clients.view", "admin.clients", _l("Clients")),
    ("events.view", "admin.events", _l("Events log")),
    ("billing.edit", "admin.organization", _l("Organization")),
)


@bp.before_request
@login_required
def require_login():
    """Every back-office page needs a signed-in person; permissions are checked per view."""


def me():
    return current_user._get_current_object()


def own(model, record_id, *, field="organization"):
    """The record of the current organization with this id, or 404 (SECURITY.md 19)."""
    if record_id >= 2**63:  # no such id can exist, and the database would refuse to bind it
        abort(404)
    record = model.get_or_none((model.id == record_id) & (getattr(model, field) == current_user.organization_id))
    if record is None:
        abort(404)
    return record


def client_meta():
    return {"ip": request.remote_addr or "", "user_agent": request.headers.get("User-Agent", "")[:300]}


def visible_sections(user):
    """[(endpoint, label, is_current)] for the sections `user` may open."""
    held = permissions_of(user)
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    here = getattr(view, "__module__", "")
    return [
        (endpoint, label, current_app.view_functions[endpoint].__module__ == here)
        for permission, endpoint, label in SECTIONS
        if permission in held and endpoint in current_app.view_functions
    ]


@bp.get("/")
def index():
    sections = visible_sections(me())
    if not sections:
        abort(403)
    return redirect(url_for(sections[0][0]))


@bp.app_template_global()
def admin_sections():
    """The sections the signed-in person may open (the top bar's Administration link, the back office's
    menu), worked out once per request and only when a template asks: fragments (an autosave's state
    line, a status cell) render without the top bar, so they skip the permission query."""
    if "admin_sections" not in g:
        user = current_user if current_user and current_user.is_authenticated else None
        g.admin_sections = visible_sections(user) if user else []
    return g.admin_sections


from . import bulk, clients, event_export, event_retention, events, groups, impersonation, invitations, organization, user_manage, user_security, user_sessions, users  # noqa: E402,F401  (routes register on bp)

__all__ = ["bp", "PERMISSIONS"]

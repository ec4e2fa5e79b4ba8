"""The account panel on every signed-in page (seed 003, DESIGN.md "What a person sees"): the person, the
organization, administration; each entry shown only to those allowed to open it.

`panel()` is a template global worked out once per request, and only when base.html draws the frame
(fragments skip it). API keys and webhooks are the organization's Integrations, not the person's
Security, although their routes still live in the security blueprint (its re-authentication rule)."""
from flask import Blueprint, current_app, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from extensions import locale_code
from services.permissions import permissions_of

bp = Blueprint("panel", __name__)

INTEGRATION_PREFIXES = ("security.api_key", "security.create_api_key", "security.edit_api_key", "security.revoke_api_key",
                        "security.webhook", "security.create_webhook", "security.test_webhook",
                        "security.rotate_webhook", "security.delete_webhook", "security.service_key",
                        "security.create_service_key", "security.revoke_service_key")


def section_of(endpoint):
    """The panel entry (its endpoint) a page belongs to."""
    if endpoint.startswith(INTEGRATION_PREFIXES):
        return "security.api_keys"
    if endpoint.startswith(("security.", "passkeys.")):
        return "security.index"
    if endpoint.startswith(("profile.", "mail_servers.")):
        return "profile.personal_data"
    if endpoint.startswith("account."):
        from blueprints.organization.account import current_section

        return {"billing": "account.billing", "files": "account.file_list", "gdpr": "account.agreements"}.get(
            current_section(), "account.privacy")
    return endpoint


# (group title, [(endpoint, label, permission or None for everyone)]), in panel order.
GROUPS = (
    (_l("My account"), (
        ("profile.personal_data", _l("Personal data"), None),
        ("security.index", _l("Security"), None),
        ("notifications.feed", _l("Notifications"), None),
        ("notifications.operations", _l("List of operations"), None),
        ("account.privacy", _l("My data"), None),
    )),
    (_l("Organization"), (
        ("account.billing", _l("Settlements"), "billing.view"),
        ("account.file_list", _l("File manager"), "files.manage"),
        ("account.agreements", _l("Data processing agreements"), "gdpr.manage"),
        ("security.api_keys", _l("Integrations"), None),
    )),
)


@bp.app_template_global()
def panel():
    """[(title, [(endpoint, label, is_current)])] for the signed-in person; empty groups are left out."""
    if "panel" not in g:
        from blueprints.admin.core import admin_sections

        here = section_of(request.endpoint or "")
        held = permissions_of(current_user)
        groups = []
        for title, entries in GROUPS:
            shown = [(target, label, target == here) for target, label, permission in entries
                     if permission is None or permission in held]
            if shown:
                groups.append((title, shown))
        if admin_sections():
            groups.append((_l("Administration"), admin_sections()))
        g.panel = groups
    return g.panel


DRAWN_MAX = 500  # kinds of panel kept per app: (language, script root, the entries and which is current)


@bp.app_template_global()
def panel_html():
    """_panel.html, drawn once per language and set of entries (with the current one) and kept: it holds no
    one's data, only the menu that everyone allowed the same entries sees, and it was a tenth of a page's cost.
    Not kept while templates reload (development)."""
    groups = panel()
    key = (locale_code(), request.script_root, tuple((target, current) for _title, entries in groups
                                                     for target, _label, current in entries))
    drawn = current_app.extensions.setdefault("panel_html", {})
    html = drawn.get(key)
    if html is None:
        html = Markup(render_template("_panel.html", groups=groups))
        if not current_app.jinja_env.auto_reload:
            if len(drawn) >= DRAWN_MAX:
                drawn.clear()
            drawn[key] = html
    return html

"""Service keys page (/app/security/service-keys): the organization's API keys that belong to no person,
for those who hold integrations.manage. Create (name, scopes, expiry, allowed addresses; the key is shown
once, in the answer to the POST that made it), list with last use and use count, revoke.

The routes join the security blueprint, so its re-authentication rule covers them."""
from datetime import timedelta

from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import ValidationError

from models import ServiceKey, db, utcnow
from services import audit, ipallow, service_keys
from services.permissions import has_permission

from blueprints import render, see_other
from blueprints.auth import client_meta
from blueprints.forms import Form, max_length, required
from blueprints.organization.api_keys import SCOPE_LABELS, ScopesField, expiry_datetime, parse_expiry
from blueprints.person.security import bp, me, owned_or_404

PAGE = "security/service_keys.html"
PERMISSION = "integrations.manage"


class ServiceKeyForm(Form):
    name = StringField(_l("Name"), validators=[required(_l("Give the key a name.")), max_length(service_keys.NAME_MAX)],
                       description=_l("Which system uses the key, e.g. “Mailing service”."))
    scopes = ScopesField(_l("Scopes"))
    expires_on = StringField(_l("Expires on"), validators=[max_length(10)],
                             description=_l("Optional. The key stops working at the start of this day (UTC)."))
    allowed_ips = TextAreaField(
        _l("Allowed addresses"), validators=[max_length(ipallow.MAX_CHARS)],
        description=_l("One IPv4 or IPv6 address or range (CIDR, like 192.0.2.0/24) a line. Empty: anywhere."))

    def validate_expires_on(self, field):
        parse_expiry(field.data)

    def validate_allowed_ips(self, field):
        _networks, problem = ipallow.parse(field.data)
        if problem:
            raise ValidationError(problem)


def manager():
    user = me()
    if not has_permission(user, PERMISSION):
        abort(403)
    return user


def page(status=200, form=None, new_key=None, new_row=None):
    user = manager()
    return render(
        PAGE, block="create_card", status=status, oob=("keys_table",) if new_key else (),
        form=form or ServiceKeyForm(formdata=None, scopes=["read"]), keys=service_keys.keys_of(user.organization_id),
        new_key=new_key, new_row=new_row, state=service_keys.state, scope_labels=SCOPE_LABELS,
        min_expiry=(utcnow().date() + timedelta(days=1)).isoformat(), client_ip=request.remote_addr or "",
    )


@bp.get("/service-keys")
def service_keys_page():
    return page()


@bp.post("/service-keys")
def create_service_key():
    user = manager()
    form = ServiceKeyForm()
    if not form.validate_on_submit():
        return page(422, form=form)
    with db.atomic():
        if service_keys.live_keys(user.organization_id).count() >= service_keys.MAX_LIVE_KEYS:
            form.form_errors.append(_("Your organization has %(n)d working service keys, the most allowed. "
                                      "Revoke one first.", n=service_keys.MAX_LIVE_KEYS))
            return page(422, form=form)
        expires_at = expiry_datetime(parse_expiry(form.expires_on.data))
        key, row = service_keys.create_key(user.organization_id, user, form.name.data, form.scopes.data, expires_at,
                                           form.allowed_ips.data)
        audit.record("service_key.created", actor=user, target=row.prefix, name=row.name, scopes=row.scopes,
                     expires_at=expires_at, allowed_ips=row.allowed_ips, **client_meta())
    return page(201, form=ServiceKeyForm(formdata=None, scopes=["read"]), new_key=key, new_row=row)


@bp.post("/service-keys/<int:key_id>/revoke")
def revoke_service_key(key_id):
    user = manager()
    row = owned_or_404(ServiceKey, key_id, ServiceKey.organization == user.organization_id)
    if service_keys.revoke(row, by=user):
        audit.record("service_key.revoked", actor=user, target=row.prefix, name=row.name, **client_meta())
        flash(_("The service key “%(name)s” is revoked; requests with it are refused from now on.", name=row.name),
              "success")
    return see_other(url_for("security.service_keys_page"))


@bp.get("/service-keys/<int:key_id>/uses")
def service_key_uses(key_id):
    """The key's trail: its latest requests, refused ones included, newest first."""
    user = manager()
    row = owned_or_404(ServiceKey, key_id, ServiceKey.organization == user.organization_id)
    return render("security/service_key_uses.html", key=row, uses=service_keys.recent_uses(row),
                  shown=service_keys.USES_SHOWN, days=current_app.config["SERVICE_KEY_USES_DAYS"])


@bp.context_processor
def service_keys_tab():
    """The Integrations tabs show "Service keys" to those who may open it."""
    return {"may_manage_service_keys": lambda: has_permission(me(), PERMISSION)}

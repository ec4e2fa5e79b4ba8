"""How long the organization keeps its events log (an organization setting: days, or empty for
everything). The scheduler's `purge_old_events` deletes older events hourly. Deleting the audit trail
is for members of the Administrators group only, with their password entered within REAUTH_MINUTES."""
from flask import abort, flash, g, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import ValidationError

from models import Organization
from services import audit
from services.permissions import has_permission, is_administrator, permission_required

from blueprints import see_other
from blueprints.forms import Form, max_length
from blueprints.person.security import go_to, reauth_expired
from blueprints.admin.core import bp, client_meta, me
from blueprints.admin.events import events

DAYS_MIN, DAYS_MAX = 7, 3650


class RetentionForm(Form):
    days = StringField(_l("Keep events for, days"), validators=[max_length(10)])

    def validate_days(self, field):
        if not field.data:
            field.data = None
            return
        if not field.data.isdigit() or not DAYS_MIN <= int(field.data) <= DAYS_MAX:
            raise ValidationError(_l("Enter a number of days from %(min)d to %(max)d, or leave it empty to keep "
                                     "every event.", min=DAYS_MIN, max=DAYS_MAX))
        field.data = int(field.data)


@bp.app_template_global()
def events_retention():
    """(form, may change it) for the events page; the submitted form when it was refused."""
    user = me()
    if "retention_form" in g:
        return g.retention_form, True
    days = Organization.get_by_id(user.organization_id).events_retention_days
    form = RetentionForm(formdata=None, data={"days": "" if days is None else str(days)})
    return form, has_permission(user, "events.view") and is_administrator(user)


@bp.post("/events/retention")
@permission_required("events.view")
def save_events_retention():
    user = me()
    if not is_administrator(user):
        abort(403)
    form = RetentionForm()
    if not form.validate_on_submit():
        g.retention_form = form
        response = events()
        response.status_code = 422
        return response
    if reauth_expired():
        flash(_("Confirm your password, then save the setting again."), "info")
        return go_to(url_for("security.reauth", next=url_for("admin.events")))
    Organization.update(events_retention_days=form.days.data).where(Organization.id == user.organization_id).execute()
    audit.record("events.retention_changed", actor=user, target=user.organization.name,
                 days=form.days.data if form.days.data is not None else "—", **client_meta())
    if form.days.data is None:
        flash(_("The events log keeps every event."), "success")
    else:
        flash(_("Events older than %(n)d days are deleted from now on.", n=form.days.data), "success")
    return see_other(url_for("admin.events", _anchor="retention"))

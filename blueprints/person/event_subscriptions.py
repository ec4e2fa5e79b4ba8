"""The catalog of events a person can subscribe to (/app/notifications/events): the events of
services.permissions.EVENT_CATALOG they are allowed to see, each with a tick. What they tick is
told to them by the channels of "Subscribed events" in their notifications grid, summarised at most
once a minute (services/event_notifications.py). The same list is what an administrator sets in the
person's back-office details."""
from flask import flash, request, url_for
from flask_babel import gettext as _

from models import UserAdminSettings
from services import audit
from services.event_notifications import allowed_events

from blueprints import render, see_other
from blueprints.auth import client_meta
from blueprints.forms import Form
from blueprints.person.notifications import bp, me


def settings_of(user):
    return UserAdminSettings.get_or_none(UserAdminSettings.user == user.id) or UserAdminSettings(user=user.id)


def page(user, chosen, status=200, error=None):
    return render("notifications/events.html", status=status, events=allowed_events(user), chosen=set(chosen),
                  error=error)


@bp.get("/notifications/events")
def event_catalog():
    user = me()
    return page(user, settings_of(user).subscription_list)


@bp.post("/notifications/events")
def save_event_catalog():
    user = me()
    if not Form().validate_on_submit():
        return page(user, settings_of(user).subscription_list, status=400,
                    error=_("The form has expired. Reload the page and try again."))
    allowed = [code for code, _label in allowed_events(user)]
    wanted = request.form.getlist("events")
    if any(code not in allowed for code in wanted) or len(wanted) > len(allowed):
        return page(user, [c for c in wanted if c in allowed], status=422, error=_("Choose events from the list."))
    settings = settings_of(user)
    exists = UserAdminSettings.select().where(UserAdminSettings.user == user.id).exists()
    # events no longer allowed are dropped as well: they would not be sent anyway
    settings.event_subscriptions = ",".join(code for code in allowed if code in wanted)
    settings.save(force_insert=not exists)
    audit.record("notifications.events_changed", actor=user, target=user.email, changed=sorted(wanted), **client_meta())
    flash(_("Your event subscriptions are saved."), "success")
    return see_other(url_for("notifications.event_catalog"))

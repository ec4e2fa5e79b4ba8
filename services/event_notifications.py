"""Event notifications (seed 004): a person subscribes to events of the catalog
(services.permissions.EVENT_CATALOG) that they are allowed to see; when such events happen in their
organization they hear about them by the channels they chose for "Subscribed events" (the
notifications grid: e-mail, Telegram, Slack, in the app), at most once a minute per person, one
message summarising what happened since the last one.

`audit.record` calls `queue` for the catalog's actions (one small INSERT, in the change's
transaction); the scheduler's `send_event_digests` job (every EVENT_DIGEST_SECONDS) turns what is
queued into one `notifications.notify` per subscriber and forgets it; the outbox delivers as usual."""
from flask_babel import lazy_gettext as _l

from models import EventNotice, User, UserAdminSettings, db, utcnow
from services.permissions import EVENT_CATALOG, permissions_of

# Who may see an event of the catalog, hence subscribe to it: the permission of its area.
EVENT_PERMISSION = {
    "signin.failed": "users.view",
    "user.created": "users.view",
    "user.disabled": "users.view",
    "user.two_factor_reset": "users.view",
    "group.changed": "groups.manage",
    "clients.imported": "clients.view",
    "impersonation.started": "users.view",
}
SHOWN = 20  # events listed in one message; the rest are counted
BATCH = 5000  # notices read per run
TITLE = _l("Subscribed events")


def allowed_events(user):
    """[(code, label)] of the catalog's events `user` may subscribe to, in catalog order."""
    held = permissions_of(user)
    return [(code, label) for code, label in EVENT_CATALOG.items() if EVENT_PERMISSION.get(code) in held]


def queue(action, organization_id, actor=None, targets=("",)):
    """Remember catalog events for the next digest (nothing for other actions)."""
    if action not in EVENT_CATALOG or organization_id is None:
        return 0
    email = getattr(actor, "email", "") or ""
    rows = [{"organization": organization_id, "action": action, "actor_email": email, "target": str(t)[:200],
             "created_at": utcnow()} for t in targets]
    from services.bulk_sql import insert_rows

    return insert_rows(EventNotice, rows)


def subscribers(organization_id):
    """(user, subscribed codes) of the organization's enabled people with any subscription."""
    query = (UserAdminSettings.select(UserAdminSettings, User).join(User)
             .where(User.organization == organization_id, User.status == "enabled", UserAdminSettings.event_subscriptions != ""))
    return [(settings.user, set(settings.subscription_list)) for settings in query]


def send_event_digests(config=None):
    """Scheduler job: one notification per subscriber summarising the queued events they may see;
    returns how many notifications were made."""
    from services.notifications import notify

    made = 0
    with db.atomic():
        notices = list(EventNotice.select().order_by(EventNotice.id).limit(BATCH))
        if not notices:
            return 0
        by_org = {}
        for notice in notices:
            by_org.setdefault(notice.organization_id, []).append(notice)
        for organization_id, events in by_org.items():
            for user, codes in subscribers(organization_id):
                allowed = {code for code, _label in allowed_events(user)}
                mine = [n for n in events if n.action in codes & allowed]
                if not mine:
                    continue
                items = [{"action": n.action, "target": n.target, "actor": n.actor_email, "at": n.created_at.isoformat()}
                         for n in mine[:SHOWN]]
                notify(user, "events", {"kind": "events", "items": items, "count": len(mine)},
                       key=f"events:{mine[0].id}-{mine[-1].id}:{user.id}")
                made += 1
        EventNotice.delete().where(EventNotice.id <= notices[-1].id).execute()
    return made

"""The audit trail: every security-relevant change writes one event; the events log reads them back.

`ACTIONS` names the actions people see in the events log (/admin/events) and can filter by; an action
missing here is still listed, under its code. `events_page` reads one organization's events newest
first by keyset on (created_at, id) over the indexes of migrations/m0440_avatars_events.py, so the
last page costs what the first does."""
import json
import re
from datetime import datetime

import peewee as pw
from flask_babel import lazy_gettext as _l

from models import AuditEvent, EventComment, User

PAGE_SIZE = 50
CURSOR = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)_(\d{1,18})$")

ACTIONS = {
    "signin": _l("Signed in"),
    "signin.failed": _l("Failed sign-in"),
    "signin.blocked": _l("Sign-in refused"),
    "signout": _l("Signed out"),
    "reauth": _l("Password confirmed"),
    "reauth.failed": _l("Wrong password when confirming"),
    "session.ended": _l("Session ended"),
    "session.ended_others": _l("Other sessions ended"),
    "password.changed": _l("Password changed"),
    "password.reset_requested": _l("Password reset requested"),
    "password.reset": _l("Password reset"),
    "password.reset_link_sent": _l("Password reset link sent by an administrator"),
    "2fa.enabled": _l("Two-factor authentication enabled"),
    "2fa.disabled": _l("Two-factor authentication disabled"),
    "2fa.code_failed": _l("Wrong two-factor code"),
    "2fa.recovery_regenerated": _l("Recovery codes regenerated"),
    "2fa.change_started": _l("Change of two-factor method started"),
    "2fa.method_changed": _l("Two-factor method changed"),
    "org.require_2fa": _l("Two-factor requirement for the organization changed"),
    "ip_allowlist.changed": _l("IP whitelist changed"),
    "email.change_requested": _l("E-mail change requested"),
    "email.change_cancelled": _l("E-mail change cancelled"),
    "email.changed": _l("E-mail changed"),
    "phone.code_sent": _l("Phone code sent"),
    "phone.code_failed": _l("Wrong phone code"),
    "phone.verified": _l("Phone number confirmed"),
    "profile.changed": _l("Profile changed"),
    "profile.picture_changed": _l("Profile picture changed"),
    "profile.picture_removed": _l("Profile picture removed"),
    "user.created": _l("User created"),
    "user.updated": _l("User changed"),
    "user.disabled": _l("User disabled"),
    "user.enabled": _l("User enabled"),
    "user.role_changed": _l("Role changed"),
    "user.two_factor_reset": _l("Two-factor authentication reset"),
    "notifications.events_changed": _l("Event subscriptions changed"),
    "events.exported": _l("Events log downloaded"),
    "events.retention_changed": _l("Events log retention changed"),
    "user.deleted": _l("User deleted"),
    "user.invitation_sent": _l("Invitation sent again"),
    "user.session_ended": _l("A session ended by an administrator"),
    "user.sessions_ended": _l("All sessions ended by an administrator"),
    "group.created": _l("Group created"),
    "group.renamed": _l("Group renamed"),
    "group.deleted": _l("Group deleted"),
    "group.changed": _l("Group permissions changed"),
    "group.member_added": _l("User added to a group"),
    "group.member_removed": _l("User removed from a group"),
    "groups.exported": _l("Groups exported"),
    "groups.imported": _l("Groups imported"),
    "client_tag.created": _l("Client tag added"),
    "client_tag.renamed": _l("Client tag renamed"),
    "client_tag.deleted": _l("Client tag deleted"),
    "clients.imported": _l("Clients imported"),
    "mail_server.created": _l("Mail server added"),
    "mail_server.updated": _l("Mail server changed"),
    "mail_server.deleted": _l("Mail server deleted"),
    "billing.updated": _l("Billing details changed"),
    "invoice.issued": _l("Invoice issued"),
    "invoice.status": _l("Invoice status changed"),
    "file.uploaded": _l("File uploaded"),
    "file.renamed": _l("File renamed"),
    "file.deleted": _l("File deleted"),
    "agreement.created": _l("Processing agreement added"),
    "agreement.updated": _l("Processing agreement changed"),
    "agreement.ended": _l("Processing agreement ended"),
    "data_export.requested": _l("Data export requested"),
    "account.deletion_requested": _l("Account deletion requested"),
    "account.deletion_cancelled": _l("Account deletion cancelled"),
    "account.erased": _l("Account erased"),
    "apikey.created": _l("API key created"),
    "apikey.changed": _l("API key changed"),
    "apikey.revoked": _l("API key revoked"),
    "service_key.created": _l("Service key created"),
    "service_key.revoked": _l("Service key revoked"),
    "notifications.low_balance": _l("Low balance alert settings changed"),
    "organization.updated": _l("Organization data changed"),
    "passkey.added": _l("Passkey added"),
    "passkey.add_failed": _l("Passkey could not be added"),
    "passkey.renamed": _l("Passkey renamed"),
    "passkey.removed": _l("Passkey removed"),
    "webhook.created": _l("Webhook added"),
    "webhook.changed": _l("Webhook changed"),
    "webhook.deleted": _l("Webhook deleted"),
    "impersonation.started": _l("Signed in as another user"),
    "impersonation.ended": _l("Returned from another user's account"),
    "impersonation.action": _l("Action while signed in as another user"),
}

# Names of the detail keys events carry, as the events log shows them.
DETAIL_LABELS = {
    "method": _l("Method"),
    "fields": _l("Fields"),
    "role": _l("Role"),
    "granted": _l("Granted"),
    "revoked": _l("Revoked"),
    "old_name": _l("Old name"),
    "old_caption": _l("Old caption"),
    "old": _l("Before"),
    "group": _l("Group"),
    "changes": _l("Changes"),
    "count": _l("Count"),
    "entries": _l("Entries"),
    "on": _l("On"),
    "step": _l("Step"),
    "reason": _l("Reason"),
    "via": _l("Via"),
    "size": _l("Size"),
    "amount": _l("Amount"),
    "session": _l("Session"),
    "other_sessions_ended": _l("Other sessions ended"),
    "status": _l("Status"),
    "name": _l("Name"),
    "scopes": _l("Scopes"),
    "changed": _l("Changed"),
    "threshold": _l("Threshold"),
    "events": _l("Events"),
    "expires_at": _l("Expires"),
    "user_id": _l("User"),
    "previous": _l("Before"),
    "passkey": _l("Passkey"),
    "filters": _l("Filters"),
    "days": _l("Days"),
    "for_user": _l("For"),
}
# What the codes some details hold mean, as the events log shows them (a code missing here shows as it is).
DETAIL_VALUES = {
    "method": {"password": _l("Password"), "passkey": _l("Passkey"), "totp": _l("Authenticator app"),
               "email": _l("Codes by e-mail"), "recovery": _l("Recovery code"), "off": _l("Off")},
    "role": {"owner": _l("Owner"), "admin": _l("Administrator"), "employee": _l("Employee")},
    "scopes": {"read": _l("Read"), "write": _l("Write")},
    "step": {"code": _l("Code"), "passkey": _l("Passkey")},
    "via": {"api": _l("API"), "page": _l("Page")},
    "fields": {"full_name": _l("Full name"), "short_info": _l("Short info"), "phone": _l("Phone"),
               "email": _l("E-mail"), "language": _l("Language"), "country": _l("Country"),
               "time_zone": _l("Time zone"), "role": _l("Role"), "status": _l("Status"),
               "ip_allowlist": _l("IP whitelist"), "groups": _l("Groups"), "tags": _l("Allowed client tags"),
               "countries": _l("Countries"), "mask_data": _l("Mask personal data"),
               "telegram_chat_id": _l("Telegram chat ID"), "slack_chat_id": _l("Slack chat ID"),
               "event_subscriptions": _l("Event notifications")},
}
DETAIL_VALUES["previous"] = DETAIL_VALUES["method"]


def current_impersonator():
    """The administrator behind this request when it runs under "Sign in as", else None."""
    from flask import g, has_app_context

    return g.get("impersonator") if has_app_context() else None


def record(action, actor=None, target="", organization=None, ip="", user_agent="", impersonator=None, **details):
    """Write an audit event; `details` must never hold secrets.

    Under "Sign in as" the event names both people: `actor` (the person acted as) and the
    administrator as `impersonator` (taken from the request unless given)."""
    if organization is None and actor is not None:
        organization = actor.organization_id
    if impersonator is None:
        impersonator = current_impersonator()
    event = AuditEvent.create(
        action=action,
        actor=actor,
        impersonator=impersonator,
        organization=organization,
        target=str(target)[:200],
        details=json.dumps(details, ensure_ascii=False, default=str) if details else "",
        ip=(ip or "")[:45],
        user_agent=(user_agent or "")[:300],
    )
    from services import event_notifications, webhooks  # webhook events; subscribed events' digests

    webhooks.emit_for_audit(action, organization, actor, target, details)
    event_notifications.queue(action, getattr(organization, "id", organization), actor, [target])
    return event


def record_many(action, actor, targets, ip="", user_agent="", **details):
    """One event of `action` per target (e-mail addresses), written by one multi-row INSERT: a bulk
    action leaves the same trail as the actions one at a time (each person's own event)."""
    from services import webhooks
    from services.bulk_sql import insert_rows

    impersonator = current_impersonator()
    organization = actor.organization_id
    text = json.dumps(details, ensure_ascii=False, default=str) if details else ""
    rows = [{"action": action, "actor": actor.id, "impersonator": getattr(impersonator, "id", impersonator),
             "organization": organization, "target": str(target)[:200], "details": text, "ip": (ip or "")[:45],
             "user_agent": (user_agent or "")[:300]} for target in targets]
    insert_rows(AuditEvent, rows)
    if action in webhooks.AUDIT_EVENTS:
        for target in targets:
            webhooks.emit_for_audit(action, organization, actor, target, details)
    from services import event_notifications

    event_notifications.queue(action, organization, actor, targets)
    return len(rows)


def action_label(action):
    return ACTIONS.get(action, action)


def details_of(event):
    """[(label, text)] of an event's details, for people to read."""
    try:
        data = json.loads(event.details) if event.details else {}
    except ValueError:
        return [("", event.details)]
    if not isinstance(data, dict):
        return [("", str(data))]
    return [(DETAIL_LABELS.get(key, key), detail_text(key, value)) for key, value in data.items()]


def detail_text(key, value):
    """One detail's value in the reader's words: codes named, lists joined, nothing as "—"."""
    if key == "events":  # webhook event types, stored as a list or "a,b"
        from services.webhooks import EVENT_TYPES

        names = value if isinstance(value, list) else str(value or "").split(",")
        return ", ".join(str(EVENT_TYPES.get(name, name)) for name in names if name) or "—"
    if isinstance(value, str) and key in DETAIL_VALUES and re.search(r"[,\s]", value):
        value = re.split(r"[,\s]+", value.strip())
    if isinstance(value, list):
        return ", ".join(detail_text(key, v) for v in value) or "—"
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    if key == "expires_at":
        try:
            from flask_babel import format_datetime

            return format_datetime(datetime.fromisoformat(str(value)), "medium")
        except ValueError:
            return str(value)
    return str(DETAIL_VALUES.get(key, {}).get(value, value))


def encode_cursor(event):
    return f"{event.created_at.isoformat()}_{event.id}"


def decode_cursor(text):
    """(created_at, id) from a cursor, or None when it is not one of ours (then the first page shows)."""
    match = CURSOR.match(text or "")
    if not match:
        return None
    try:
        return datetime.fromisoformat(match.group(1)), int(match.group(2))
    except ValueError:
        return None


def events_page(organization_id, actor_id=None, action="", target="", since=None, until=None,
                older_than=None, newer_than=None, size=None, ip=""):
    """One page of the organization's events, newest first: (rows, newer_cursor, older_cursor).

    `since` and `until` are naive UTC datetimes (until excluded); `older_than` / `newer_than` cursors."""
    size = size or PAGE_SIZE
    impersonator = User.alias()
    query = (
        AuditEvent.select(AuditEvent, User, impersonator)
        .join(User, pw.JOIN.LEFT_OUTER, on=(AuditEvent.actor == User.id))
        .switch(AuditEvent)
        .join(impersonator, pw.JOIN.LEFT_OUTER, on=(AuditEvent.impersonator == impersonator.id))
    )
    query = query.where(AuditEvent.organization == organization_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor == actor_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if target:
        query = query.where(AuditEvent.target == target)
    if ip:
        query = query.where(AuditEvent.ip == ip)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    key = pw.Tuple(AuditEvent.created_at, AuditEvent.id)
    backwards = newer_than is not None
    cursor = newer_than if backwards else older_than
    if cursor is not None:
        query = query.where(key > pw.Tuple(*cursor) if backwards else key < pw.Tuple(*cursor))
    if backwards:
        order = [AuditEvent.created_at.asc(), AuditEvent.id.asc()]
    else:
        order = [AuditEvent.created_at.desc(), AuditEvent.id.desc()]
    rows = list(query.order_by(*order).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_newer = more if backwards else cursor is not None
    has_older = True if backwards else more
    newer = encode_cursor(rows[0]) if rows and has_newer else None
    older = encode_cursor(rows[-1]) if rows and has_older else None
    return rows, newer, older


def comment_counts(event_ids):
    """{event id: number of comments} for one page of events, in one query."""
    if not event_ids:
        return {}
    query = (
        EventComment.select(EventComment.event, pw.fn.COUNT(EventComment.id).alias("n"))
        .where(EventComment.event.in_(event_ids))
        .group_by(EventComment.event)
    )
    return {row.event_id: row.n for row in query}


def add_comment(event, author, text):
    return EventComment.create(event=event, author=author, text=text)


def comments_of(event):
    return list(
        EventComment.select(EventComment, User)
        .join(User, pw.JOIN.LEFT_OUTER, on=(EventComment.author == User.id))
        .where(EventComment.event == event.id)
        .order_by(EventComment.created_at, EventComment.id)
    )

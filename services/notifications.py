"""Notifications: who wants what by which channel, `notify()` writing the outbox in the caller's
transaction, and the scheduler job that delivers it (e-mail, SMS, Telegram, Slack) with retries.

Delivery is at-least-once with a lease: a worker claims due rows atomically (FOR UPDATE SKIP LOCKED on
PostgreSQL, a conditional UPDATE per row on SQLite), sends, and marks each row sent at once, so a clean
run sends every message exactly once and a worker that dies mid-way leaves its rows to be claimed again
when the lease runs out. In-app notifications are written directly by notify(), in the same transaction.
"""
import json
import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import peewee as pw
from babel.dates import format_datetime
from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models import (LowBalanceAlert, Notification, NotificationPreference, OutboxMessage, Prepared, User,
                    UserAdminSettings, db, utcnow, write_transaction)
from models.notifications import CATEGORIES, CHANNELS
from services import results
from services.permissions import EVENT_CATALOG

from . import channels
from .region import format_money, zone_for_country

log = logging.getLogger(__name__)

# The permission a notification category needs: people without it neither choose it nor receive it.
CATEGORY_PERMISSION = {"billing": "billing.view", "low_balance": "billing.view", "imports": "clients.import"}
CATEGORY_LABELS = {
    "requests": _l("Request status changes"),
    "imports": _l("Contact imports"),
    "billing": _l("Payments and invoices"),
    "low_balance": _l("Low balance"),
    "security": _l("Security (new sign-in, password or 2FA changed)"),
    "operations": _l("Finished operations"),
    "events": _l("Subscribed events"),
}
CHANNEL_LABELS = {
    "email": _l("E-mail"),
    "sms": _l("SMS"),
    "telegram": _l("Telegram"),
    "slack": _l("Slack"),
    "in_app": _l("In the app"),
}
# What a box is when the person never touched it: everything in the app and by e-mail, nothing that costs.
DEFAULT_ON = {"email", "in_app"}
THRESHOLD_MAX = Decimal("999999999999")
CENT = Decimal("0.01")


def default_enabled(category, channel):
    return channel in DEFAULT_ON


PREFERENCES_OF = Prepared(  # the grid on the personal-data page, and every notify()
    lambda user_id: NotificationPreference.select(NotificationPreference.category, NotificationPreference.channel,
                                                  NotificationPreference.enabled)
    .where(NotificationPreference.user == user_id)
)


def preferences(user):
    """{(category, channel): bool} for every box of the grid."""
    chosen = {(p.category, p.channel): p.enabled for p in PREFERENCES_OF.all(user.id)}
    return {(c, ch): chosen.get((c, ch), default_enabled(c, ch)) for c in CATEGORIES for ch in CHANNELS}


def set_preference(user, category, channel, enabled):
    """Tick or untick one box: one upsert. Unknown names raise KeyError (the route answers 404)."""
    if category not in CATEGORIES or channel not in CHANNELS:
        raise KeyError(f"{category}/{channel}")
    NotificationPreference.insert(user=user.id, category=category, channel=channel, enabled=enabled).on_conflict(
        conflict_target=[NotificationPreference.user, NotificationPreference.category, NotificationPreference.channel],
        update={NotificationPreference.enabled: enabled},
    ).execute()


def chat_ids(user):
    settings = UserAdminSettings.get_or_none(UserAdminSettings.user == user.id)
    return (settings.telegram_chat_id, settings.slack_chat_id) if settings else ("", "")


def channel_problems(user, config):
    """{channel: why it cannot be used} for the channels `user` has no usable contact for."""
    # The chat IDs are read only when a bot is set up on this server (else neither channel can be used anyway).
    telegram, slack = chat_ids(user) if config.get("TELEGRAM_BOT_TOKEN") or config.get("SLACK_BOT_TOKEN") else ("", "")
    problems = {}
    if not (user.phone and user.phone_verified):
        problems["sms"] = _l("Confirm a phone number first.")
    if not config.get("TELEGRAM_BOT_TOKEN"):
        problems["telegram"] = _l("Telegram is not set up on this server.")
    elif not telegram:
        problems["telegram"] = _l("No Telegram chat ID: your administrator sets it in your user details.")
    if not config.get("SLACK_BOT_TOKEN"):
        problems["slack"] = _l("Slack is not set up on this server.")
    elif not slack:
        problems["slack"] = _l("No Slack chat ID: your administrator sets it in your user details.")
    return problems


def notify(user, category, data, key=None, exclude=()):
    """Tell `user` about an event of `category`, by every channel they chose and can receive.

    Call it inside the transaction of the change: the outbox rows and in-app notification commit or roll
    back with it. `key` makes the call idempotent (a repeated key adds nothing); `exclude` leaves channels
    out (e.g. "email" when the caller mails a mandatory security notice itself)."""
    if category not in CATEGORIES:
        raise KeyError(category)
    key = (key or uuid.uuid4().hex)[:180]
    data = {**data, "at": data.get("at") or utcnow().isoformat()}
    payload = json.dumps(data, ensure_ascii=False, default=str)
    chosen = preferences(user)
    # outside an app (a script, a test) Telegram and Slack count as not configured
    unusable = channel_problems(user, current_app.config if has_app_context() else {})
    wanted = [ch for ch in CHANNELS if chosen[(category, ch)] and ch not in unusable and ch not in exclude]
    with write_transaction():  # reads (the dedup check) before it writes
        for channel in wanted:
            dedup_key = f"{key}:{channel}"
            if OutboxMessage.select().where(OutboxMessage.dedup_key == dedup_key).exists():
                continue
            in_app = channel == "in_app"
            # in-app rows are "sent" at once: the outbox row only remembers the key
            OutboxMessage.insert(user=user.id, category=category, channel=channel, data=payload, dedup_key=dedup_key,
                                 status="sent" if in_app else "pending", sent_at=utcnow() if in_app else None,
                                 ).on_conflict_ignore().execute()
            if in_app:
                Notification.create(user=user.id, category=category, data=payload)
    return wanted


# --- low balance ------------------------------------------------------------------------------------


def parse_threshold(raw):
    """A Decimal >= 0 with at most 2 decimals from the form's text, or None when it is not one."""
    text = (raw or "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not text or len(text) > 20:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value > THRESHOLD_MAX or value != value.quantize(CENT):
        return None
    return value


def set_threshold(user, threshold):
    """Set (or with None, remove) the person's low-balance threshold; the latch starts from the current balance."""
    if threshold is None:
        LowBalanceAlert.delete().where(LowBalanceAlert.user == user.id).execute()
        return
    balance = user.organization.balance
    alerted = balance is not None and Decimal(balance) < threshold  # already below: wait for a recovery first
    LowBalanceAlert.insert(user=user.id, threshold=threshold, alerted=alerted, updated_at=utcnow()).on_conflict(
        conflict_target=[LowBalanceAlert.user],
        update={LowBalanceAlert.threshold: threshold, LowBalanceAlert.alerted: alerted,
                LowBalanceAlert.updated_at: utcnow()},
    ).execute()


def balance_changed(organization_id, balance, currency):
    """Called by services.invoices.change_balance in its transaction: alert everyone whose threshold the
    balance just fell below (once; the latch is claimed by a conditional UPDATE, so two concurrent changes
    cannot both alert) and re-arm those it rose back above."""
    balance = Decimal(balance).quantize(CENT)
    people = User.select(User.id).where(User.organization == organization_id, User.status == "enabled")
    LowBalanceAlert.update(alerted=False).where(
        LowBalanceAlert.user.in_(people), LowBalanceAlert.alerted == True, LowBalanceAlert.threshold <= balance,  # noqa: E712
    ).execute()
    falling = LowBalanceAlert.select().where(
        LowBalanceAlert.user.in_(people), LowBalanceAlert.alerted == False, LowBalanceAlert.threshold > balance,  # noqa: E712
    )
    for alert in list(falling):
        claimed = LowBalanceAlert.update(alerted=True).where(
            LowBalanceAlert.user == alert.user_id, LowBalanceAlert.alerted == False  # noqa: E712
        ).execute()
        if claimed:
            notify(User.get_by_id(alert.user_id), "low_balance",
                   {"kind": "low_balance", "balance": str(balance), "threshold": str(Decimal(alert.threshold).quantize(CENT)),
                    "currency": currency})


# --- texts ------------------------------------------------------------------------------------------


def user_zone(user):
    try:
        return ZoneInfo(user.time_zone or zone_for_country(user.country) or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def local_time(user, iso, locale):
    """An ISO UTC time from a notification's data, in the person's zone and language."""
    try:
        moment = datetime.fromisoformat(iso).replace(tzinfo=ZoneInfo("UTC"))
    except (TypeError, ValueError):
        return ""
    return format_datetime(moment, "medium", tzinfo=user_zone(user), locale=locale)


OPERATION_KINDS = {"client_import": _l("Client import"), "data_export": _l("Data export"),
                   "product": _l("Reported by the product")}


def digest_text(user, data, when):
    """(subject, text) of a digest in the current locale; `when(iso)` formats a time for `user`."""
    count = int(data.get("count") or 0)
    lines = []
    for item in data.get("items", []):
        label = str(EVENT_CATALOG.get(item.get("action"), item.get("action", "")))
        line = f"{when(item.get('at'))} — {label}"
        if item.get("target"):
            line += f": {item['target']}"
        if item.get("actor"):
            line += " " + _("(by %(who)s)", who=item["actor"])
        lines.append(line)
    if count > len(lines):
        lines.append(_("and %(n)d more", n=count - len(lines)))
    return _("Events in Kabinet: %(n)d", n=count), "\n".join(lines)


def message_text(user, category, data, locale):
    """(subject, text) of a notification, in `locale` (call inside force_locale(locale))."""
    kind = data.get("kind", "")
    when = local_time(user, data.get("at"), locale)

    def money(amount_key):
        try:
            return format_money(Decimal(str(data.get(amount_key))), data.get("currency") or "RUB", locale)
        except (InvalidOperation, ValueError):
            return str(data.get(amount_key, ""))

    if kind == "invoice":
        return _("New invoice"), _("Invoice %(number)s for %(amount)s was issued.", number=data.get("number", ""),
                                    amount=money("amount"))
    if kind == "payment":
        return _("Payment received"), _("Invoice %(number)s for %(amount)s was paid.",
                                         number=data.get("number", ""), amount=money("amount"))
    if kind == "low_balance":
        return _("Low balance"), _("The balance is %(balance)s, below your alert threshold of %(threshold)s.",
                                   balance=money("balance"), threshold=money("threshold"))
    if kind == "signin":
        return _("New sign-in"), _("Someone signed in to %(email)s on %(time)s from %(ip)s (%(device)s). "
                                   "If it was not you, change your password.", email=user.email, time=when,
                                   ip=data.get("ip") or "?", device=data.get("device") or "?")
    if kind == "password":
        return _("Password changed"), _("The password of %(email)s was changed on %(time)s.", email=user.email,
                                        time=when)
    if kind == "two_factor":
        return _("Two-factor authentication changed"), _(
            "Two-factor authentication of %(email)s was changed on %(time)s.", email=user.email, time=when)
    if kind == "client_import":
        return _("Clients imported"), _("%(n)s client(s) were imported from %(file)s on %(time)s.",
                                        n=data.get("count", 0), file=data.get("file") or "CSV", time=when)
    if kind == "operation":
        what = data.get("title") or str(OPERATION_KINDS.get(data.get("operation_kind"), data.get("operation_kind", "")))
        if data.get("status") == "failed":
            return _("Operation failed"), _("%(what)s failed: %(error)s", what=what, error=results.message_text(data.get("error")))
        return _("Operation finished"), _("%(what)s finished: %(result)s", what=what, result=results.message_text(data.get("result")))
    if kind == "events":
        return digest_text(user, data, lambda iso: local_time(user, iso, locale))
    if kind == "request":
        return _("Request status changed"), _("Request %(ref)s is now: %(status)s.", ref=data.get("ref", ""),
                                              status=data.get("status", ""))
    if kind == "message":  # POST /api/v1/notifications: the sender wrote it in every language
        def pick(texts):
            texts = texts if isinstance(texts, dict) else {}
            return str(texts.get(str(locale)) or texts.get("en") or next(iter(texts.values()), ""))
        return pick(data.get("title")), pick(data.get("text"))
    return str(CATEGORY_LABELS.get(category, category)), str(data.get("text", ""))


def render_for(user, category, data):
    locale = user.reading_language()
    with force_locale(locale):
        return message_text(user, category, data, locale)


def notification_view(row, user, locale):
    """A Notification for a page or the API: id, category, title, text, time, read."""
    data = json.loads(row.data or "{}")
    subject, text = message_text(user, row.category, data, locale)
    return {"id": row.id, "category": row.category, "title": subject, "text": text,
            "created_at": row.created_at.isoformat() + "Z", "read": row.read_at is not None}


# --- the feed -----------------------------------------------------------------------------------------


def unread_count(user_id):
    """One indexed count over (user, read_at)."""
    return Notification.select().where(Notification.user == user_id, Notification.read_at.is_null()).count()


def feed_page(user_id, before=None, per_page=20):
    """Newest first, keyset on id: (rows, the id to continue before, or None)."""
    query = Notification.select().where(Notification.user == user_id)
    if before:
        query = query.where(Notification.id < before)
    rows = list(query.order_by(Notification.id.desc()).limit(per_page + 1))
    return rows[:per_page], (rows[per_page - 1].id if len(rows) > per_page else None)


def mark_read(user_id, notification_id=None):
    """Mark one (or every) unread notification of the person read; returns how many changed."""
    query = Notification.update(read_at=utcnow()).where(Notification.user == user_id, Notification.read_at.is_null())
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return query.execute()


# --- delivery ---------------------------------------------------------------------------------------


def due_condition(now):
    return (((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now))
            | ((OutboxMessage.status == "sending") & (OutboxMessage.claimed_until < now)))


def claim_due(limit, lease_seconds):
    """(id, attempts) of up to `limit` due rows, now leased to this worker (status sending, one attempt counted);
    the attempt count identifies this claim: a later claim by another worker counts one more."""
    now = utcnow()
    lease = now + timedelta(seconds=lease_seconds)
    if isinstance(db.obj, pw.PostgresqlDatabase):
        due = (OutboxMessage.select(OutboxMessage.id).where(due_condition(now))
               .order_by(OutboxMessage.next_attempt_at).limit(limit).for_update("FOR UPDATE SKIP LOCKED"))
        with db.atomic():
            query = (OutboxMessage.update(status="sending", claimed_until=lease, attempts=OutboxMessage.attempts + 1)
                     .where(OutboxMessage.id.in_(due)).returning(OutboxMessage.id, OutboxMessage.attempts))
            return sorted((row.id, row.attempts) for row in query.execute())
    claimed = []
    candidates = [r.id for r in OutboxMessage.select(OutboxMessage.id).where(due_condition(now))
                  .order_by(OutboxMessage.next_attempt_at).limit(limit)]
    for row_id in candidates:
        if OutboxMessage.update(status="sending", claimed_until=lease, attempts=OutboxMessage.attempts + 1).where(
            OutboxMessage.id == row_id, due_condition(now)
        ).execute():
            claimed.append((row_id, OutboxMessage.select(OutboxMessage.attempts).where(OutboxMessage.id == row_id).scalar()))
    return claimed


def backoff_seconds(config, attempts, retry_after=None):
    """Exponential: NOTIFY_RETRY_SECONDS, then twice as long each time, at most an hour (or what a 429 asks)."""
    delay = min(config["NOTIFY_RETRY_SECONDS"] * 2 ** max(attempts - 1, 0), 3600)
    return max(delay, min(retry_after or 0, 3600))


def send_one(config, row, user):
    subject, text = render_for(user, row.category, json.loads(row.data or "{}"))
    if row.channel == "email":
        channels.send_email(config, user.email, subject, text)
    elif row.channel == "sms":
        if not (user.phone and user.phone_verified):
            raise channels.ChannelError("no confirmed phone number", final=True)
        channels.send_sms_text(config, user.phone, f"{subject}: {text}")
    elif row.channel in ("telegram", "slack"):
        telegram, slack = chat_ids(user)
        chat = telegram if row.channel == "telegram" else slack
        if not chat:
            raise channels.ChannelError(f"no {row.channel} chat id", final=True)
        send = channels.send_telegram if row.channel == "telegram" else channels.send_slack
        send(config, chat, f"{subject}\n{text}")
    else:
        raise channels.ChannelError(f"unknown channel {row.channel}", final=True)


def deliver_notifications(config=None, limit=100):
    """Scheduler job: deliver every due outbox row; returns {"sent": n, "retry": n, "failed": n}."""
    config = config or current_app.config
    counts = {"sent": 0, "retry": 0, "failed": 0}
    lease = config["NOTIFY_LEASE_SECONDS"]
    for row_id, attempts in claim_due(limit, lease):
        row = OutboxMessage.get_by_id(row_id)
        row.attempts = attempts
        # A batch of slow channels can outlast the lease: renew it just before sending, and skip the row if
        # another worker has meanwhile claimed it (its claim counted one more attempt).
        if not OutboxMessage.update(claimed_until=utcnow() + timedelta(seconds=lease)).where(
            OutboxMessage.id == row.id, OutboxMessage.status == "sending", OutboxMessage.attempts == row.attempts
        ).execute():
            continue
        user = User.get_or_none(User.id == row.user_id)
        try:
            if user is None:
                raise channels.ChannelError("the person no longer exists", final=True)
            send_one(config, row, user)
        except channels.ChannelError as exc:
            final = exc.final or row.attempts >= config["NOTIFY_MAX_ATTEMPTS"]
            changes = {"last_error": str(exc)[:300], "claimed_until": None}
            if final:
                changes["status"] = "failed"
            else:
                changes.update(status="pending",
                               next_attempt_at=utcnow() + timedelta(seconds=backoff_seconds(config, row.attempts, exc.retry_after)))
            OutboxMessage.update(**changes).where(OutboxMessage.id == row.id).execute()
            counts["failed" if final else "retry"] += 1
            log.warning("notification %s by %s: %s (%s)", row.id, row.channel, exc, "failed" if final else "will retry")
            continue
        OutboxMessage.update(status="sent", sent_at=utcnow(), claimed_until=None, last_error="").where(
            OutboxMessage.id == row.id).execute()
        counts["sent"] += 1
    return counts


def purge_old_outbox(days=30):
    """Scheduler job: forget delivered and failed outbox rows after `days`."""
    cutoff = utcnow() - timedelta(days=days)
    return OutboxMessage.delete().where(OutboxMessage.status.in_(("sent", "failed")),
                                        OutboxMessage.created_at < cutoff).execute()

"""Signed webhooks (issue 5, seed 003): an organization's endpoints receive JSON events.

`emit(organization, event_type, data)` writes one WebhookDelivery row per subscribed endpoint, in
the caller's transaction (so an event exists exactly when the change it reports was committed).
The scheduler job `deliver_due()` sends them, every WEBHOOK_POLL_SECONDS and, on PostgreSQL, as soon
as such a transaction commits (its NOTIFY wakes the leading scheduler): each row is claimed atomically before it is sent
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional UPDATE on SQLite), so several schedulers or
workers never send one delivery twice. A claim holds a lease; a worker that dies mid-send leaves a
row that another takes over once the lease runs out (that attempt counts).

Each attempt is one JSON POST signed twice (services.webhook_signing): Kabinet's headers
    Kabinet-Event, Kabinet-Delivery, Kabinet-Timestamp, Kabinet-Signature: v1=<hex>[,v1=<hex>]
and the Standard Webhooks ones (webhook-id, webhook-timestamp, webhook-signature). A 2xx answer
delivers it; anything else (or no answer within WEBHOOK_TIMEOUT, in all) costs one attempt and the
next waits WEBHOOK_RETRY_SECONDS * 2**(attempt-1); after WEBHOOK_MAX_ATTEMPTS it is marked failed.
Every attempt is logged as a WebhookAttempt (request headers, the answer's status, headers, first
4 KB and timing) and kept as long as its delivery (WEBHOOK_KEEP_DAYS). The request itself and the
SSRF checks are services.webhook_http's.
"""
import base64
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import peewee
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from models import Prepared, Webhook, WebhookAttempt, WebhookDelivery, db, utcnow
from services import crypto, webhook_signing
from services.webhook_http import BlockedTarget, address_allowed, checked_address, post  # noqa: F401 (re-exported)
from services.webhook_signing import signature, verify  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

EVENT_TYPES = {
    "profile.changed": _l("Profile changed"),
    "security.changed": _l("Security settings changed"),
    "sign_in": _l("Sign-in"),
    "mail_server.status_changed": _l("Mail server status changed"),
    "operation.finished": _l("Operation finished"),
    # what the product reports through POST /api/v1/events (services/product_events.py; more by configuration)
    "dispatch.sent": _l("Dispatch sent"),
    "message.opened": _l("Message opened"),
    "link.clicked": _l("Link clicked"),
    "request.status_changed": _l("Request status changed"),
    "import.finished": _l("Import finished"),
}


def event_types():
    """{type: label} webhooks may subscribe to in this app: the built-in ones and PRODUCT_EVENTS'."""
    return current_app.extensions.get("webhook_event_types", EVENT_TYPES) if has_app_context() else EVENT_TYPES


TEST_EVENT = "webhook.test"
URL_MAX = 500
MAX_ENDPOINTS = 10  # per organization
USER_AGENT = "Kabinet-Webhooks/1"
OVERLAP_CHOICES = (0, 1, 24, 72, 168)  # hours the previous secret may keep signing after a rotation
BATCH = 50  # deliveries one job run claims at a time
WAKE_CHANNEL = "kabinet_webhooks"  # PostgreSQL: emit() NOTIFYs it, the leading scheduler LISTENs (services.scheduler)

# Audit actions that are also webhook events (services.audit.record calls `emit_for_audit`).
AUDIT_EVENTS = {
    "signin": "sign_in",
    "profile.changed": "profile.changed",
    "email.changed": "profile.changed",
    "phone.verified": "profile.changed",
    "password.changed": "security.changed",
    "password.reset": "security.changed",
    "2fa.enabled": "security.changed",
    "2fa.disabled": "security.changed",
    "2fa.recovery_regenerated": "security.changed",
    "org.require_2fa": "security.changed",
    "ip_allowlist.changed": "security.changed",
    "apikey.created": "security.changed",
    "apikey.changed": "security.changed",
    "apikey.revoked": "security.changed",
    "webhook.created": "security.changed",
    "webhook.changed": "security.changed",
    "webhook.deleted": "security.changed",
    "passkey.added": "security.changed",
    "passkey.removed": "security.changed",
    "passkey.renamed": "security.changed",
    "user.two_factor_reset": "security.changed",
    "user.role_changed": "security.changed",
    "impersonation.started": "security.changed",
    "session.ended_others": "security.changed",
}


# --- endpoints --------------------------------------------------------------------------------


def new_secret():
    """`whsec_` and 32 random bytes in standard base64: the Standard Webhooks secret format."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def url_problem(url, config):
    """None when `url` may be saved as an endpoint, else a translated reason (checked without DNS)."""
    if not url:
        return _l("Enter the receiver's URL.")
    if len(url) > URL_MAX:
        return _l("At most %(max)d characters.", max=URL_MAX)
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return _l("A URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return _l("Enter a full URL, like https://example.com/hooks/kabinet.")
    if parts.scheme not in ("http", "https"):
        return _l("Only http:// and https:// URLs can receive webhooks.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return _l("Leave the user name and password out of the URL; check the signature instead.")
    if not parts.hostname:
        return _l("Enter a full URL, like https://example.com/hooks/kabinet.")
    if port == 0:
        return _l("Enter a full URL, like https://example.com/hooks/kabinet.")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if parts.hostname.lower() in ("localhost", "localhost.localdomain") or parts.hostname.lower().endswith(".localhost"):
        literal = ipaddress.ip_address("127.0.0.1")
    if literal is not None and not address_allowed(literal, config):
        return _l("This address is on a private or local network; webhooks go only to public addresses.")
    return None


def create_endpoint(organization, user, url, events, config=None):
    """A new endpoint; returns (the row, the secret to show once)."""
    secret = new_secret()
    row = Webhook.create(
        organization=organization, created_by=user, url=url, events=" ".join(e for e in event_types() if e in events),
        secret_encrypted=crypto.encrypt(secret, config),
    )
    return row, secret


def rotate_secret(hook, config=None, overlap_hours=0):
    """A new secret; with `overlap_hours` the current one keeps signing (beside the new) that long, so a
    receiver can switch without losing events. Returns the new secret (shown once)."""
    secret = new_secret()
    until = utcnow() + timedelta(hours=overlap_hours) if overlap_hours else None
    Webhook.update(secret_encrypted=crypto.encrypt(secret, config),
                   previous_secret_encrypted=hook.secret_encrypted if until else "",
                   previous_secret_until=until).where(Webhook.id == hook.id).execute()
    return secret


def signing_secrets(hook, config, now=None):
    """The secrets that sign now: the current one, then the previous one while its overlap lasts."""
    found = [crypto.decrypt(hook.secret_encrypted, config)]
    now = now or utcnow()
    if hook.previous_secret_encrypted and hook.previous_secret_until and hook.previous_secret_until > now:
        found.append(crypto.decrypt(hook.previous_secret_encrypted, config))
    return found


# --- emitting ---------------------------------------------------------------------------------


def envelope(event_type, organization_id, data):
    return json.dumps(
        {"id": uuid.uuid4().hex, "type": event_type, "created_at": utcnow().isoformat(timespec="seconds") + "Z",
         "organization": organization_id, "data": data},
        ensure_ascii=False, separators=(",", ":"), default=str,
    )


# Asked on every profile change (each autosave), mostly of organizations with no endpoint at all.
ENABLED_HOOKS = Prepared(
    lambda org_id: Webhook.select(Webhook.id, Webhook.events).where(Webhook.organization == org_id, Webhook.enabled)
)


def emit(organization, event_type, data):
    """Queue `event_type` for every enabled endpoint of `organization` subscribed to it; returns the count.

    Rows are written with the caller's connection, so they commit or roll back with the caller's change."""
    org_id = getattr(organization, "id", organization)
    if org_id is None:
        return 0
    now = utcnow()
    hooks = [h for h in ENABLED_HOOKS.all(org_id) if event_type in h.event_list]
    for hook in hooks:
        WebhookDelivery.create(webhook=hook.id, event=event_type, payload=envelope(event_type, org_id, data),
                               next_attempt_at=now)
    if hooks and is_postgres():
        db.execute_sql(f"NOTIFY {WAKE_CHANNEL}")  # heard at commit (never after a rollback): the scheduler sends now
    return len(hooks)


def emit_for_audit(action, organization, actor, target, details):
    """Called by services.audit.record: the audit actions listed in AUDIT_EVENTS are also webhook events."""
    event_type = AUDIT_EVENTS.get(action)
    if event_type is None or organization is None:
        return 0
    data = {"action": action}
    if actor is not None:
        data["user"] = {"id": actor.id, "email": actor.email}
    if target and event_type != "sign_in":
        data["target"] = str(target)[:200]
    data.update({k: v for k, v in details.items() if k in ("fields", "method", "via", "on", "changed", "scopes")})
    return emit(organization, event_type, data)


def queue_test(hook):
    """A test event for this endpoint alone, whatever it subscribes to; returns the delivery."""
    data = {"message": "This is a test event from Kabinet."}
    return WebhookDelivery.create(webhook=hook.id, event=TEST_EVENT,
                                  payload=envelope(TEST_EVENT, hook.organization_id, data), next_attempt_at=utcnow())


def queue_again(delivery):
    """"Send again": a new delivery of the same event body (same event id) to the same endpoint."""
    return WebhookDelivery.create(webhook=delivery.webhook_id, event=delivery.event, payload=delivery.payload,
                                  next_attempt_at=utcnow())


def event_id(payload):
    try:
        return str(json.loads(payload).get("id") or "")
    except (ValueError, AttributeError):
        return ""


# --- delivering -------------------------------------------------------------------------------


def retry_delay(config, attempt):
    """Seconds before the next try after `attempt` failed: WEBHOOK_RETRY_SECONDS doubled each time."""
    return int(config.get("WEBHOOK_RETRY_SECONDS", 30)) * 2 ** (attempt - 1)


def lease_seconds(config):
    return int(float(config.get("WEBHOOK_TIMEOUT") or 5) * 2) + 30


def is_postgres():
    return not isinstance(db.obj, peewee.SqliteDatabase)


def claim(config, now=None, limit=BATCH, only_id=None):
    """Atomically take up to `limit` due deliveries (attempts += 1, leased); returns their ids."""
    now = now or utcnow()
    lease_until = now + timedelta(seconds=lease_seconds(config))
    due = (((WebhookDelivery.state == "pending") & (WebhookDelivery.next_attempt_at <= now))
           | ((WebhookDelivery.state == "sending") & (WebhookDelivery.locked_until < now)))
    if only_id is not None:
        due &= WebhookDelivery.id == only_id
    if is_postgres():
        candidates = (WebhookDelivery.select(WebhookDelivery.id).where(due).order_by(WebhookDelivery.next_attempt_at)
                      .limit(limit).for_update("FOR UPDATE SKIP LOCKED"))
        with db.atomic():
            query = (WebhookDelivery.update(state="sending", locked_until=lease_until,
                                            attempts=WebhookDelivery.attempts + 1)
                     .where(WebhookDelivery.id.in_(candidates)).returning(WebhookDelivery.id))
            return [row.id for row in query.execute()]
    ids = [row.id for row in WebhookDelivery.select(WebhookDelivery.id).where(due)
           .order_by(WebhookDelivery.next_attempt_at).limit(limit)]
    claimed = []
    for delivery_id in ids:
        # SQLite runs one writer at a time: the condition is re-checked inside the UPDATE.
        taken = (WebhookDelivery.update(state="sending", locked_until=lease_until, attempts=WebhookDelivery.attempts + 1)
                 .where(WebhookDelivery.id == delivery_id, due).execute())
        if taken:
            claimed.append(delivery_id)
    return claimed


def attempt(delivery_id, config):
    """Send one claimed delivery and store the outcome; returns the new state."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
    if delivery is None:
        return None
    hook = Webhook.get_or_none(Webhook.id == delivery.webhook_id)
    status, error, sent_headers, answer = None, "", {}, None
    started_at, started = utcnow(), time.monotonic()
    if hook is None or not hook.enabled:
        error = "endpoint disabled"
    else:
        body = delivery.payload.encode()
        timestamp = str(int(time.time()))
        try:
            sent_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                            **webhook_signing.headers(signing_secrets(hook, config), delivery.event, delivery.id,
                                                      event_id(delivery.payload) or f"delivery-{delivery.id}",
                                                      timestamp, body)}
            answer = post(hook.url, body, sent_headers, config)
            status = answer.status
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except crypto.DecryptError:
            error = "the secret does not decrypt with the configured keys"
        except BlockedTarget as exc:
            error = str(exc)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = ("timed out" if isinstance(exc, (TimeoutError, socket.timeout)) else
                     f"{type(exc).__name__}: {exc}")[:300]
    duration = int((time.monotonic() - started) * 1000)
    now = utcnow()
    if not error:
        state, next_at = "delivered", None
    elif delivery.attempts >= int(config.get("WEBHOOK_MAX_ATTEMPTS", 6)) or hook is None or not hook.enabled:
        state, next_at = "failed", None
    else:
        state, next_at = "pending", now + timedelta(seconds=retry_delay(config, delivery.attempts))
    with db.atomic():
        updated = WebhookDelivery.update(
            state=state, status_code=status, duration_ms=duration, error=error[:300], last_attempt_at=now,
            next_attempt_at=next_at, locked_until=None,
        ).where(WebhookDelivery.id == delivery.id, WebhookDelivery.attempts == delivery.attempts).execute()
        if updated:
            log_attempt(delivery, started_at, sent_headers, answer, duration, error)
    if error:
        log.info("webhook delivery %s attempt %s: %s", delivery.id, delivery.attempts, error)
    return state


def log_attempt(delivery, started_at, sent_headers, answer, duration, error):
    """The attempt as the integrator debugs it: what went out (headers; the body is the payload) and
    what came back (status, headers, the first bytes of the body)."""
    host = urlsplit(delivery.webhook.url).netloc if delivery.webhook_id else ""
    request_headers = [["Host", host], *sent_headers.items()] if sent_headers else []
    WebhookAttempt.create(
        delivery=delivery.id, number=delivery.attempts, started_at=started_at,
        request_headers=json.dumps(request_headers, ensure_ascii=False),
        status_code=answer.status if answer else None,
        response_headers=json.dumps(answer.headers if answer else [], ensure_ascii=False),
        response_body=answer.body.decode("utf-8", "replace") if answer else "", duration_ms=duration,
        error=error[:300],
    )


def deliver_now(delivery_id, config):
    """Claim and send one delivery at once (the "Send test event" button); None when another worker has it."""
    if not claim(config, only_id=delivery_id):
        return None
    return attempt(delivery_id, config)


def deliver_due(config=None, now=None):
    """Scheduler job: claim due deliveries in batches and send them, WEBHOOK_WORKERS at a time."""
    from concurrent.futures import ThreadPoolExecutor

    if config is None:
        config = current_app.config
    sent = 0
    workers = max(1, int(config.get("WEBHOOK_WORKERS", 8)))

    def run(delivery_id):
        with db.connection_context():  # a pool thread borrows a connection and gives it back
            return attempt(delivery_id, config)

    while True:
        ids = claim(config, now=now)
        if not ids:
            return sent
        if len(ids) == 1 or workers == 1:
            for delivery_id in ids:
                attempt(delivery_id, config)
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(ids))) as pool:
                list(pool.map(run, ids))
        sent += len(ids)
        if len(ids) < BATCH:
            return sent


def purge_old_deliveries(config=None):
    """Scheduler job: forget finished deliveries older than WEBHOOK_KEEP_DAYS."""
    if config is None:
        config = current_app.config
    cutoff = utcnow() - timedelta(days=int(config.get("WEBHOOK_KEEP_DAYS", 30)))
    old = WebhookDelivery.select(WebhookDelivery.id).where(WebhookDelivery.state.in_(("delivered", "failed")),
                                                            WebhookDelivery.created_at < cutoff)
    with db.atomic():  # the attempts go with their delivery (also where foreign keys do not cascade)
        WebhookAttempt.delete().where(WebhookAttempt.delivery.in_(old)).execute()
        return WebhookDelivery.delete().where(WebhookDelivery.id.in_(old)).execute()

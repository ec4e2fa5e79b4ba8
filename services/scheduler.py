"""Background jobs (APScheduler 3), run by exactly one process across all processes and hosts.

`flask scheduler` (production) and `flask serve` (development) both run the leader loop: the
process that holds the lock runs the jobs, any other waits and takes over when the leader dies.
The lock is a PostgreSQL advisory lock (released by the server when the leader's connection
drops) or, on SQLite, an flock on instance/scheduler.lock. Jobs never start inside create_app:
the reloader and every gunicorn worker would run them too. On PostgreSQL the leader also LISTENs
for new webhook deliveries and sends them at once (send_webhooks_when_told).
"""
import fcntl
import logging
import os
import select
import signal
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import peewee
import psycopg2
from apscheduler.schedulers.background import BackgroundScheduler

from models import SchedulerHeartbeat, Token, UserSession, db, utcnow
from services.codes import purge_old_codes
from services.mail_servers import poll_mail_servers
from services.deletion import erase_due_accounts
from services.export import purge_old_exports, run_pending_exports
from services.files import sweep_partial_files
from services.webhooks import WAKE_CHANNEL, deliver_due, purge_old_deliveries
from services.notifications import deliver_notifications, purge_old_outbox
from services.idempotency import forget_old as purge_idempotency_keys
from services.service_keys import forget_old_uses as purge_service_key_uses

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x4B414249  # "KABI"


def process_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat():
    """Record that the scheduler is alive; keep one day of rows."""
    SchedulerHeartbeat.create(process=process_name())
    SchedulerHeartbeat.delete().where(SchedulerHeartbeat.ran_at < utcnow() - timedelta(days=1)).execute()


def purge_expired():
    """Forget used or expired single-use tokens and sessions that ended over 30 days ago."""
    now = utcnow()
    Token.delete().where((Token.expires_at < now) | (Token.used_at.is_null(False))).execute()
    UserSession.delete().where(UserSession.ended_at < now - timedelta(days=30)).execute()


def send_event_digests():
    from services.event_notifications import send_event_digests as send

    return send()


def purge_old_events():
    """Delete each organization's events older than its retention setting (with their comments)."""
    from models import AuditEvent, EventComment, Organization

    now = utcnow()
    for org in Organization.select(Organization.id, Organization.events_retention_days).where(
            Organization.events_retention_days.is_null(False)):
        old = AuditEvent.select(AuditEvent.id).where(
            AuditEvent.organization == org.id, AuditEvent.created_at < now - timedelta(days=org.events_retention_days))
        EventComment.delete().where(EventComment.event.in_(old)).execute()
        AuditEvent.delete().where(AuditEvent.id.in_(old)).execute()


# (job id, function, interval in seconds or the config key holding it)
JOBS = [
    ("heartbeat", heartbeat, "SCHEDULER_HEARTBEAT_SECONDS"),
    ("purge_expired", purge_expired, 3600),
    ("poll_mail_servers", poll_mail_servers, "MAIL_POLL_SECONDS"),
    ("account_exports", run_pending_exports, "EXPORT_POLL_SECONDS"),
    ("account_purge_exports", purge_old_exports, 3600),
    ("sweep_partial_files", sweep_partial_files, 3600),
    ("account_erase_due", erase_due_accounts, 3600),
    ("purge_codes", purge_old_codes, 3600),
    ("webhook_deliveries", deliver_due, "WEBHOOK_POLL_SECONDS"),
    ("webhook_purge", purge_old_deliveries, 3600),
    ("deliver_notifications", deliver_notifications, "NOTIFY_POLL_SECONDS"),
    ("purge_outbox", purge_old_outbox, 3600),
    ("purge_idempotency_keys", purge_idempotency_keys, 3600),
    ("purge_service_key_uses", purge_service_key_uses, 3600),
    ("purge_old_events", purge_old_events, 3600),
    ("event_digests", send_event_digests, "EVENT_DIGEST_SECONDS"),
]


class Outage:
    """One log line when the database goes away and one when it is back, instead of a traceback from
    every job and lock attempt in between."""

    def __init__(self):
        self.since = None

    def failed(self, exc):
        if self.since is None:
            self.since = time.monotonic()
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning("scheduler: the database is unavailable (%s); jobs wait for it", reason)

    def ended(self):
        if self.since is not None:
            log.warning("scheduler: the database is back after %.1f s", time.monotonic() - self.since)
            self.since = None


database_outage = Outage()
DATABASE_ERRORS = (peewee.OperationalError, peewee.InterfaceError, psycopg2.OperationalError, psycopg2.InterfaceError)


def in_app_context(app, func):
    def run():
        with app.app_context():
            try:
                db.connect(reuse_if_open=True)
                func()
                database_outage.ended()
            except DATABASE_ERRORS as exc:
                database_outage.failed(exc)
            except Exception:
                log.exception("job %s failed", func.__name__)
            finally:
                db.close()

    run.__name__ = func.__name__
    return run


def start_scheduler(app):
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for job_id, func, interval in JOBS:
        seconds = app.config[interval] if isinstance(interval, str) else interval
        scheduler.add_job(in_app_context(app, func), "interval", seconds=seconds, id=job_id, next_run_time=utcnow())
    scheduler.start()
    return scheduler


class PostgresLock:
    """A session-level advisory lock on a connection of its own, outside the request pool."""

    def __init__(self, url):
        self.url = url.replace("postgresql+pool://", "postgresql://").replace("postgres://", "postgresql://")
        self.conn = None

    def acquire(self):
        try:
            self.conn = self.conn or psycopg2.connect(self.url, connect_timeout=5)
            self.conn.autocommit = True
            with self.conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
                database_outage.ended()
                return cur.fetchone()[0]
        except psycopg2.Error as exc:
            database_outage.failed(exc)
            self.release()
            return False

    def held(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1")
            return True
        except (psycopg2.Error, AttributeError):
            return False

    def release(self):
        if self.conn is not None:
            try:
                self.conn.close()  # the server drops the advisory lock with the session
            except psycopg2.Error:
                pass
            self.conn = None


class FileLock:
    """An exclusive flock on a file: one leader per machine for the SQLite set-up."""

    def __init__(self, path):
        self.path = Path(path)
        self.handle = None

    def acquire(self):
        self.handle = self.handle or self.path.open("a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def held(self):
        return self.handle is not None

    def release(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def send_webhooks_when_told(app, done):
    """PostgreSQL: while this process leads, run deliver_due as soon as a transaction that queued deliveries
    commits (services.webhooks.emit NOTIFYs WAKE_CHANNEL), instead of at the job's next poll; the job
    stays, for retries and anything sent while this was reconnecting. Claims keep the two from sending
    a delivery twice. Notices that come while it sends wait in the socket: the next round takes them."""
    url = PostgresLock(app.config["DATABASE_URL"]).url
    send = in_app_context(app, deliver_due)
    conn = None
    while not done.is_set():
        try:
            if conn is None:
                conn = psycopg2.connect(url, connect_timeout=5)
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {WAKE_CHANNEL}")
                send()  # whatever was queued while nobody listened
            if select.select([conn], [], [], 1)[0]:
                conn.poll()
                if conn.notifies:
                    conn.notifies.clear()
                    send()
        except (psycopg2.Error, OSError) as exc:
            database_outage.failed(exc)
            if conn is not None:
                conn.close()
            conn = None
            done.wait(app.config["SCHEDULER_LEADER_POLL_SECONDS"])
    if conn is not None:
        conn.close()


def leader_lock(app):
    url = app.config["DATABASE_URL"]
    if url.startswith("postgres"):
        return PostgresLock(url)
    return FileLock(Path(app.config["INSTANCE_PATH"]) / "scheduler.lock")


def lead_when_possible(app, stop):
    """Wait for the lock, run the jobs while holding it, and start waiting again if it is lost."""
    lock = leader_lock(app)
    poll = app.config["SCHEDULER_LEADER_POLL_SECONDS"]
    while not stop.is_set():
        if not lock.acquire():
            stop.wait(poll)
            continue
        log.info("scheduler: %s leads, running %d job(s)", process_name(), len(JOBS))
        scheduler = start_scheduler(app)
        done = threading.Event()
        if isinstance(lock, PostgresLock):
            threading.Thread(target=send_webhooks_when_told, args=(app, done), daemon=True, name="webhooks").start()
        while not stop.wait(poll) and lock.held():
            pass
        done.set()
        scheduler.shutdown(wait=False)
        lock.release()
        if not stop.is_set():
            log.warning("scheduler: lost the lock, waiting to lead again")


def start_in_background(app):
    """For `flask serve`: the leader loop in a daemon thread next to the development server."""
    stop = threading.Event()
    threading.Thread(target=lead_when_possible, args=(app, stop), daemon=True, name="scheduler").start()
    return stop


def run_scheduler_forever(app):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lead_when_possible(app, stop)

"""Exactly one scheduler runs the jobs across processes; killing the leader hands over (issue 9)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from models import SchedulerHeartbeat

ROOT = Path(__file__).resolve().parent.parent


def start_scheduler_process(database_url, instance, **extra):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KABINET_INSTANCE": str(instance),
        "SECRET_KEY": "test",
        "SCHEDULER_HEARTBEAT_SECONDS": "1",
        "SCHEDULER_LEADER_POLL_SECONDS": "1",
        "FLASK_APP": "app:create_app",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "scheduler"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def writers_since(moment):
    rows = SchedulerHeartbeat.select().where(SchedulerHeartbeat.ran_at >= moment)
    return [row.process.rsplit(":", 1)[1] for row in rows]


def wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    return condition()


def test_two_schedulers_one_leader_and_handover(app, database_url, tmp_path):
    from models import utcnow

    started = utcnow()
    first = start_scheduler_process(database_url, tmp_path)
    second = start_scheduler_process(database_url, tmp_path)
    try:
        assert wait_for(lambda: len(writers_since(started)) >= 3, 20), "no heartbeat within 20 s"
        time.sleep(2)
        writers = set(writers_since(started))
        assert len(writers) == 1, f"more than one scheduler ran the job: {writers}"
        leader_pid = int(writers.pop())
        assert leader_pid in (first.pid, second.pid)
        standby = second if leader_pid == first.pid else first

        os.killpg(leader_pid, signal.SIGKILL)
        killed_at = utcnow()
        new = wait_for(lambda: set(writers_since(killed_at)) - {str(leader_pid)}, 10)
        assert new == {str(standby.pid)}, "the standby did not take over"
        handover = SchedulerHeartbeat.select().where(SchedulerHeartbeat.process.endswith(f":{standby.pid}")).first()
        assert (handover.ran_at - killed_at).total_seconds() < 4  # within one poll + one interval
    finally:
        for process in (first, second):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(10)


def test_jobs_log_one_line_per_database_outage_and_its_end(app, caplog, monkeypatch):
    """While the database is down every job fails to connect: one warning without a traceback for the
    outage, one when it ends, instead of a traceback per job run (issue: faults)."""
    import logging

    import peewee

    from models import db
    from services.scheduler import database_outage, in_app_context

    runs = []
    job = in_app_context(app, lambda: runs.append(1))
    real_connect = db.obj.connect

    def refused(*args, **kwargs):
        raise peewee.OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused\n'
                                      "\tIs the server running on that host?")

    monkeypatch.setattr(database_outage, "since", None)
    caplog.set_level(logging.WARNING, logger="services.scheduler")
    monkeypatch.setattr(db.obj, "connect", refused)
    for _ in range(5):
        job()
    monkeypatch.setattr(db.obj, "connect", real_connect)
    job()
    job()
    lines = [(r.getMessage(), r.exc_info) for r in caplog.records if r.name == "services.scheduler"]
    assert len(lines) == 2 and runs == [1, 1], lines
    assert "unavailable" in lines[0][0] and "Connection refused" in lines[0][0] and lines[0][1] is None
    assert "back after" in lines[1][0] and lines[1][1] is None


def test_postgres_a_committed_event_is_sent_at_once_not_at_the_next_poll(app, database_url, tmp_path, org):
    """The leader LISTENs for emit's NOTIFY: with a 10-minute poll, an event is still delivered within
    seconds of its commit, and a rolled-back one is never announced."""
    import psycopg2
    import pytest

    from models import db
    from services import webhooks
    from tests.webhook_receiver import receiver_on_localhost

    if not webhooks.is_postgres():
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite deliveries wait for the poll")
    with receiver_on_localhost() as receiver:
        webhooks.create_endpoint(org.id, None, receiver.url, ["sign_in"], {"SECRET_KEY": "test"})
        listener = psycopg2.connect(database_url)
        listener.autocommit = True
        listener.cursor().execute(f"LISTEN {webhooks.WAKE_CHANNEL}")
        try:
            with pytest.raises(RuntimeError), db.atomic():
                webhooks.emit(org, "sign_in", {"n": "rolled back"})
                raise RuntimeError
            time.sleep(0.3)
            listener.poll()
            assert listener.notifies == []
        finally:
            listener.close()

        process = start_scheduler_process(database_url, tmp_path, WEBHOOK_POLL_SECONDS="600",
                                          WEBHOOK_ALLOWED_PRIVATE="127.0.0.1")
        try:
            assert wait_for(lambda: SchedulerHeartbeat.select().count(), 20), "the scheduler did not lead"
            time.sleep(1)  # its first poll has run and found nothing
            with db.atomic():
                webhooks.emit(org, "sign_in", {"n": "now"})
                time.sleep(0.5)
                assert receiver.requests == []  # not before the commit
            committed = time.monotonic()
            assert wait_for(lambda: receiver.requests, 10), "not delivered within 10 s of the commit"
            assert time.monotonic() - committed < 5
            assert b'"n":"now"' in receiver.requests[0][2] and len(receiver.requests) == 1
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)

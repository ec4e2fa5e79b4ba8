"""Faults while under load (issue 9): PostgreSQL restarted, Redis stopped, an SMTP server hanging and
the scheduler killed. Each gives translated 503s (never a 500) during the outage, recovers by itself,
loses no acknowledged write and leaves no half-written rows. With Redis stopped, sign-ins still work and
are still limited (counted per process until Redis is back).

The test runs its own PostgreSQL and Redis on free ports, so restarting them disturbs nothing else.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.fault_peers import PG_BIN, PrivatePostgres, PrivateRedis, need

pytestmark = pytest.mark.standalone  # brings its own PostgreSQL and Redis: run once, not once per database

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "fault tolerant lilac tunnel"


@pytest.fixture(scope="module")
def backends():
    need(os.geteuid() == 0 and shutil.which("runuser") and (PG_BIN / "initdb").exists(),
         "needs root, runuser and PostgreSQL's initdb to run a private PostgreSQL")
    need(shutil.which("redis-server"), "needs redis-server")
    pg, redis = PrivatePostgres(), PrivateRedis()
    pg.start()
    redis.start()
    yield pg, redis
    redis.stop()
    pg.stop()
    shutil.rmtree(pg.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def fault_app(backends, tmp_path_factory):
    import migrations
    from app import create_app
    from models import Organization, User, db, open_database
    from services import passwords

    pg, redis = backends
    database = open_database(pg.url)
    app = create_app({
        "TESTING": False, "DATABASE": database, "DATABASE_URL": pg.url, "SECRET_KEY": "faults",
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")), "RATELIMIT_STORAGE_URI": redis.url,
        "ARGON2_MEMORY_KIB": 19456, "ARGON2_TIME_COST": 2, "MAIL_TIMEOUT": 1, "RATELIMIT_RETRY_SECONDS": 1,
    })
    with database.connection_context():
        migrations.upgrade(database)
        org = Organization.create(name="Faults Ltd")
        for n in range(4):
            User.create(organization=org, email=f"load{n}@example.com", password_hash=passwords.hash_password(PASSWORD))
    yield app
    database.close_all()


def sign_in(client, email, password=PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


class Load:
    """Threads autosaving numbered names, like people typing, while faults happen."""

    def __init__(self, app, users=4):
        self.app, self.users = app, users
        self.stop = threading.Event()
        self.results = []  # (user, seq, status, body, time)
        self.acked = {}  # user -> last seq answered 200
        self.lock = threading.Lock()
        self.ready = threading.Semaphore(0)

    def run(self, n):
        client = self.app.test_client()
        language = "ru" if n % 2 else "en"
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        response = sign_in(client, f"load{n}@example.com")
        assert response.status_code == 303, response.get_data(as_text=True)[-500:]
        page = client.get("/app/personal-data").get_data(as_text=True)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        seq = 0
        self.ready.release()  # signed in: faults may begin
        while not self.stop.is_set():
            seq += 1
            response = client.post("/app/personal-data/field/full_name", data={"full_name": f"load {seq}"},
                                   headers={"HX-Request": "true", "X-CSRFToken": token})
            with self.lock:
                self.results.append((n, seq, response.status_code, response.get_data(as_text=True), time.monotonic()))
                if response.status_code == 200:
                    self.acked[n] = seq
            time.sleep(0.02)

    def __enter__(self):
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(self.users)]
        for thread in self.threads:
            thread.start()
        for _ in self.threads:
            assert self.ready.acquire(timeout=60), "a load thread could not sign in"
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def since(self, moment):
        with self.lock:
            return [r for r in self.results if r[4] >= moment]

    def wait_until_healthy(self, timeout=20):
        """Seconds until every user has had a 200 again."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            recent = self.since(time.monotonic() - 0.5)
            if {r[0] for r in recent if r[2] == 200} == set(range(self.users)):
                return time.monotonic() - started
            time.sleep(0.2)
        tail = [(r[0], r[2], r[3][:200]) for r in self.results[-8:]]
        raise AssertionError(f"did not recover: {tail}")


OUTAGE_TEXT = {"en": "briefly unavailable", "ru": "ненадолго недоступен"}


def assert_outage_answers(results):
    statuses = {r[2] for r in results}
    assert 500 not in statuses and statuses <= {200, 503}, statuses
    for user, _seq, status, body, _t in results:
        if status == 503:
            assert OUTAGE_TEXT["ru" if user % 2 else "en"] in body and "<html" not in body  # a fragment


def test_postgres_restart_redis_stop_hanging_smtp_and_scheduler_kill_under_load(fault_app, backends):
    from models import AuditEvent, User, UserSession
    from tests.smtp_peers import silent_peer

    pg, redis = backends
    with Load(fault_app) as load:
        # 1. PostgreSQL goes away for two seconds and comes back.
        began = time.monotonic()
        pg.stop()
        time.sleep(2)
        during = load.since(began)
        pg.start()
        recovery = load.wait_until_healthy()
        assert any(r[2] == 503 for r in during), "the outage was not noticed"
        assert_outage_answers(load.since(began))
        refused = [r for r in load.since(began) if r[2] == 503]
        print(f"PostgreSQL stopped 2 s: {len(refused)} translated 503s over {refused[-1][4] - refused[0][4]:.2f} s, "
              f"recovered {recovery:.1f} s after it was back")

        # 2. Redis (rate-limit storage) stops: sign-ins still work and are still limited (counted in this
        #    process meanwhile), autosaves carry on; once Redis is back the counts go there again.
        redis.stop()
        mark = time.monotonic()
        client = fault_app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
        assert sign_in(client, "load0@example.com").status_code == 303
        attacker = fault_app.test_client()
        statuses = [sign_in(attacker, "load3@example.com", "wrong password").status_code for _ in range(6)]
        assert statuses == [422] * 5 + [429], statuses  # LOGIN_LIMIT_PER_ACCOUNT: 5 per 10 minutes
        assert sign_in(attacker, "load3@example.com").status_code == 429
        assert {r[2] for r in load.since(mark)} == {200}
        redis.start()
        import redis as redis_client

        shared = redis_client.Redis.from_url(redis.url)
        deadline = time.monotonic() + 10
        while not shared.keys("LIMITS*") and time.monotonic() < deadline:  # RATELIMIT_RETRY_SECONDS is 1 here
            sign_in(fault_app.test_client(), "load2@example.com", "wrong password")
            time.sleep(0.2)
        assert shared.keys("LIMITS*"), "the counts did not go back to Redis"
        assert sign_in(fault_app.test_client(), "load1@example.com").status_code == 303
        print(f"Redis stopped: {statuses.count(422)} wrong sign-ins answered, then 429; counting in Redis again "
              f"{time.monotonic() - mark:.1f} s after the stop")

        # 3. The SMTP server hangs: the forgot-password form still answers within the mail timeout.
        with silent_peer() as peer:
            fault_app.config.update(MAIL_HOST=peer.host, MAIL_PORT=peer.port, MAIL_SECURITY="none")
            client = fault_app.test_client()
            page = client.get("/forgot-password").get_data(as_text=True)
            token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
            started = time.monotonic()
            response = client.post("/forgot-password", data={"csrf_token": token, "email": "load1@example.com"})
            assert response.status_code == 200 and time.monotonic() - started < 5
            fault_app.config.update(MAIL_HOST="")

        # 4. The scheduler process is killed: the web load does not notice, a new one picks up the jobs.
        env = {**os.environ, "DATABASE_URL": pg.url, "SECRET_KEY": "faults", "FLASK_APP": "app:create_app",
               "KABINET_INSTANCE": fault_app.config["INSTANCE_PATH"], "SCHEDULER_HEARTBEAT_SECONDS": "1",
               "SCHEDULER_LEADER_POLL_SECONDS": "1"}
        scheduler = subprocess.Popen([sys.executable, "-m", "flask", "scheduler"], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait()
        mark = time.monotonic()
        time.sleep(0.5)
        assert {r[2] for r in load.since(mark)} == {200}
        replacement = subprocess.Popen([sys.executable, "-m", "flask", "scheduler"], cwd=ROOT, env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            from models import SchedulerHeartbeat

            deadline = time.monotonic() + 60  # a cold Python start on a busy 2-core machine can take long
            while time.monotonic() < deadline and not SchedulerHeartbeat.select().where(
                SchedulerHeartbeat.process.endswith(f":{replacement.pid}")
            ).exists():
                time.sleep(0.3)
            assert SchedulerHeartbeat.select().where(SchedulerHeartbeat.process.endswith(f":{replacement.pid}")).exists()
        finally:
            replacement.terminate()
            replacement.wait(10)

    # No acknowledged write was lost: each person's name is their last acknowledged save or a later one.
    for n, seq in load.acked.items():
        saved = int(User.get(User.email == f"load{n}@example.com").full_name.split()[1])
        assert saved >= seq
    # No half-written sign-in: every session has its audit event (both are written in one transaction).
    assert UserSession.select().count() == AuditEvent.select().where(AuditEvent.action == "signin").count()

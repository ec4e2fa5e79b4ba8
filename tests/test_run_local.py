"""`make prod` (deploy/run-local.sh) under a light load while its processes are killed (issue: faults): the
scheduler, a web worker and the gunicorn master each die; the site keeps serving (or is back within
seconds, for the master), whatever died is started again, and SIGTERM stops everything.

Runs on the server's PostgreSQL in a database of its own and on a private Redis.
"""
import http.client
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg2
import pytest

from tests.fault_peers import PrivateRedis, free_port, need

pytestmark = pytest.mark.standalone  # brings its own Redis and database: run once, not once per database

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("FAULTS_POSTGRES_URL") or (os.environ.get("TEST_DATABASE_URL") or "").rsplit("/", 1)[0] \
    or "postgresql://postgres@127.0.0.1:5432"


def admin(sql, database="postgres"):
    conn = psycopg2.connect(f"{SERVER}/{database}", connect_timeout=3)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall() if cur.description else None
    conn.close()
    return rows


class RunLocal:
    """deploy/run-local.sh as a person starts it, its output collected line by line."""

    def __init__(self, env):
        self.lines, self.changed = [], threading.Condition()
        self.process = subprocess.Popen([str(ROOT / "deploy" / "run-local.sh")], cwd=ROOT, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip())
                self.changed.notify_all()

    def started(self, name, after=0, timeout=60):
        """The pid of the `after`+1-th start of `name` by the supervisor."""
        pattern = re.compile(rf"supervise: {name} started \(pid (\d+)\)")

        def pids():
            return [int(m.group(1)) for m in map(pattern.search, self.lines) if m]

        with self.changed:
            assert self.changed.wait_for(lambda: len(pids()) > after, timeout), "\n".join(self.lines[-30:])
            return pids()[after]


class Load:
    """Two visitors asking for the sign-in page in a closed loop; every answer (or failure) timed."""

    def __init__(self, port):
        self.port, self.stop, self.results = port, threading.Event(), []
        self.threads = [threading.Thread(target=self.run) for _ in range(2)]

    def run(self):
        while not self.stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/login")
                status = conn.getresponse().status
            except OSError:
                status = 0
            finally:
                conn.close()
            self.results.append((time.monotonic(), status))
            time.sleep(0.02)

    def since(self, moment):
        return [status for t, status in list(self.results) if t >= moment]

    def wait_serving(self, since, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if 200 in self.since(since) and self.since(time.monotonic() - 0.3)[-3:] == [200] * 3:
                return
            time.sleep(0.1)
        raise AssertionError(f"not serving again: {self.since(since)[-10:]}")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


@pytest.fixture
def run_local_env(tmp_path):
    need(shutil.which("psql") and shutil.which("redis-server"), "needs psql and redis-server")
    try:
        admin("SELECT 1")
    except psycopg2.Error as exc:
        need(False, f"needs PostgreSQL at {SERVER}: {exc}")
    name = f"kabinet_run_local_{os.getpid()}"
    admin(f'DROP DATABASE IF EXISTS "{name}"')
    redis = PrivateRedis()
    redis.start()
    port = free_port()
    env = {**os.environ, "PROD_DATABASE_URL": f"{SERVER}/{name}", "RATELIMIT_STORAGE_URI": redis.url,
           "KABINET_INSTANCE": str(tmp_path / "instance"), "SECRET_KEY": "run-local", "PORT": str(port),
           "WORKERS": "2", "SCHEDULER_HEARTBEAT_SECONDS": "1", "SCHEDULER_LEADER_POLL_SECONDS": "1",
           "ARGON2_MEMORY_KIB": "19456", "ARGON2_TIME_COST": "2"}
    yield env, port, name
    redis.stop()
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_killing_the_scheduler_a_worker_or_the_master_leaves_the_site_serving(run_local_env):
    env, port, name = run_local_env
    began = time.monotonic()
    run = RunLocal(env)
    load = Load(port)
    pids = []
    try:
        scheduler, web = run.started("scheduler"), run.started("web")
        pids += [scheduler, web]
        load.threads[0].start()
        load.wait_serving(0, timeout=90)  # migrations, demo data, gunicorn's boot on a busy machine
        print(f"run-local serving {time.monotonic() - began:.1f} s after it was started")
        load.threads[1].start()

        def heartbeat_from(pid, timeout=30):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if admin(f"SELECT 1 FROM scheduler_heartbeat WHERE process LIKE '%:{pid}'", name):
                    return time.monotonic()
                time.sleep(0.2)
            raise AssertionError("\n".join(run.lines[-30:]))

        heartbeat_from(scheduler)

        # 1. The scheduler is killed: every request is still answered, and a new scheduler runs the jobs.
        killed = time.monotonic()
        os.kill(scheduler, signal.SIGKILL)
        scheduler = run.started("scheduler", after=1)
        pids.append(scheduler)
        back = heartbeat_from(scheduler)
        assert set(load.since(killed)) == {200}, load.since(killed)
        print(f"scheduler killed: {len(load.since(killed))} requests all answered 200; "
              f"jobs running again after {back - killed:.1f} s")

        # 2. A web worker is killed: gunicorn replaces it; at most the requests it was serving fail.
        worker = children(web)[0]
        killed = time.monotonic()
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len([p for p in children(web) if p != worker]) < 2:
            time.sleep(0.1)
        assert len([p for p in children(web) if p != worker]) == 2
        time.sleep(0.5)
        failed = load.since(killed).count(0)
        assert failed <= 2 and load.since(time.monotonic() - 0.3)[-1] == 200, load.since(killed)
        print(f"worker killed: {failed} of {len(load.since(killed))} requests failed")

        # 3. The gunicorn master is killed: the supervisor starts it again, the scheduler is untouched.
        killed = time.monotonic()
        os.kill(web, signal.SIGKILL)
        web = run.started("web", after=1)
        pids.append(web)
        load.wait_serving(killed)
        outcomes = load.since(killed)
        refused = [t for t, status in list(load.results) if t >= killed and status != 200]
        assert alive(scheduler) and 500 not in outcomes and 503 not in outcomes
        print(f"gunicorn master killed: {len(refused)} of {len(outcomes)} requests refused over "
              f"{(refused[-1] - refused[0]) if refused else 0:.1f} s; serving again "
              f"{time.monotonic() - killed:.1f} s after the kill")

        # 4. SIGTERM to run-local (the supervisor) stops everything.
        load.stop.set()
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(20) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (alive(scheduler) or alive(web)):
            time.sleep(0.1)
        assert not alive(scheduler) and not alive(web)
    finally:
        load.stop.set()
        for thread in load.threads:
            if thread.is_alive():
                thread.join(10)
        # The supervisor's children run in process groups of their own: kill those groups first, or a
        # gunicorn left behind keeps the output pipe open and closing it below would wait for ever.
        started = [int(pid) for pid in re.findall(r"started \(pid (\d+)\)", "\n".join(run.lines))]
        for pid in set(pids + started):
            if alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    os.kill(pid, signal.SIGKILL)
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait(10)
        run.process.stdout.close()

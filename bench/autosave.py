"""Autosave throughput: requests/s of POST /app/personal-data/field/full_name (signed in, CSRF, one UPDATE)
against a bare Flask route returning the same fragment, both served by the same gunicorn set-up in one run.

    .venv/bin/python bench/autosave.py [--seconds 10] [--connections 8] [--workers 2] [--database-url URL]

The default database is a fresh SQLite file (what `make run` uses); pass a PostgreSQL URL to measure that.
Prints both rates (median of alternating rounds), their latencies and the ratio (goal: autosave / bare >= 0.5).
"""
import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PATH = "/app/personal-data/field/full_name"
PASSWORD = "bench passphrase lilac tunnel"
BARE_APP = f'''
from pathlib import Path
from flask import Flask, request
app = Flask(__name__)
FRAGMENT = (Path(__file__).parent / "fragment.html").read_bytes()
@app.post("{PATH}")
def autosave():
    request.form.get("full_name")
    return FRAGMENT
'''


def prepare(database_url, users):
    sys.path.insert(0, str(ROOT))
    import migrations
    from models import Organization, User, db, open_database
    from services import passwords

    if database_url.startswith("postgres"):
        import psycopg2

        with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
            cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    database = open_database(database_url)
    db.initialize(database)
    passwords.configure(19456, 2)
    with database.connection_context():
        migrations.upgrade(database)
        org = Organization.create(name="Bench Ltd", balance="100.00")
        password_hash = passwords.hash_password(PASSWORD)
        for n in range(users):
            User.create(organization=org, email=f"user{n}@bench.local", password_hash=password_hash, full_name=f"User {n}")
    if hasattr(database, "close_all"):
        database.close_all()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(spec, workers, env, cwd):
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", spec],
        cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}")


def stop(process):
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(10)


class Tab:
    """One signed-in browser tab: its cookie and CSRF token (a new connection per request, as gunicorn's sync workers close them)."""

    def __init__(self, port):
        self.port, self.cookie, self.token = port, "", ""

    def request(self, method, path, form=None, htmx=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"}
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": self.token})
        conn.request(method, path, body=urlencode(form) if form is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.getheader("Set-Cookie"):
            self.cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        return response.status, data

    def sign_in(self, email):
        _s, page = self.request("GET", "/login")
        self.token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1).decode()
        status, _ = self.request("POST", "/login", {"csrf_token": self.token, "email": email, "password": PASSWORD})
        assert status == 303, status
        _s, page = self.request("GET", "/app/personal-data")
        self.token = re.search(rb'"X-CSRFToken": "([^"]+)"', page).group(1).decode()


def run(port, tabs, seconds):
    latencies, errors, lock = [], [0], threading.Lock()
    ready = threading.Barrier(len(tabs) + 1)
    deadline = [0.0]

    def work(n, tab):
        local, bad = [], 0
        ready.wait()
        while time.monotonic() < deadline[0]:
            started = time.perf_counter()
            status, _ = tab.request("POST", PATH, {"full_name": f"User {n} {len(local)}", "csrf_token": tab.token}, htmx=True)
            local.append(time.perf_counter() - started)
            bad += status != 200
        with lock:
            latencies.extend(local)
            errors[0] += bad

    threads = [threading.Thread(target=work, args=(n, tab)) for n, tab in enumerate(tabs)]
    for thread in threads:
        thread.start()
    ready.wait()
    deadline[0] = time.monotonic() + seconds
    for thread in threads:
        thread.join()
    latencies.sort()
    return len(latencies) / seconds, statistics.median(latencies) * 1000, latencies[int(0.99 * (len(latencies) - 1))] * 1000, errors[0]


def median_run(runs):
    """The run with the median rate (its latencies and errors go with it)."""
    return sorted(runs)[len(runs) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds of each side, --seconds split among them")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        database_url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
        prepare(database_url, args.connections)
        env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench", "KABINET_INSTANCE": str(work),
               "LOGIN_LIMIT_PER_IP": "100000 per minute", "ARGON2_MEMORY_KIB": "19456", "ARGON2_TIME_COST": "2"}
        process, port = start_gunicorn("app:create_app()", args.workers, env, ROOT)
        bare = None
        try:
            tabs = [Tab(port) for _ in range(args.connections)]
            for n, tab in enumerate(tabs):
                tab.sign_in(f"user{n}@bench.local")
            status, fragment = tabs[0].request("POST", PATH, {"full_name": "User 0", "csrf_token": tabs[0].token}, htmx=True)
            assert status == 200, status
            (work / "bare_app.py").write_text(BARE_APP)
            (work / "fragment.html").write_bytes(fragment)
            bare, bare_port = start_gunicorn("bare_app:app", args.workers, env, work)
            bare_tabs = [Tab(bare_port) for _ in range(args.connections)]
            # Alternating rounds: on a shared machine the load changes by the second, and both sides
            # should see the same mix of it. Each side's figure is the median of its rounds.
            app_runs, bare_runs = [], []
            for _round in range(args.rounds):
                app_runs.append(run(port, tabs, args.seconds / args.rounds))
                bare_runs.append(run(bare_port, bare_tabs, args.seconds / args.rounds))
        finally:
            stop(process)
            if bare is not None:
                stop(bare)
    app_rps, app_p50, app_p99, app_errors = median_run(app_runs)
    bare_rps, bare_p50, bare_p99, bare_errors = median_run(bare_runs)
    ratios = [a[0] / b[0] for a, b in zip(app_runs, bare_runs)]

    kind = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    print(f"gunicorn, {args.workers} sync workers, {args.connections} connections, {args.seconds:.0f} s each "
          f"in {args.rounds} alternating rounds, {kind}")
    print(f"fragment: {len(fragment)} bytes")
    print(f"autosave   : {app_rps:7.0f} req/s  p50 {app_p50:5.1f} ms  p99 {app_p99:5.1f} ms  errors {app_errors}")
    print(f"bare Flask : {bare_rps:7.0f} req/s  p50 {bare_p50:5.1f} ms  p99 {bare_p99:5.1f} ms  errors {bare_errors}")
    print(f"ratio autosave / bare Flask: {app_rps / bare_rps:.2f}  (goal >= 0.5); per round: "
          + ", ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()

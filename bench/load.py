"""Signed-in users doing the real mix against gunicorn on PostgreSQL and Redis, 2 and 4 workers.

    .venv/bin/python bench/load.py [--connections 32] [--seconds 15] [--workers 2 4]

The mix: full page loads, autosaves of the name, notification checkbox saves and mail-server status
polls (the last two only once those features exist). For each worker count it prints requests/s,
p50/p99 latency and the error count, then autosave throughput against a bare Flask route that
returns a fragment of the same size, served by the same gunicorn set-up in the same run.
Needs the local PostgreSQL (database kabinet_bench is re-created) and Redis.
"""
import argparse
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1:5432"
DATABASE_URL = f"{PG}/kabinet_bench"
PASSWORD = "bench passphrase lilac tunnel"
BARE_APP = '''
from flask import Flask, request
app = Flask(__name__)
FRAGMENT = open(__file__.replace("bare_app.py", "fragment.html")).read()
@app.post("/app/personal-data/field/full_name")
def autosave():
    request.form.get("full_name")
    return FRAGMENT
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(users):
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS kabinet_bench WITH (FORCE)")
        cur.execute("CREATE DATABASE kabinet_bench")
    conn.close()
    sys.path.insert(0, str(ROOT))
    import migrations
    from models import Organization, User, db, open_database
    from services import passwords

    database = open_database(DATABASE_URL)
    db.initialize(database)
    passwords.configure(19456, 2)
    with database.connection_context():
        migrations.upgrade(database)
        org = Organization.create(name="Bench Ltd", balance="100.00")
        password_hash = passwords.hash_password(PASSWORD)
        for n in range(users):
            User.create(organization=org, email=f"user{n}@bench.local", password_hash=password_hash, full_name=f"User {n}")
    database.close_all()


def start_gunicorn(app_spec, workers, env, cwd=ROOT):
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app_spec],
        cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}")


def stop(process):
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(10)


class Client:
    """One keep-alive connection with its own cookie, like one browser tab."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        self.token = ""

    def request(self, method, path, form=None, htmx=False):
        headers = {"Cookie": self.cookie}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": self.token})
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data

    def sign_in(self, email):
        _status, page = self.request("GET", "/login")
        self.token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1).decode()
        status, _ = self.request("POST", "/login", {"csrf_token": self.token, "email": email, "password": PASSWORD})
        assert status == 303, f"sign-in failed: {status}"
        _status, page = self.request("GET", "/app/personal-data")
        self.token = re.search(rb'"X-CSRFToken": "([^"]+)"', page).group(1).decode()
        return page.decode()


AUTOSAVE = ("autosave", 1, "POST", "/app/personal-data/field/full_name", "name")


def discover_mix(page):
    """The actions this build offers, with their weights (features not built yet are left out)."""
    mix = [("page", 2, "GET", "/app/personal-data", None), (*AUTOSAVE[:1], 4, *AUTOSAVE[2:])]
    checkbox = re.search(r'hx-post="(/app/[^"]*notification[^"]*)"', page)
    if checkbox:
        mix.append(("checkbox", 2, "POST", checkbox.group(1), "checkbox"))
    poll = re.search(r'hx-get="(/app/[^"]*(?:status|mail-servers)[^"]*)"', page)
    if poll:
        mix.append(("status poll", 2, "GET", poll.group(1), None))
    return mix


def run_load(port, connections, seconds, mix=None, emails=None):
    results = []  # (kind, status, seconds)
    lock = threading.Lock()
    ready = threading.Barrier(connections + 1)
    deadline = [0.0]

    def user(n):
        client = Client(port)
        page = client.sign_in(emails[n]) if emails else ""
        actions = mix if mix is not None else discover_mix(page)
        weights = [a[1] for a in actions]
        local = []
        ready.wait()
        while time.monotonic() < deadline[0]:
            kind, _w, method, path, form = random.choices(actions, weights)[0]
            data = None
            if form == "name":
                data = {"full_name": f"User {n} {random.randint(0, 9999)}", "csrf_token": client.token}
            elif form == "checkbox":
                data = {"csrf_token": client.token}
            started = time.perf_counter()
            try:
                status, _body = client.request(method, path, data, htmx=method == "POST" or kind == "status poll")
            except (OSError, http.client.HTTPException):
                status = 599
                client = Client(port)
            local.append((kind, status, time.perf_counter() - started))
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait()
    deadline[0] = time.monotonic() + seconds
    for thread in threads:
        thread.join()
    return results


def summary(results, seconds, kind=None):
    rows = [r for r in results if kind is None or r[0] == kind]
    latencies = sorted(r[2] for r in rows)
    errors = sum(1 for r in rows if r[1] >= 400 and not (r[0] == "autosave" and r[1] == 422))
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0  # noqa: E731
    return len(rows) / seconds, statistics.median(latencies) * 1000 if latencies else 0, p(0.99), errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args()

    prepare_database(args.connections)
    emails = [f"user{n}@bench.local" for n in range(args.connections)]
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/14",
           "SECRET_KEY": "bench", "KABINET_INSTANCE": "/tmp/kabinet-bench", "LOGIN_LIMIT_PER_IP": "100000 per minute"}
    print(f"{args.connections} signed-in connections, {args.seconds:.0f} s per run, gunicorn sync workers, PostgreSQL + Redis")
    for workers in args.workers:
        process, port = start_gunicorn("app:create_app()", workers, env)
        try:
            results = run_load(port, args.connections, args.seconds, emails=emails)
            autosave_only = run_load(port, args.connections, args.seconds, mix=[AUTOSAVE], emails=emails)
            autosave_fragment = Client(port)
            autosave_fragment.sign_in(emails[0])
            _status, fragment = autosave_fragment.request(
                "POST", "/app/personal-data/field/full_name", {"full_name": "User 0", "csrf_token": autosave_fragment.token}, htmx=True)
        finally:
            stop(process)
        bare_dir = Path("/tmp/kabinet-bench-bare")
        bare_dir.mkdir(exist_ok=True)
        (bare_dir / "bare_app.py").write_text(BARE_APP)
        (bare_dir / "fragment.html").write_bytes(fragment)
        bare, bare_port = start_gunicorn("bare_app:app", workers, env, cwd=bare_dir)
        try:
            bare_results = run_load(bare_port, args.connections, args.seconds, mix=[AUTOSAVE])
        finally:
            stop(bare)

        print(f"\n== {workers} workers ==")
        print(f"{'action':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        for kind in [None] + sorted({r[0] for r in results}):
            rps, p50, p99, errors = summary(results, args.seconds, kind)
            print(f"{kind or 'all':<14}{rps:>9.0f}{p50:>9.1f}{p99:>9.1f}{errors:>8}")
        bare_rps, bare_p50, bare_p99, _ = summary(bare_results, args.seconds)
        only_rps, only_p50, only_p99, only_errors = summary(autosave_only, args.seconds)
        print(f"autosave only : {only_rps:.0f} req/s, p50 {only_p50:.1f} ms, p99 {only_p99:.1f} ms, {only_errors} errors")
        print(f"bare Flask    : {bare_rps:.0f} req/s, p50 {bare_p50:.1f} ms, p99 {bare_p99:.1f} ms (same {len(fragment)} B fragment)")
        print(f"autosave / bare Flask throughput: {only_rps / bare_rps:.2f}")


if __name__ == "__main__":
    main()

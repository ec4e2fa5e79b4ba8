"""What the gunicorn benchmarks share: a database of bench users, gunicorn start/stop, a signed-in tab,
a bare Flask baseline serving the same fragment, and percentile summaries."""
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench passphrase lilac tunnel"
AUTOSAVE_PATH = "/app/personal-data/field/full_name"
BARE_APP = f'''
from pathlib import Path
from flask import Flask, request
app = Flask(__name__)
FRAGMENT = (Path(__file__).parent / "fragment.html").read_bytes()
@app.post("{AUTOSAVE_PATH}")
def autosave():
    request.form.get("full_name")
    return FRAGMENT
'''


def prepare_database(database_url, users):
    """A fresh schema at database_url with one organization and `users` people user<n>@bench.local, each
    with one mail server (so their page polls its status, as a person's with a server does)."""
    sys.path.insert(0, str(ROOT))
    import migrations
    from models import MailServer, Organization, User, db, open_database
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
            user = User.create(organization=org, email=f"user{n}@bench.local", password_hash=password_hash,
                               full_name=f"User {n}")
            MailServer.create(owner=user, organization=org, host="smtp.bench.local", port=587,
                              from_email=f"user{n}@bench.local", status="online")
    if hasattr(database, "close_all"):
        database.close_all()


def create_postgres_database(name):
    """postgresql://.../<name>, dropped and created anew on the local server."""
    import psycopg2

    conn = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def bench_env(database_url, instance, **extra):
    return {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench", "KABINET_INSTANCE": str(instance),
            "LOGIN_LIMIT_PER_IP": "100000 per minute", "ARGON2_MEMORY_KIB": "19456", "ARGON2_TIME_COST": "2", **extra}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GUNICORN_CONFIG = "deploy/gunicorn.conf.py"  # production's settings, in the tree that is started


def start_gunicorn(spec, workers, env, cwd=ROOT, config=None):
    """gunicorn in `cwd`, a checkout: its own code, with its own deploy/gunicorn.conf.py when it has one
    (or the settings file `config`)."""
    port = free_port()
    config = config or (Path(cwd) / GUNICORN_CONFIG)
    config = ["--config", str(config)] if Path(config).is_file() else []
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), *config, "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", spec],
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


def start_bare_flask(fragment, workers, env, folder, config=None):
    """The baseline: gunicorn serving a Flask route that reads the form and returns `fragment` (with the
    gunicorn settings file `config`, when given)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bare_app.py").write_text(BARE_APP)
    (folder / "fragment.html").write_bytes(fragment)
    return start_gunicorn("bare_app:app", workers, env, folder, config)


class Tab:
    """One signed-in browser tab: its cookie and CSRF token. Like a browser it keeps its connection open
    unless the server closes it (gunicorn's sync workers close every one)."""

    def __init__(self, port):
        self.port, self.cookie, self.token, self.conn = port, "", "", None

    def request(self, method, path, form=None, htmx=False, headers=None):
        headers = {"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": self.token})
        body = urlencode(form) if form is not None else None
        reused, conn, self.conn = self.conn is not None, self.conn, None
        try:
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                conn.close()  # the server closed the idle connection meanwhile: a browser sends it again
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
            data = response.read()
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            self.conn = conn
        if response.getheader("Set-Cookie"):
            self.cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        return response.status, data

    def sign_in(self, email):
        """Signs in and returns the personal-data page."""
        _s, page = self.request("GET", "/login")
        self.token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1).decode()
        status, _ = self.request("POST", "/login", {"csrf_token": self.token, "email": email, "password": PASSWORD})
        assert status == 303, f"sign-in failed: {status}"
        _s, page = self.request("GET", "/app/personal-data")
        self.token = re.search(rb'"X-CSRFToken": "([^"]+)"', page).group(1).decode()
        return page.decode()

    def autosave(self, name):
        return self.request("POST", AUTOSAVE_PATH, {"full_name": name, "csrf_token": self.token}, htmx=True)


def percentiles(latencies):
    """(p50, p99) in milliseconds of a list of seconds."""
    if not latencies:
        return 0.0, 0.0
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000

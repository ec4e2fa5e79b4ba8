"""The default set-up under concurrent writers (SECURITY issue, item 5): gunicorn's workers on one SQLite
file, two people uploading files while six tick notification boxes. Every request succeeds and every
acknowledged upload is stored and listed: a transaction that reads before it writes (the quota check)
takes SQLite's write lock first, so it waits its turn instead of failing with "database is locked".

The test brings its own SQLite file and gunicorn, so the PostgreSQL run skips it. It runs for
SQLITE_CONCURRENCY_SECONDS (default 20).
"""
import http.client
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.standalone

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "concurrent lilac tunnel walrus"
SECONDS = float(os.environ.get("SQLITE_CONCURRENCY_SECONDS", "20"))
UPLOADERS, SAVERS = 2, 6


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url):
    """Migrate a new SQLite file and add one organization with its uploaders and savers (their own
    database binding, given back afterwards: the run's database stays as it was)."""
    import migrations
    from models import Organization, User, db, open_database
    from services import passwords
    from services.permissions import grant

    previous = db.obj
    database = open_database(url)
    db.initialize(database)
    try:
        with database.connection_context():
            migrations.upgrade(database)
            org = Organization.create(name="Concurrency Ltd")
            password_hash = passwords.hash_password(PASSWORD)
            for n in range(UPLOADERS):
                grant(User.create(organization=org, email=f"up{n}@example.com", password_hash=password_hash), "files.manage")
            for n in range(SAVERS):
                User.create(organization=org, email=f"box{n}@example.com", password_hash=password_hash)
    finally:
        database.close_all()
        db.initialize(previous)


class Tab:
    """One signed-in person talking HTTP to the server (a new connection per request, as gunicorn's
    sync workers close them)."""

    def __init__(self, port):
        self.port, self.cookie, self.token = port, "", ""

    def request(self, method, path, body=None, content_type="application/x-www-form-urlencoded", htmx=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": self.cookie, "Content-Type": content_type}
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": self.token})
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read().decode()
        finally:
            conn.close()
        if response.getheader("Set-Cookie"):
            self.cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        return response.status, data

    def sign_in(self, email):
        _status, page = self.request("GET", "/login")
        self.token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/login", urlencode({"csrf_token": self.token, "email": email,
                                                              "password": PASSWORD}))
        assert status == 303, f"sign-in of {email}: {status}"
        _status, page = self.request("GET", "/app/personal-data")
        self.token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)

    def upload(self, name, content):
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{self.token}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", "/app/account/files", body, f"multipart/form-data; boundary={boundary}", htmx=True)

    def tick(self, category, channel, on):
        body = urlencode({"csrf_token": self.token, f"{category}.{channel}": "1" if on else "0"})
        return self.request("POST", f"/app/personal-data/notifications/{category}/{channel}", body, htmx=True)


@pytest.fixture
def server(tmp_path):
    url = f"sqlite:///{tmp_path / 'kabinet.sqlite3'}"
    prepare(url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "concurrency", "KABINET_INSTANCE": str(tmp_path),
           "ARGON2_MEMORY_KIB": "19456", "ARGON2_TIME_COST": "2", "PYTHONPATH": str(ROOT)}
    # The default set-up of README "Running in production": gunicorn's sync workers on the SQLite file.
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--workers", "4", "--bind", f"127.0.0.1:{port}", "--log-level",
             "warning", "app:create_app()"],
            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=out,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
    yield port, url, tmp_path / "files"
    os.killpg(process.pid, signal.SIGKILL)  # the test has checked everything: nothing is left to finish
    process.wait(10)


def test_uploads_and_checkbox_saves_on_sqlite_all_succeed_and_every_acknowledged_file_is_stored(server):
    port, url, files_root = server
    stop = threading.Event()
    lock = threading.Lock()
    errors, acknowledged, saves = [], {}, [0]

    def upload(n):
        tab = Tab(port)
        tab.sign_in(f"up{n}@example.com")
        ready.wait()
        seq = 0
        while not stop.is_set():
            seq += 1
            name, content = f"u{n}-{seq}.txt", f"file {n}-{seq} {secrets.token_hex(512)}\n".encode()
            status, body = tab.upload(name, content)
            with lock:
                if status == 200 and f"Uploaded {name}" in body:
                    acknowledged[name] = content
                else:
                    errors.append(("upload", status, body[-300:]))

    def save(n):
        tab = Tab(port)
        tab.sign_in(f"box{n}@example.com")
        ready.wait()
        seq = 0
        while not stop.is_set():
            seq += 1
            status, body = tab.tick(("security", "requests")[seq % 2], ("email", "in_app")[n % 2], seq % 3 != 0)
            with lock:
                saves[0] += 1
                if status != 200:
                    errors.append(("checkbox", status, body[-300:]))

    ready = threading.Barrier(UPLOADERS + SAVERS + 1, timeout=120)
    threads = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADERS)]
    threads += [threading.Thread(target=save, args=(n,)) for n in range(SAVERS)]
    for thread in threads:
        thread.start()
    ready.wait()  # everyone is signed in
    stop.wait(SECONDS)
    stop.set()
    for thread in threads:
        thread.join(60)

    print(f"{len(acknowledged)} uploads and {saves[0]} checkbox saves in {SECONDS:.0f} s, {len(errors)} errors")
    assert errors == [], f"{len(errors)} errors, the first: {errors[:3]}"
    assert len(acknowledged) > 20 and saves[0] > 100, "too little load to mean anything"

    # Every acknowledged file is stored (row and bytes) ...
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        rows = dict(conn.execute("SELECT name, organization_id || '/' || storage_name FROM stored_file").fetchall())
    assert set(rows) == set(acknowledged)
    for name, content in acknowledged.items():
        assert (files_root / rows[name]).read_bytes() == content
    # ... and listed on the files page, page after page.
    tab = Tab(port)
    tab.sign_in("up0@example.com")
    listed, path = set(), "/app/account/files"
    while path:
        status, page = tab.request("GET", path)
        assert status == 200
        listed |= set(re.findall(r"u\d+-\d+\.txt", page))
        more = re.search(r'href="(/app/account/files\?before=\d+)"', page)
        path = more.group(1) if more else None
    assert listed == set(acknowledged)

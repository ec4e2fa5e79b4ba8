"""`make prod` (deploy/run-local.sh, supervised) under load while its backends and processes fail.

    .venv/bin/python bench/faults.py [--users 16] [--workers 4]

16 signed-in people autosave their name back to back and someone signs in every second, against 4
gunicorn workers and the scheduler on a private PostgreSQL and Redis (root: the cluster runs as the
postgres user), while: PostgreSQL restarts; PostgreSQL stops for 10 s; Redis stops for 10 s; the
scheduler, a web worker and the gunicorn master are each killed. Prints what a person and an operator
see for each: answers by status, how long the outage showed, how soon everything worked again, and
at the end whether any acknowledged save was lost.
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

import psycopg2
from common import ROOT, Tab, bench_env, free_port, prepare_database

sys.path.insert(0, str(ROOT))
from tests.fault_peers import PrivatePostgres, PrivateRedis


class Traffic:
    def __init__(self, port, users):
        self.port, self.users, self.stop = port, users, threading.Event()
        self.saves, self.signins, self.acked = [], [], {}  # (time, status, seconds)

    def person(self, n):
        tab = Tab(self.port)
        tab.sign_in(f"user{n}@bench.local")
        seq = 0
        while not self.stop.is_set():
            seq += 1
            began = time.monotonic()
            try:
                status, _ = tab.autosave(f"load {seq}")
            except (OSError, http.client.HTTPException):
                status = 0
            self.saves.append((began, status, time.monotonic() - began, n))
            if status == 200:
                self.acked[n] = seq
            if status != 200:
                time.sleep(0.05)

    def signer(self):
        n = 0
        while not self.stop.wait(1):
            n += 1
            tab, began = Tab(self.port), time.monotonic()
            try:
                _s, page = tab.request("GET", "/login")
                token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1).decode()
                status, _ = tab.request("POST", "/login", {"csrf_token": token, "email": f"user{n % self.users}@bench.local",
                                                           "password": "bench passphrase lilac tunnel"})
            except (OSError, http.client.HTTPException, AttributeError):
                status = 0
            self.signins.append((began, status, time.monotonic() - began))

    def start(self):
        self.threads = [threading.Thread(target=self.person, args=(n,), daemon=True) for n in range(self.users)]
        self.threads.append(threading.Thread(target=self.signer, daemon=True))
        for thread in self.threads:
            thread.start()

    def healthy_after(self, moment, timeout=60):
        """Seconds from `moment` until the first save landed, and until every person had saved again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            first_ok = {}  # person -> time of their first 200 since `moment`
            for t, status, _s, n in list(self.saves):
                if t >= moment and status == 200:
                    first_ok.setdefault(n, t)
            if len(first_ok) == self.users:
                return min(first_ok.values()) - moment, max(first_ok.values()) - moment
            time.sleep(0.1)
        raise SystemExit("no recovery")


def summary(rows, since, until=None):
    picked = [r for r in list(rows) if r[0] >= since and (until is None or r[0] < until)]
    errors = [r for r in picked if r[1] not in (200, 303)]
    span = f", errors from {errors[0][0] - since:.2f} s to {errors[-1][0] + errors[-1][2] - since:.2f} s" if errors else ""
    slowest = max((r[2] for r in errors), default=0)
    return f"{dict(sorted(Counter(r[1] for r in picked).items()))}{span}, slowest error {slowest * 1000:.0f} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    pg, redis = PrivatePostgres(), PrivateRedis()
    pg.start()
    redis.start()
    url = pg.url.rsplit("/", 1)[0] + "/kabinet"
    conn = psycopg2.connect(pg.url)
    conn.autocommit = True
    conn.cursor().execute("CREATE DATABASE kabinet")
    conn.close()
    prepare_database(url, args.users)
    port = free_port()
    env = bench_env(url, tempfile.mkdtemp(prefix="kabinet-faults-"), PROD_DATABASE_URL=url, PORT=str(port),
                    WORKERS=str(args.workers), RATELIMIT_STORAGE_URI=redis.url, SCHEDULER_HEARTBEAT_SECONDS="1",
                    SCHEDULER_LEADER_POLL_SECONDS="1")
    run = subprocess.Popen([str(ROOT / "deploy/run-local.sh")], cwd=ROOT, env=env, text=True, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    threading.Thread(target=lambda: [lines.append(line) for line in run.stdout], daemon=True).start()

    try:
        measure(args, run, lines, port, url, pg, redis)
    finally:
        if run.poll() is None:
            os.kill(run.pid, signal.SIGTERM)  # the supervisor stops what it runs
            run.wait(30)
        redis.stop()
        pg.stop()
        shutil.rmtree(pg.dir, ignore_errors=True)


def measure(args, run, lines, port, url, pg, redis):
    def started(name, count):
        while len(pids := [int(p) for p in re.findall(rf"supervise: {name} started \(pid (\d+)\)", "".join(lines))]) < count:
            time.sleep(0.1)
        return pids[-1]

    def heartbeat(pid):
        with psycopg2.connect(url) as c, c.cursor() as cur:
            cur.execute("SELECT 1 FROM scheduler_heartbeat WHERE process LIKE %s", (f"%:{pid}",))
            return cur.fetchone()

    web, scheduler = started("web", 1), started("scheduler", 1)
    traffic = Traffic(port, args.users)
    while True:
        try:
            Tab(port).request("GET", "/login")
            break
        except OSError:
            time.sleep(0.2)
    traffic.start()
    time.sleep(5)
    try:
        mark = time.monotonic()
        pg.run("pg_ctl", "-D", str(pg.dir / "data"), "-m", "fast", "-w", "restart")
        back = time.monotonic()
        first, everyone = traffic.healthy_after(back)
        time.sleep(1)
        print(f"PostgreSQL restart: autosaves {summary(traffic.saves, mark)}; sign-ins {summary(traffic.signins, mark)}; "
              f"restart took {back - mark:.2f} s, first save {first:.2f} s and every person {everyone:.2f} s after")

        mark = time.monotonic()
        pg.stop()
        time.sleep(10)
        pg.start()
        back = time.monotonic()
        first, everyone = traffic.healthy_after(back)
        time.sleep(1)
        print(f"PostgreSQL stopped 10 s: autosaves {summary(traffic.saves, mark)}; sign-ins {summary(traffic.signins, mark)}; "
              f"first save {first:.2f} s and every person {everyone:.2f} s after it was back")

        mark = time.monotonic()
        redis.stop()
        time.sleep(10)
        redis.start()
        time.sleep(2)
        print(f"Redis stopped 10 s: autosaves {summary(traffic.saves, mark)}; sign-ins {summary(traffic.signins, mark)}")

        mark = time.monotonic()
        os.kill(scheduler, signal.SIGKILL)
        scheduler = started("scheduler", 2)
        while not heartbeat(scheduler):
            time.sleep(0.1)
        print(f"scheduler killed: autosaves {summary(traffic.saves, mark)}; jobs ran again {time.monotonic() - mark:.1f} s later")

        mark = time.monotonic()
        with open(f"/proc/{web}/task/{web}/children") as f:
            os.kill(int(f.read().split()[0]), signal.SIGKILL)
        time.sleep(3)
        print(f"web worker killed: autosaves {summary(traffic.saves, mark)}")

        mark = time.monotonic()
        os.kill(web, signal.SIGKILL)
        web = started("web", 2)
        while "".join(lines).count("Listening at:") < 2:  # the old workers serve until they notice; then the new master
            time.sleep(0.1)
        listening = time.monotonic()
        first, everyone = traffic.healthy_after(listening)
        time.sleep(1)
        print(f"gunicorn master killed: autosaves {summary(traffic.saves, mark)}; sign-ins {summary(traffic.signins, mark)}; "
              f"the new master listened {listening - mark:.1f} s after the kill, every person saved again "
              f"{listening + everyone - mark:.1f} s after the kill")
    finally:
        traffic.stop.set()
        for thread in traffic.threads:
            thread.join(30)
    with psycopg2.connect(url) as c, c.cursor() as cur:
        cur.execute("SELECT email, full_name FROM \"user\"")
        saved = {int(email[4:].split("@")[0]): int(name.split()[1]) for email, name in cur.fetchall()
                 if name.startswith("load ")}
    lost = [n for n, seq in traffic.acked.items() if saved.get(n, 0) < seq]
    print(f"acknowledged autosaves lost: {len(lost)} of {len(traffic.acked)} people")


if __name__ == "__main__":
    main()

"""Product events ingested through POST /api/v1/events on PostgreSQL, and the time from a POST to its webhook.

    .venv/bin/python bench/ingest.py [--connections 8] [--seconds 5] [--rounds 3] [--webhooks 0 1 3] [--workers 2]
                                    [--samples 20] [--poll 0]

1. Events per second through the real API: gunicorn sync workers on PostgreSQL and Redis (as bench/load.py),
   one service key with the write scope, `--connections` clients posting back to back, each event with a new
   Idempotency-Key, for an organization with 0, 1 and 3 webhooks subscribed to the type (`dispatch.sent`:
   webhooks only, no notifications). The baseline, in the same run with as many threads, each on its own
   psycopg2 connection, writes the same rows straight: the key's use counter, the idempotency row (inserted,
   then given its answer), one delivery row per webhook and the NOTIFY that wakes the scheduler, in one
   transaction per event (and once more without the NOTIFY, to show its cost). The ratio is what the HTTP,
   the authentication, the checks and the fan-out logic cost around the writes.
2. Latency at rest: the scheduler runs as in production (`flask scheduler`, WEBHOOK_POLL_SECONDS as
   configured, 5 s by default); one event at a time, each after a random pause of up to one poll interval
   (so it falls anywhere in the interval), timed from the start of its POST to the moment a receiver on
   127.0.0.1 has read the signed request. `--samples 0` leaves this part out.

Needs the local PostgreSQL (database kabinet_bench_ingest is re-created) and Redis. Prints figures, never asserts.
"""
import argparse
import http.client
import json
import math
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: repo root importable

from bench.common import (ROOT, bench_env, create_postgres_database, percentiles, prepare_database,  # noqa: E402
                          start_gunicorn, stop)
from tests.webhook_receiver import receiver_on_localhost  # noqa: E402

EVENT = "dispatch.sent"


def set_up(url, fan_outs, receiver_url):
    """{webhooks: (organization id, service key, [webhook ids])} and the latency organization's key."""
    import psycopg2

    from app import create_app
    from models import Organization, db, open_database
    from services import service_keys, webhooks

    database = open_database(url)
    app = create_app({"DATABASE": database, "SECRET_KEY": "bench", "INSTANCE_PATH": "/tmp/kabinet-bench-ingest"})
    orgs = {}
    with app.app_context(), database.connection_context():
        for count in [*fan_outs, "latency"]:
            org = Organization.create(name=f"Ingest {count}")
            key, _row = service_keys.create_key(org.id, None, "bench", ["write"])
            hooks = [webhooks.create_endpoint(org.id, None, receiver_url, [EVENT], app.config)[0].id
                     for _ in range(1 if count == "latency" else count)]
            orgs[count] = (org.id, key, hooks)
    database.close_all()
    db.initialize(None)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("ANALYZE")
    return orgs


def post_event(port, key, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/api/v1/events", body=json.dumps({"type": EVENT, "data": {"n": n}}),
                     headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex,
                              "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def bare_writer(url, org_id, key_hash, hooks, notify=True):
    """One event's writes as the endpoint makes them, straight on a psycopg2 connection of this thread
    (with the NOTIFY that wakes the scheduler when there are deliveries, unless `notify` is false)."""
    import psycopg2

    from models import utcnow
    from services import webhooks

    conn = psycopg2.connect(url)
    conn.autocommit = True
    cur = conn.cursor()

    def write(n):
        key, now = uuid.uuid4().hex, utcnow()
        cur.execute("UPDATE service_key SET last_used_at = %s, last_used_ip = %s, use_count = use_count + 1 "
                    "WHERE key_hash = %s", (now, "127.0.0.1", key_hash))
        cur.execute("BEGIN")
        cur.execute("INSERT INTO idempotency_record (organization_id, key, request_hash, status, body, created_at) "
                    "VALUES (%s, %s, %s, 0, '', %s) RETURNING id", (org_id, key, uuid.uuid4().hex * 2, now))
        record_id = cur.fetchone()[0]
        for hook in hooks:
            cur.execute("INSERT INTO webhook_delivery (webhook_id, event, payload, state, attempts, error, created_at, "
                        "next_attempt_at) VALUES (%s, %s, %s, 'pending', 0, '', %s, %s)",
                        (hook, EVENT, webhooks.envelope(EVENT, org_id, {"id": key, "data": {"n": n}}), now, now))
        answer = {"id": key, "type": EVENT, "webhooks": len(hooks), "notified": 0}
        cur.execute("UPDATE idempotency_record SET status = 202, body = %s WHERE id = %s",
                    (json.dumps(answer), record_id))
        if hooks and notify:
            cur.execute(f"NOTIFY {webhooks.WAKE_CHANNEL}")
        cur.execute("COMMIT")
        cur.execute("INSERT INTO service_key_use (key_id, at, ip, method, path, status) "
                    "SELECT id, %s, '127.0.0.1', 'POST', '/api/v1/events', 202 FROM service_key WHERE key_hash = %s",
                    (now, key_hash))  # the key's trail of uses, written as the answer leaves (api.core)
        return 202

    return write, conn.close


def run(connections, seconds, make_client):
    """Every connection back to back for `seconds`: ([latency in s], errors)."""
    latencies, errors, lock = [], [0], threading.Lock()
    ready = threading.Barrier(connections + 1)
    deadline = [0.0]

    def client(n):
        send, close = make_client()
        local, bad = [], 0
        ready.wait()
        ready.wait()
        count = 0
        while time.monotonic() < deadline[0]:
            started = time.perf_counter()
            try:
                status = send(n * 1_000_000 + count)
            except (OSError, http.client.HTTPException):
                status = 599
            local.append(time.perf_counter() - started)
            bad += status != 202
            count += 1
        close()
        with lock:
            latencies.extend(local)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait()
    deadline[0] = time.monotonic() + seconds
    ready.wait()
    for thread in threads:
        thread.join()
    return latencies, errors[0]


def empty_queue(url):
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM webhook_attempt; DELETE FROM webhook_delivery")


def latency_at_rest(port, key, receiver, samples, env):
    """Seconds from each POST's start to its delivery reaching the receiver, with the scheduler running."""
    arrived = threading.Event()
    stamps = []

    class Stamped(list):
        def append(self, item):
            stamps.append(time.perf_counter())
            super().append(item)
            arrived.set()

    receiver.requests = Stamped()
    scheduler = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "app:create_app", "scheduler"], cwd=ROOT,
                                 env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    poll = float(env.get("WEBHOOK_POLL_SECONDS", 5))
    wait = poll + 15
    results = []
    try:
        for n in range(-1, samples):  # the first one waits for the scheduler to lead; it is not counted
            arrived.clear()
            before = len(stamps)
            started = time.perf_counter()
            status = post_event(port, key, n)
            if status != 202 or not arrived.wait(wait + (30 if n < 0 else 0)):
                raise SystemExit(f"event {n}: answer {status}, no delivery within {wait:.0f} s; scheduler said: "
                                 f"{stop_scheduler(scheduler)[-2000:]}")
            if n >= 0:
                results.append(stamps[before] - started)
            time.sleep(random.uniform(0.2, 0.2 + poll))  # so the next POST falls anywhere in the poll interval
    finally:
        if scheduler.poll() is None:
            stop_scheduler(scheduler)
    return results


def stop_scheduler(process):
    if process.poll() is None:
        stop(process)
    return process.stderr.read().decode(errors="replace")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--webhooks", type=int, nargs="+", default=[0, 1, 3])
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of each side, --seconds split among them")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--samples", type=int, default=20, help="events timed one at a time to their delivery")
    parser.add_argument("--poll", type=int, default=0, help="WEBHOOK_POLL_SECONDS for the scheduler (0: default)")
    args = parser.parse_args()

    from services.tokens import digest

    url = create_postgres_database("kabinet_bench_ingest")
    prepare_database(url, 1)
    extra = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/13", "API_RATE_LIMIT": "10000000 per minute",
             "WEBHOOK_ALLOWED_PRIVATE": "127.0.0.1"}
    if args.poll:
        extra["WEBHOOK_POLL_SECONDS"] = str(args.poll)
    env = bench_env(url, "/tmp/kabinet-bench-ingest", **extra)
    with receiver_on_localhost() as receiver:
        orgs = set_up(url, args.webhooks, receiver.url)
        process, port = start_gunicorn("app:create_app()", args.workers, env)
        try:
            sides = {}  # webhooks -> [the API, the bare writes, the bare writes without the NOTIFY]
            for count in args.webhooks:
                org_id, key, hooks = orgs[count]
                sides[count] = [lambda key=key: (lambda n: post_event(port, key, n), lambda: None)] + [
                    lambda org_id=org_id, key=key, hooks=hooks, notify=notify:
                    bare_writer(url, org_id, digest(key), hooks, notify) for notify in (True, False)[:1 + bool(hooks)]]
                run(args.connections, 1, sides[count][0])  # warm-up: each worker's first requests, the plans
            results = {count: [([], 0) for _ in row] for count, row in sides.items()}
            # Alternating rounds: on a shared machine the load changes by the second, and every side of every
            # fan-out should see the same mix of it (as bench/autosave.py does).
            for _round in range(args.rounds):
                for count, row in sides.items():
                    for n, side in enumerate(row):
                        latencies, errors = run(args.connections, args.seconds / args.rounds, side)
                        results[count][n] = (results[count][n][0] + latencies, results[count][n][1] + errors)
            rows = [(count, *results[count]) for count in args.webhooks]
            empty_queue(url)
            latencies = latency_at_rest(port, orgs["latency"][1], receiver, args.samples, env) if args.samples else []
        finally:
            stop(process)

    print(f"POST /api/v1/events, {args.connections} connections back to back, {args.seconds:.0f} s per side in "
          f"{args.rounds} alternating rounds, {args.workers} gunicorn sync workers, PostgreSQL + Redis")
    print(f"{'webhooks':>8}{'API ev/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
          f"{'bare ev/s':>11}{'p50 ms':>8}{'p99 ms':>8}{'API/bare':>10}")
    for count, (api_lat, api_errors), (bare_lat, bare_errors), *silent in rows:
        api_rate, bare_rate = len(api_lat) / args.seconds, len(bare_lat) / args.seconds
        print(f"{count:>8}{api_rate:>10.0f}{percentiles(api_lat)[0]:>8.1f}{percentiles(api_lat)[1]:>8.1f}"
              f"{api_errors + bare_errors:>7}{bare_rate:>11.0f}{percentiles(bare_lat)[0]:>8.1f}"
              f"{percentiles(bare_lat)[1]:>8.1f}{api_rate / bare_rate:>10.2f}")
    if len(rows) > 1:
        base = len(rows[0][1][0])
        print("API throughput against the first row: " + ", ".join(
            f"{row[0]} webhooks {len(row[1][0]) / base:.2f}" for row in rows[1:]))
    for count, _api, (bare_lat, _e), *silent in rows:
        if silent:
            quiet = silent[0][0]
            print(f"bare writes of {count} webhook(s) without the NOTIFY: {len(quiet) / args.seconds:.0f} ev/s, "
                  f"p50 {percentiles(quiet)[0]:.1f} ms; with it / without: {len(bare_lat) / len(quiet):.2f}")
    if not latencies:
        return
    ordered = sorted(latencies)
    p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
    poll = env.get("WEBHOOK_POLL_SECONDS", "5 (default)")
    print(f"\nPOST to delivery at rest, {len(ordered)} events one at a time, WEBHOOK_POLL_SECONDS={poll}: "
          f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"min {ordered[0] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms")

if __name__ == "__main__":
    main()

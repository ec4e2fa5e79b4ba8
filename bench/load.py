"""Signed-in users doing the real mix against gunicorn on PostgreSQL and Redis, 2 and 4 workers.

    .venv/bin/python bench/load.py [--connections 32] [--seconds 15] [--workers 2 4]

The mix: full page loads, autosaves of the name, notification checkbox saves and mail-server status
polls (the last two only once those features exist). For each worker count it prints requests/s,
p50/p99 latency and the error count with every connection acting back to back (the server's
capacity; latency is then connections / throughput), the same mix offered at 50% and 80% of that
capacity as paced traffic (each connection on a Poisson schedule, latency counted from the scheduled
start), then autosave throughput against a bare Flask route that returns a fragment of the same size,
served by the same gunicorn set-up in the same run.
Needs the local PostgreSQL (database kabinet_bench is re-created) and Redis.
"""
import argparse
import http.client
import random
import re
import threading
import time

from common import (AUTOSAVE_PATH, Tab, bench_env, create_postgres_database, percentiles, prepare_database,
                    start_bare_flask, start_gunicorn, stop)

AUTOSAVE = ("autosave", 1, "POST", AUTOSAVE_PATH, "name")


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


def run_load(port, connections, seconds, mix=None, emails=None, rate=None):
    """Each connection acts back to back (closed loop), or with `rate` (requests/s over all connections)
    on its own Poisson schedule (open loop): then latency counts from the scheduled start, so a request
    that waited for a busy server is charged the wait (no coordinated omission)."""
    results = []  # (kind, status, seconds)
    lock = threading.Lock()
    deadline = [0.0]
    # The deadline is set as the last party arrives, before anyone is released: set after the wait,
    # a thread could read the old 0.0 and stop before its first request.
    ready = threading.Barrier(connections + 1, action=lambda: deadline.__setitem__(0, time.monotonic() + seconds))

    def user(n):
        client = Tab(port)
        page = client.sign_in(emails[n]) if emails else ""
        actions = mix if mix is not None else discover_mix(page)
        weights = [a[1] for a in actions]
        local = []
        ready.wait()
        scheduled = time.perf_counter()
        while time.monotonic() < deadline[0]:
            if rate:
                scheduled += random.expovariate(rate / connections)
                time.sleep(max(0.0, scheduled - time.perf_counter()))
            kind, _w, method, path, form = random.choices(actions, weights)[0]
            data = None
            if form == "name":
                data = {"full_name": f"User {n} {random.randint(0, 9999)}", "csrf_token": client.token}
            elif form == "checkbox":
                data = {"csrf_token": client.token}
            started = scheduled if rate else time.perf_counter()
            try:
                status, _body = client.request(method, path, data, htmx=method == "POST" or kind == "status poll")
            except (OSError, http.client.HTTPException):
                status = 599
            local.append((kind, status, time.perf_counter() - started))
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    return results


def summary(results, seconds, kind=None):
    rows = [r for r in results if kind is None or r[0] == kind]
    errors = sum(1 for r in rows if r[1] >= 400 and not (r[0] == "autosave" and r[1] == 422))
    return len(rows) / seconds, *percentiles([r[2] for r in rows]), errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--paced", type=float, nargs="*", default=[0.5, 0.8],
                        help="also offer these shares of the measured throughput as paced (open-loop) load")
    args = parser.parse_args()

    database_url = create_postgres_database("kabinet_bench")
    prepare_database(database_url, args.connections)
    emails = [f"user{n}@bench.local" for n in range(args.connections)]
    env = bench_env(database_url, "/tmp/kabinet-bench", RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/14")
    print(f"{args.connections} signed-in connections, {args.seconds:.0f} s per run, gunicorn sync workers, PostgreSQL + Redis")
    for workers in args.workers:
        process, port = start_gunicorn("app:create_app()", workers, env)
        try:
            results = run_load(port, args.connections, args.seconds, emails=emails)
            capacity = len(results) / args.seconds
            paced = {share: run_load(port, args.connections, args.seconds, emails=emails, rate=share * capacity)
                     for share in args.paced}
            autosave_only = run_load(port, args.connections, args.seconds, mix=[AUTOSAVE], emails=emails)
            tab = Tab(port)
            tab.sign_in(emails[0])
            _status, fragment = tab.autosave("User 0")
        finally:
            stop(process)
        bare, bare_port = start_bare_flask(fragment, workers, env, "/tmp/kabinet-bench-bare")
        try:
            bare_results = run_load(bare_port, args.connections, args.seconds, mix=[AUTOSAVE])
        finally:
            stop(bare)

        print(f"\n== {workers} workers ==")
        print(f"{'action':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        for kind in [None] + sorted({r[0] for r in results}):
            rps, p50, p99, errors = summary(results, args.seconds, kind)
            print(f"{kind or 'all':<14}{rps:>9.0f}{p50:>9.1f}{p99:>9.1f}{errors:>8}")
        for share, paced_results in paced.items():
            rps, p50, p99, errors = summary(paced_results, args.seconds)
            print(f"paced at {share:.0%} of that ({share * capacity:.0f} req/s offered, Poisson arrivals): "
                  f"{rps:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, {errors} errors")
        bare_rps, bare_p50, bare_p99, _ = summary(bare_results, args.seconds)
        only_rps, only_p50, only_p99, only_errors = summary(autosave_only, args.seconds)
        print(f"autosave only : {only_rps:.0f} req/s, p50 {only_p50:.1f} ms, p99 {only_p99:.1f} ms, {only_errors} errors")
        print(f"bare Flask    : {bare_rps:.0f} req/s, p50 {bare_p50:.1f} ms, p99 {bare_p99:.1f} ms (same {len(fragment)} B fragment)")
        print(f"autosave / bare Flask throughput: {only_rps / bare_rps:.2f}")


if __name__ == "__main__":
    main()

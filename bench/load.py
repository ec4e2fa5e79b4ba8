"""Signed-in users doing the real mix against gunicorn on PostgreSQL and Redis.

    .venv/bin/python bench/load.py [--connections 32] [--seconds 10] [--rounds 3] [--workers 4]
                                   [--baseline-tree PATH]

The mix: full page loads, autosaves of the name, notification checkbox saves and mail-server status
polls (the last two only once those features exist). For each worker count it prints requests/s,
p50/p99 latency and the error count with every connection acting back to back (the server's
capacity; latency is then connections / throughput), the same mix offered at 50% and 80% of that
capacity as paced traffic (each connection on a Poisson schedule, latency counted from the scheduled
start), then autosave throughput against a bare Flask route that returns a fragment of the same size,
served by the same gunicorn set-up in the same run.

--baseline-tree PATH also starts the code checked out at PATH (e.g. `git worktree add /tmp/base <commit>`,
with .venv linked and translations compiled) with its own gunicorn settings, and measures both in
alternating rounds (the order swapped each round, so both see the same share of whatever else the
machine runs), then prints the capacity of this tree over the baseline's.
gunicorn runs with deploy/gunicorn.conf.py of the tree it serves (as production does) and the workers
asked for here. The client keeps a connection open while the server does, as a browser does.
Needs the local PostgreSQL (database kabinet_bench is re-created) and Redis.
"""
import argparse
import http.client
import random
import re
import statistics
import threading
import time
from pathlib import Path

from common import (
    AUTOSAVE_PATH,
    GUNICORN_CONFIG,
    ROOT,
    Tab,
    bench_env,
    create_postgres_database,
    percentiles,
    prepare_database,
    start_bare_flask,
    start_gunicorn,
    stop,
)

AUTOSAVE = ("autosave", 1, "POST", AUTOSAVE_PATH, "name")


def discover_mix(page):
    """The actions this build offers, with their weights (features not built yet are left out)."""
    mix = [("page", 2, "GET", "/app/personal-data", None), (*AUTOSAVE[:1], 4, *AUTOSAVE[2:])]
    checkbox = re.search(r'hx-post="(/app/[^"]*notification[^"]*)"', page)
    if checkbox:
        mix.append(("checkbox", 2, "POST", checkbox.group(1), "checkbox"))
    # The mail-server status poller, every 5 s (until 2026-12 this matched the "Add" button's dialog).
    poll = re.search(r'hx-get="(/app/[^"]*/status)" hx-trigger="every', page)
    if poll:
        mix.append(("status poll", 2, "GET", poll.group(1), None))
    return mix


class Server:
    """gunicorn serving one checkout, with a signed-in tab per connection (signed in once: argon2 is not
    what is measured)."""

    def __init__(self, label, tree, workers, env, emails):
        self.label, self.tree = label, tree
        self.process, self.port = start_gunicorn("app:create_app()", workers, env, cwd=tree)
        self.tabs = [Tab(self.port) for _ in emails]
        pages = [tab.sign_in(email) for tab, email in zip(self.tabs, emails)]
        self.mix = discover_mix(pages[0])


def run_load(tabs, seconds, mix, rate=None):
    """Each tab acts back to back (closed loop), or with `rate` (requests/s over all tabs) on its own
    Poisson schedule (open loop): then latency counts from the scheduled start, so a request that waited
    for a busy server is charged the wait (no coordinated omission)."""
    results = []  # (kind, status, seconds)
    lock = threading.Lock()
    deadline = [0.0]
    # The deadline is set as the last party arrives, before anyone is released: set after the wait,
    # a thread could read the old 0.0 and stop before its first request.
    ready = threading.Barrier(len(tabs) + 1, action=lambda: deadline.__setitem__(0, time.monotonic() + seconds))
    weights = [a[1] for a in mix]

    def user(n, client):
        local = []
        ready.wait()
        scheduled = time.perf_counter()
        while time.monotonic() < deadline[0]:
            if rate:
                scheduled += random.expovariate(rate / len(tabs))
                time.sleep(max(0.0, scheduled - time.perf_counter()))
            kind, _w, method, path, form = random.choices(mix, weights)[0]
            data = None
            if form == "name":
                data = {"full_name": f"User {n} {random.randint(0, 9999)}", "csrf_token": client.token}
            elif form == "checkbox":
                data = {"csrf_token": client.token}
            started = scheduled if rate else time.perf_counter()
            try:
                poll = kind == "status poll"
                status, _body = client.request(method, path, data, htmx=method == "POST" or poll,
                                               headers={"X-Background-Poll": "1"} if poll else None)
            except (OSError, http.client.HTTPException):
                status = 599
            local.append((kind, status, time.perf_counter() - started))
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=user, args=(n, tab)) for n, tab in enumerate(tabs)]
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


def measure(servers, args):
    """Closed-loop rounds of the mix, alternating servers; then paced and autosave-only runs of each."""
    closed = {s.label: [] for s in servers}
    for n in range(args.rounds):
        for server in servers if n % 2 == 0 else servers[::-1]:
            closed[server.label].append(run_load(server.tabs, args.seconds, server.mix))
    report = {}
    for server in servers:
        rounds = closed[server.label]
        capacity = statistics.median(len(r) / args.seconds for r in rounds)
        paced = {share: run_load(server.tabs, args.seconds, server.mix, rate=share * capacity)
                 for share in args.paced}
        autosave_only = run_load(server.tabs, args.seconds, [AUTOSAVE])
        report[server.label] = (rounds, capacity, paced, autosave_only)
    return report


def print_report(label, report, args):
    rounds, capacity, paced, autosave_only = report
    every = [r for results in rounds for r in results]
    seconds = args.seconds * len(rounds)
    print(f"\n-- {label}: back to back, {len(rounds)} rounds of {args.seconds:.0f} s "
          f"(req/s of each round: {', '.join(f'{len(r) / args.seconds:.0f}' for r in rounds)}; median {capacity:.0f})")
    print(f"{'action':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for kind in [None] + sorted({r[0] for r in every}):
        rps, p50, p99, errors = summary(every, seconds, kind)
        print(f"{kind or 'all':<14}{rps:>9.0f}{p50:>9.1f}{p99:>9.1f}{errors:>8}")
    for share, paced_results in paced.items():
        rps, p50, p99, errors = summary(paced_results, args.seconds)
        print(f"paced at {share:.0%} of that ({share * capacity:.0f} req/s offered, Poisson arrivals): "
              f"{rps:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, {errors} errors")
    only_rps, only_p50, only_p99, only_errors = summary(autosave_only, args.seconds)
    print(f"autosave only : {only_rps:.0f} req/s, p50 {only_p50:.1f} ms, p99 {only_p99:.1f} ms, {only_errors} errors")
    return only_rps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="back-to-back rounds of each tree (median)")
    parser.add_argument("--workers", type=int, nargs="+", default=[4])
    parser.add_argument("--paced", type=float, nargs="*", default=[0.5, 0.8],
                        help="also offer these shares of the measured throughput as paced (open-loop) load")
    parser.add_argument("--baseline-tree", type=Path, help="another checkout to measure in the same run")
    args = parser.parse_args()

    database_url = create_postgres_database("kabinet_bench")
    prepare_database(database_url, args.connections)
    emails = [f"user{n}@bench.local" for n in range(args.connections)]
    env = bench_env(database_url, "/tmp/kabinet-bench", RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/14")
    trees = [("this tree", ROOT)] + ([("baseline", args.baseline_tree.resolve())] if args.baseline_tree else [])
    print(f"{args.connections} signed-in connections, PostgreSQL + Redis; "
          + "; ".join(f"{label}: {tree}" + (f" ({GUNICORN_CONFIG})" if (tree / GUNICORN_CONFIG).is_file() else
                                            " (gunicorn defaults: sync workers)") for label, tree in trees))
    for workers in args.workers:
        servers = []
        try:
            for label, tree in trees:
                servers.append(Server(label, tree, workers, env, emails))
            report = measure(servers, args)
            _status, fragment = servers[0].tabs[0].autosave("User 0")
        finally:
            for server in servers:
                stop(server.process)
        bare_results = {}
        for label, tree in trees:  # served as that tree serves Kabinet (its gunicorn settings)
            bare, bare_port = start_bare_flask(fragment, workers, env, "/tmp/kabinet-bench-bare", tree / GUNICORN_CONFIG)
            try:
                bare_results[label] = run_load([Tab(bare_port) for _ in emails], args.seconds, [AUTOSAVE])
            finally:
                stop(bare)

        print(f"\n== {workers} workers ==")
        autosave_rps = {label: print_report(label, report[label], args) for label, _tree in trees}
        print()
        for label, rps in autosave_rps.items():
            bare_rps, bare_p50, bare_p99, _ = summary(bare_results[label], args.seconds)
            print(f"bare Flask, {label}'s gunicorn settings: {bare_rps:.0f} req/s, p50 {bare_p50:.1f} ms, "
                  f"p99 {bare_p99:.1f} ms (same {len(fragment)} B fragment); autosave / bare Flask: {rps / bare_rps:.2f}")
        if args.baseline_tree:
            ratio = report["this tree"][1] / report["baseline"][1]
            pairs = [len(a) / len(b) for a, b in zip(report["this tree"][0], report["baseline"][0])]
            print(f"capacity, this tree / baseline: {ratio:.2f}x "
                  f"({report['this tree'][1]:.0f} / {report['baseline'][1]:.0f} req/s, medians of the rounds); "
                  f"round by round (each pair back to back): {', '.join(f'{r:.2f}' for r in pairs)}, "
                  f"median {statistics.median(pairs):.2f}x")


if __name__ == "__main__":
    main()

"""Autosave throughput: requests/s of POST /app/personal-data/field/full_name (signed in, CSRF, one UPDATE)
against a bare Flask route returning the same fragment, both served by the same gunicorn set-up in one run.

    .venv/bin/python bench/autosave.py [--seconds 10] [--connections 8] [--workers 2] [--database-url URL]

The default database is a fresh SQLite file (what `make run` uses); pass a PostgreSQL URL to measure that.
Prints both rates (median of alternating rounds), their latencies and the ratio (goal: autosave / bare >= 0.5).
"""
import argparse
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, Tab, bench_env, percentiles, prepare_database, start_bare_flask, start_gunicorn, stop


def run(port, tabs, seconds):
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = [0.0]
    # The deadline is set as the last party arrives, before anyone is released: set after the wait,
    # a thread could read the old 0.0 and stop before its first request.
    ready = threading.Barrier(len(tabs) + 1, action=lambda: deadline.__setitem__(0, time.monotonic() + seconds))

    def work(n, tab):
        local, bad = [], 0
        ready.wait()
        while time.monotonic() < deadline[0]:
            started = time.perf_counter()
            status, _ = tab.autosave(f"User {n} {len(local)}")
            local.append(time.perf_counter() - started)
            bad += status != 200
        with lock:
            latencies.extend(local)
            errors[0] += bad

    threads = [threading.Thread(target=work, args=(n, tab)) for n, tab in enumerate(tabs)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    return len(latencies) / seconds, *percentiles(latencies), errors[0]


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
        prepare_database(database_url, args.connections)
        env = bench_env(database_url, work)
        process, port = start_gunicorn("app:create_app()", args.workers, env, ROOT)
        bare = None
        try:
            tabs = [Tab(port) for _ in range(args.connections)]
            for n, tab in enumerate(tabs):
                tab.sign_in(f"user{n}@bench.local")
            status, fragment = tabs[0].autosave("User 0")
            assert status == 200, status
            bare, bare_port = start_bare_flask(fragment, args.workers, env, work / "bare")
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

"""The personal-data page against a bare Flask route, served the same way (issue 16's yardstick).

    .venv/bin/python bench/peer_ratio.py [--seconds 10] [--rounds 3] [--connections 16] [--workers 2]
                                         [--config deploy/gunicorn.conf.py]

gunicorn with 2 sync workers on SQLite (the issue's set-up; --config serves both with that settings file
instead), then wrk with 16 connections: /app/personal-data signed in (the whole page, 200), and a bare
Flask route returning a 1 KB HTML fragment. Rounds alternate between the two, so both see the same
share of whatever else the machine runs; prints each round's requests/s, the medians, p50/p99 and
non-2xx answers, and the ratio page / bare route (goal: at least 0.15).
Without wrk (it is a Debian package: apt-get install wrk) the Python client of bench/load.py drives
both instead: its own cost then weighs on the bare route's figure far more, so the ratio reads high.
"""
import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from common import ROOT, Tab, bench_env, prepare_database, start_gunicorn, stop

BARE_APP = '''
from flask import Flask
app = Flask(__name__)
FRAGMENT = ("<section>" + "".join(f"<p>Line {n:02} of a kilobyte of HTML.</p>" for n in range(27))).ljust(1014) + "</section>"
@app.get("/fragment")
def fragment():
    return FRAGMENT
'''


def wrk(port, path, seconds, connections, cookie=""):
    """(requests/s, p50 ms, p99 ms, non-2xx answers) from wrk."""
    command = ["wrk", "--latency", "-t", "2", "-c", str(connections), "-d", f"{seconds:.0f}s",
               "-H", f"Cookie: {cookie}", f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return (rate, latency_ms(out, "50%"), latency_ms(out, "99%"),
            (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0))


def latency_ms(out, share):
    value, unit = re.search(rf"^\s+{share}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def python_client(port, path, seconds, connections, cookie=""):
    from load import run_load  # the fallback only

    tabs = [Tab(port) for _ in range(connections)]
    for tab in tabs:
        tab.cookie = cookie
    results = run_load(tabs, seconds, [("get", 1, "GET", path, None)])
    from common import percentiles

    return (len(results) / seconds, *percentiles([r[2] for r in results]), sum(1 for r in results if r[1] != 200))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, help="a gunicorn settings file for both (default: sync workers)")
    args = parser.parse_args()
    client = wrk if shutil.which("wrk") else python_client
    # An empty settings file: gunicorn's defaults (sync workers), not this tree's deploy/gunicorn.conf.py.
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        config = args.config.resolve() if args.config else folder / "sync.conf.py"
        config.exists() or config.write_text("")
        database_url = f"sqlite:///{folder / 'bench.sqlite3'}"
        prepare_database(database_url, 1)
        env = bench_env(database_url, folder / "instance")
        (folder / "bare").mkdir()
        (folder / "bare" / "bare_app.py").write_text(BARE_APP)
        kabinet, kabinet_port = start_gunicorn("app:create_app()", args.workers, env, ROOT, config)
        bare, bare_port = start_gunicorn("bare_app:app", args.workers, env, folder / "bare", config)
        try:
            tab = Tab(kabinet_port)
            tab.sign_in("user0@bench.local")
            tab.conn and tab.conn.close()
            status, page = tab.request("GET", "/app/personal-data")
            assert status == 200 and b"X-CSRFToken" in page, status
            fragment = Tab(bare_port).request("GET", "/fragment")[1]
            targets = {"personal-data page": (kabinet_port, "/app/personal-data", tab.cookie),
                       "bare Flask fragment": (bare_port, "/fragment", "")}
            runs = {name: [] for name in targets}
            for n in range(args.rounds):
                for name in list(targets) if n % 2 == 0 else list(targets)[::-1]:
                    port, path, cookie = targets[name]
                    runs[name].append(client(port, path, args.seconds, args.connections, cookie))
        finally:
            stop(kabinet)
            stop(bare)
    print(f"gunicorn {args.workers} workers ({args.config or 'sync'}), SQLite, {client.__name__} with "
          f"{args.connections} connections, {args.rounds} alternating rounds of {args.seconds:.0f} s; "
          f"page {len(page)} B, fragment {len(fragment)} B")
    medians = {}
    for name, results in runs.items():
        medians[name] = statistics.median(r[0] for r in results)
        print(f"{name:<22} req/s {', '.join(f'{r[0]:.0f}' for r in results)} (median {medians[name]:.0f}); "
              f"p50 {statistics.median(r[1] for r in results):.1f} ms, p99 {max(r[2] for r in results):.1f} ms "
              f"(worst round); {sum(r[3] for r in results)} non-2xx or socket errors")
    print(f"page / bare Flask: {medians['personal-data page'] / medians['bare Flask fragment']:.3f} (goal >= 0.15)")


if __name__ == "__main__":
    main()

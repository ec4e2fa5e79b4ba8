"""The scheduler's webhook job end to end: N queued deliveries (some to a receiver that hangs) sent by
deliver_due() from a fresh SQLite database, against the same POSTs made bare with http.client in the
same run.

Prints deliveries per second for both, the ratio (the cost of claiming, signing, decrypting and storing
around each POST), and the job's wall time against WEBHOOK_TIMEOUT when some receivers hang (goal:
hanging receivers cost about one timeout per WEBHOOK_WORKERS of them, never a stuck job).

    python bench/webhook_delivery.py [--deliveries 300] [--hanging 16] [--workers 8] [--timeout 1]
"""
import argparse
import http.client
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: repo root importable

from tests.webhook_receiver import receiver_on_localhost  # noqa: E402


def bare_posts(url, count, workers):
    parts = urlsplit(url)

    def one(_n):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        conn.request("POST", parts.path, body=b'{"type":"bench"}', headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        conn.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--hanging", type=int, default=16, help="deliveries to a receiver that never answers")
    parser.add_argument("--workers", type=int, default=8, help="WEBHOOK_WORKERS")
    parser.add_argument("--timeout", type=float, default=1.0, help="WEBHOOK_TIMEOUT")
    args = parser.parse_args()

    import migrations
    from app import create_app
    from models import Organization, WebhookDelivery, open_database
    from services import webhooks

    directory = tempfile.mkdtemp(prefix="kabinet-bench-")
    database = open_database(f"sqlite:///{directory}/bench.sqlite3")
    config = {"DATABASE": database, "INSTANCE_PATH": directory, "SECRET_KEY": "bench",
              "WEBHOOK_ALLOWED_PRIVATE": "127.0.0.1", "WEBHOOK_TIMEOUT": args.timeout,
              "WEBHOOK_WORKERS": args.workers}
    app = create_app(config)
    with receiver_on_localhost() as good, receiver_on_localhost() as hanging, app.app_context(), \
            database.connection_context():
        hanging.mode = "hang"
        migrations.upgrade(database)
        org = Organization.create(name="Bench")
        other = Organization.create(name="Bench hanging")
        webhooks.create_endpoint(org.id, None, good.url, ["sign_in"], app.config)
        webhooks.create_endpoint(other.id, None, hanging.url, ["sign_in"], app.config)

        bare = bare_posts(good.url, args.deliveries, args.workers)
        good.requests.clear()

        for n in range(args.deliveries):
            webhooks.emit(org, "sign_in", {"n": n})
        started = time.perf_counter()
        webhooks.deliver_due(app.config)
        job = time.perf_counter() - started
        sent = len(good.requests)

        for n in range(args.hanging):
            webhooks.emit(other, "sign_in", {"n": n})
        started = time.perf_counter()
        webhooks.deliver_due(app.config)
        hung = time.perf_counter() - started
        states = {s: WebhookDelivery.select().where(WebhookDelivery.state == s).count() for s in ("delivered", "pending")}

    print(f"bare http.client POSTs:  {args.deliveries / bare:8.0f}/s  ({bare:.2f} s for {args.deliveries})")
    print(f"deliver_due():           {sent / job:8.0f}/s  ({job:.2f} s for {sent}, each claimed, signed, stored)")
    print(f"ratio job/bare time:     {job / bare:8.2f}")
    print(f"{args.hanging} hanging receivers:   {hung:.2f} s = {hung / args.timeout:.1f} x WEBHOOK_TIMEOUT "
          f"with {args.workers} workers (ideal {args.hanging / args.workers:.1f})")
    print(f"states: {states}")


if __name__ == "__main__":
    main()

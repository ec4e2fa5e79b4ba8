"""The scheduler's mail-server job end to end: 200 MailServer rows (live aiosmtpd servers, closed ports, silent
sockets) in a fresh SQLite database, checked by poll_mail_servers() with its decrypting and storing.

Prints the job's wall time against the probe timeout (goal: at most 1.5) and against check_many() alone over the
same targets, measured in the same run, so the ratio is the cost of the database and decryption around the probes.

    python bench/mail_poll_job.py [--timeout 2] [--targets 200] [--closed 30] [--silent 20] [--workers 64]
"""
import argparse
import multiprocessing
import ssl
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: repo root importable

from bench.smtp_poll import serve_peers  # noqa: E402
from tests.smtp_peers import closed_port  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--servers", type=int, default=10, help="live aiosmtpd servers the live rows share")
    parser.add_argument("--closed", type=int, default=30)
    parser.add_argument("--silent", type=int, default=20)
    parser.add_argument("--workers", type=int, default=64, help="MAIL_POLL_WORKERS (default: its default)")
    args = parser.parse_args()

    import migrations
    from app import create_app
    from models import MailServer, Organization, User, open_database
    from services import crypto, mail_servers
    from services.smtp_probe import check_many

    directory = tempfile.mkdtemp(prefix="kabinet-bench-")
    database = open_database(f"sqlite:///{directory}/bench.sqlite3")
    parent_end, child_end = multiprocessing.Pipe()
    peers = multiprocessing.Process(target=serve_peers, args=(child_end, args.servers, args.silent), daemon=True)
    peers.start()
    try:
        ca_path, live, silent = parent_end.recv()
        app = create_app({
            "DATABASE": database, "INSTANCE_PATH": directory, "SECRET_KEY": "bench", "MAIL_ALLOW_PRIVATE": True,
            "MAIL_PROBE_TIMEOUT": args.timeout, "MAIL_POLL_WORKERS": args.workers,
            "MAIL_SSL_CONTEXT": ssl.create_default_context(cafile=ca_path),
        })
        with app.app_context(), database.connection_context():
            migrations.upgrade(database)
            org = Organization.create(name="Bench")
            owner = User.create(organization=org, email="bench@example.com", password_hash="x")
            rows = []
            for i in range(args.targets - args.closed - args.silent):
                host, port, security, auth = live[i % len(live)]
                user, password = auth or ("", "")
                rows.append(dict(host=host, port=port, security=security, username=user,
                                 password_token=crypto.encrypt(password)))
            rows += [dict(host="127.0.0.1", port=closed_port(), security="none") for _ in range(args.closed)]
            rows += [dict(host=host, port=port, security="none") for host, port in silent]
            for row in rows:
                MailServer.create(owner=owner, organization=org, from_email="bench@example.com", **row)

            started = time.monotonic()
            mail_servers.poll_mail_servers()  # what the scheduler runs every MAIL_POLL_SECONDS
            job = time.monotonic() - started
            outcomes = Counter((s.status, s.reason or "") for s in MailServer.select())

            # Baseline in the same run: the probes alone, no database, no decryption.
            servers = list(MailServer.select())
            passwords = {s.id: crypto.decrypt(s.password_token) for s in servers}
            from services.smtp_probe import check_smtp

            def bare(server):
                return check_smtp(server.host, server.port, server.security, server.username, passwords[server.id],
                                  timeout=args.timeout, ssl_context=app.config["MAIL_SSL_CONTEXT"])

            started = time.monotonic()
            check_many(servers, bare, max_workers=args.workers)
            probes_only = time.monotonic() - started
    finally:
        parent_end.send("stop")
        peers.join(10)

    print(f"rows: {len(rows)}  (live {len(rows) - args.closed - args.silent}, closed {args.closed}, "
          f"silent {args.silent})  timeout T: {args.timeout:.2f}s  workers: {args.workers}")
    print("stored: " + ", ".join(f"{status}{'/' + reason if reason else ''} {n}"
                                 for (status, reason), n in sorted(outcomes.items())))
    print(f"poll_mail_servers() wall time: {job:.3f}s   wall / T: {job / args.timeout:.2f} (goal <= 1.5)   "
          f"checks/s: {len(rows) / job:.1f}")
    print(f"check_many() alone, same targets: {probes_only:.3f}s   job / probes-only: {job / probes_only:.2f}")


if __name__ == "__main__":
    main()

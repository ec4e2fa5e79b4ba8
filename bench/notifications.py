"""Notifications: the outbox job's delivery rate against bare HTTP posts, and the bell's query against the feed's size.

1. `deliver_notifications()` sends N Telegram messages (claim, render in the recipient's language, POST, mark
   sent) to an HTTP stand-in on 127.0.0.1; the baseline is N bare `post_json()` calls to the same server in the
   same run, so the ratio is the outbox's own cost per message.
2. The bell's summary query (unread count and newest unread id over the (user, read_at) index) for a person with
   5 unread notifications, with 10 and with --history read ones, as a ratio (it should stay near 1).

    python bench/notifications.py [--messages 300] [--history 100000] [--database-url postgresql://...]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: repo root importable

from tests.http_peers import http_peer  # noqa: E402


def best_of(runs, func):
    best = None
    for _ in range(runs):
        started = time.perf_counter()
        func()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    import migrations
    from app import create_app
    from blueprints.person.notifications import unread_summary
    from models import Notification, Organization, User, UserAdminSettings, db, open_database, utcnow
    from services import channels
    from services.notifications import deliver_notifications, notify, set_preference

    directory = tempfile.mkdtemp(prefix="kabinet-bench-")
    url = args.database_url or f"sqlite:///{directory}/bench.sqlite3"
    if url.startswith("postgres"):
        from bench.common import create_postgres_database

        url = create_postgres_database("kabinet_bench_notify")
    database = open_database(url)
    with http_peer(ok_body={"ok": True}) as telegram:
        app = create_app({"DATABASE": database, "SECRET_KEY": "bench", "INSTANCE_PATH": directory,
                          "TELEGRAM_API_URL": telegram.url, "TELEGRAM_BOT_TOKEN": "1:bench",
                          "NOTIFY_ALLOW_PRIVATE": True, "ARGON2_MEMORY_KIB": 19456, "ARGON2_TIME_COST": 2})
        with app.app_context(), database.connection_context():
            migrations.upgrade(database)
            org = Organization.create(name="Bench Ltd", balance="100")
            user = User.create(organization=org, email="bench@example.com", password_hash="x", language="ru",
                               time_zone="Europe/Moscow")
            UserAdminSettings.create(user=user, telegram_chat_id="42")
            for channel in ("email", "in_app"):
                set_preference(user, "billing", channel, False)
            set_preference(user, "billing", "telegram", True)
            data = {"kind": "payment", "number": "2026-0001", "amount": "1500.00", "currency": "RUB"}
            with db.atomic():
                for n in range(args.messages):
                    notify(user, "billing", data, key=f"bench:{n}")
            started = time.perf_counter()
            counts = deliver_notifications(limit=args.messages)
            outbox = time.perf_counter() - started
            assert counts["sent"] == args.messages, counts
            endpoint = f"{telegram.url}/bot1:bench/sendMessage"
            started = time.perf_counter()
            for _ in range(args.messages):
                channels.post_json(app.config, endpoint, {"chat_id": "42", "text": "Получена оплата"})
            bare = time.perf_counter() - started
            print(f"outbox job: {args.messages} Telegram messages in {outbox:.2f} s ({args.messages / outbox:.0f}/s); "
                  f"bare POSTs: {bare:.2f} s ({args.messages / bare:.0f}/s); ratio {outbox / bare:.2f}")

            Notification.delete().execute()
            now = utcnow()
            Notification.insert_many([{"user": user.id, "category": "billing", "data": "{}", "read_at": now}
                                      for _ in range(5)]).execute()
            Notification.update(read_at=None).execute()  # 5 unread
            Notification.insert_many([{"user": user.id, "category": "billing", "data": "{}", "read_at": now}
                                      for _ in range(10)]).execute()
            small = best_of(200, lambda: unread_summary(user.id))
            with db.atomic():
                rows = [{"user": user.id, "category": "billing", "data": "{}", "read_at": now}] * 1000
                for _ in range(args.history // 1000):
                    Notification.insert_many(rows).execute()
            large = best_of(200, lambda: unread_summary(user.id))
            assert unread_summary(user.id)[0] == 5
            print(f"bell query, 5 unread: {small * 1e6:.0f} µs with 10 read, {large * 1e6:.0f} µs with "
                  f"{args.history} read; ratio {large / small:.2f}")
    database.close_all()


if __name__ == "__main__":
    main()

"""In-process cost of every page: milliseconds and database queries per GET, worst first.

    .venv/bin/python bench/page_cost.py [--rounds 15]

The app runs in this process on a fresh SQLite database with the demo data (no server, no network: what a
page costs the app itself). The demo owner and the demo admin each sign in with a Flask test client and ask
for every GET page they can open: the pages without parameters from the URL map, then one page of each route
with parameters, found through the links on those (a user, an event, an invoice...). Each in English and in
Russian (Accept-Language). The rounds are interleaved (round 1 asks for every page once, then round 2...), so
a slow moment of the machine falls on every page alike; a page's figure is the median of its CPU time (this
process's, so other work on a shared machine barely moves it; the app does no I/O but SQLite's). Prints one line per
page, person and language, worst first, with its ratio to the personal-data page of the same person and
language (goal: none over 2), and exits 1 when a page is over twice the personal-data page.
"""
import argparse
import logging
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from werkzeug.exceptions import HTTPException

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LANGUAGES = ("en", "ru")
REFERENCE = "/app/personal-data"
HREF = re.compile(r'href="(/(?:app|admin)/[^"#?]*)"')


def make_app(instance):
    import migrations
    from app import create_app
    from models import db
    from services.demo import load_demo

    app = create_app({"DATABASE_URL": f"sqlite:///{instance}/bench.sqlite3", "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "bench", "ARGON2_MEMORY_KIB": 19456, "ARGON2_TIME_COST": 2})
    with app.app_context():
        db.connect(reuse_if_open=True)
        migrations.upgrade(db.obj)
        load_demo()
        db.close()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    return app


class QueryCounter:
    """Counts the SQL statements the app sends (every query goes through Database.execute_sql)."""

    def __init__(self):
        from models import db

        self.count = 0
        database = db.obj
        original = database.execute_sql

        def counting(*args, **kwargs):
            self.count += 1
            return original(*args, **kwargs)

        database.execute_sql = counting


def signed_in(app, email, password):
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1)
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 303, response.status_code
    return client


def html(client, path, lang):
    """The page's HTML when it answers 200 with HTML, else None (downloads, redirects, closed pages)."""
    response = client.get(path, headers={"Accept-Language": lang})
    if response.status_code != 200 or not response.content_type.startswith("text/html"):
        return None
    return response.get_data(as_text=True)


def pages(app, client):
    """Every HTML page this person opens: the routes without parameters, then one of each route with them."""
    adapter = app.url_map.bind("localhost")
    plain = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if "GET" in rule.methods and "<" not in rule.rule and rule.rule.startswith(("/app/", "/admin/"))})
    found, links, seen = [], [], set()
    for path in plain:
        body = html(client, path, "en")
        if body is not None:
            found.append(path)
            seen.add(adapter.match(path, method="GET")[0])
            links += HREF.findall(body)
    for path in links:
        try:
            endpoint, args = adapter.match(path, method="GET")
        except HTTPException:
            continue
        if args and endpoint not in seen and html(client, path, "en") is not None:
            seen.add(endpoint)
            found.append(path)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    from services.demo import DEMO_PEOPLE

    with tempfile.TemporaryDirectory() as instance:
        app = make_app(Path(instance))
        counter = QueryCounter()
        people = [(role, signed_in(app, email, password)) for email, password, role in DEMO_PEOPLE
                  if role in ("owner", "admin")]
        work = [(role, client, path, lang) for role, client in people for path in pages(app, client)
                for lang in LANGUAGES]
        for role, client, path, lang in work:  # warm-up: compiled templates, caches
            html(client, path, lang)
        times = {key[:1] + key[2:]: [] for key in work}
        queries = {}
        for _round in range(args.rounds):
            for role, client, path, lang in work:
                before = counter.count
                started = time.process_time()
                client.get(path, headers={"Accept-Language": lang}).close()
                times[(role, path, lang)].append(time.process_time() - started)
                queries[(role, path, lang)] = counter.count - before

    median = {key: statistics.median(values) * 1000 for key, values in times.items()}
    print(f"{'ms':>7}{'queries':>8}{'× pd':>7}  person lang page   ({args.rounds} interleaved rounds, median CPU ms)")
    worst = 0.0
    for (role, path, lang), ms in sorted(median.items(), key=lambda item: -item[1]):
        ratio = ms / median[(role, REFERENCE, lang)]
        worst = max(worst, ratio)
        print(f"{ms:7.2f}{queries[(role, path, lang)]:>8}{ratio:7.2f}  {role:<6}{lang:<4} {path}")
    for role, _client in people:
        for lang in LANGUAGES:
            key = (role, REFERENCE, lang)
            print(f"personal-data page, {role} {lang}: {median[key]:.2f} ms, {queries[key]} queries")
    print(f"{len(median)} pages (person × language); the worst is {worst:.2f} × the personal-data page (goal: <= 2)")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Page weight of every page: requests, bytes, gzip bytes and the largest asset, first and repeat visit.

    .venv/bin/python bench/page_weight.py

Serves the app on a fresh SQLite database with the demo data, signs in as the demo owner (who
may open every page) and crawls every same-site link from /app/personal-data, plus the signed-out
pages. For each HTML page it loads what a first visit loads (the page, its CSS, scripts and
images) and what a repeat visit loads (content-hashed static files come from the browser's
cache, so only the page), and prints the figures against the issue's budgets: at most 4
requests and 25 KB gzip on a first load, under 6 KB gzip on a repeat visit.

Every page is measured in each language (English, Russian: the browser asks with Accept-Language,
which the app follows while the person has no language of their own), one table per language,
each followed by its worst page. Exits 1 if any page in any language is over budget.
"""
import gzip
import http.client
import logging
import re
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urldefrag, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_REQUESTS, BUDGET_FIRST, BUDGET_REPEAT = 4, 25 * 1024, 6 * 1024
MAX_PAGES = 300
LANGUAGES = ("en", "ru")
# Links that act rather than show, or that would end the crawl's session.
SKIP = re.compile(r"^/(static/|logout|api/)|/download|/export/|\.(pdf|csv|json|txt|zip)$")


def serve(instance):
    from werkzeug.serving import make_server

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
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Browser:
    """One connection with a cookie jar of one cookie, like a tab that never caches HTML."""

    def __init__(self, port, lang):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.cookie = ""
        self.lang = lang

    def get(self, path, method="GET", form=None):
        headers = {"Cookie": self.cookie, "Accept-Encoding": "identity", "Accept-Language": self.lang}
        body = None
        if form:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.getheader("Set-Cookie"):
            self.cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        return response, data

    def sign_in(self, email, password):
        _r, login = self.get("/login")
        token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1).decode()
        response, _ = self.get("/login", "POST", {"csrf_token": token, "email": email, "password": password})
        assert response.status == 303, response.status


def gz(body):
    return len(gzip.compress(body, 6))


def measure(browser, start_paths):
    """Crawl from start_paths; returns {path: (page bytes, [(asset, bytes, cache-control)])}."""
    pages, assets, queue = {}, {}, list(start_paths)
    while queue and len(pages) < MAX_PAGES:
        path = queue.pop(0)
        if path in pages:
            continue
        response, body = browser.get(path)
        location = response.getheader("Location") or ""
        if response.status in (301, 302, 303) and location.startswith("/"):
            queue.append(location)  # section indexes redirect to their first page
            continue
        if response.status != 200 or "text/html" not in (response.getheader("Content-Type") or ""):
            continue
        html = body.decode()
        assert f'<html lang="{browser.lang}"' in html, f"{path} not in {browser.lang}"
        refs = list(dict.fromkeys(re.findall(r'<(?:link[^>]+href|script[^>]+src|img[^>]+src)="(/[^"]+)"', html)))
        for ref in refs:
            if ref not in assets:
                asset_response, asset = browser.get(ref)
                assets[ref] = (len(asset), gz(asset), asset_response.getheader("Cache-Control") or "")
        pages[path] = (body, refs)
        for href in re.findall(r'<a[^>]+href="(/[^"]*)"', html):
            link = urldefrag(href.replace("&amp;", "&"))[0]
            if not SKIP.search(urlsplit(link).path) and link not in pages:
                queue.append(link)
    return pages, assets


def over(requests, first, repeat):
    return requests > BUDGET_REQUESTS or first > BUDGET_FIRST or repeat >= BUDGET_REPEAT


def rows(pages, assets):
    """One row per kind of page (ids and query strings folded, the heaviest kept):
    (path, requests, first gzip bytes, repeat gzip bytes, largest asset)."""
    heaviest = {}
    for path, (body, refs) in pages.items():
        kind = re.sub(r"/\d+(?=/|$)", "/<id>", path.split("?", 1)[0])
        if kind not in heaviest or len(body) > len(heaviest[kind][0]):
            heaviest[kind] = (path, body, refs)
    for kind, (path, body, refs) in sorted(heaviest.items()):
        first = gz(body) + sum(assets[r][1] for r in refs)
        repeat = gz(body) + sum(assets[r][1] for r in refs if "immutable" not in assets[r][2])
        yield path, 1 + len(refs), gz(body), first, repeat, max(refs, key=lambda r: assets[r][0], default="")


def report(lang, crawls, assets):
    """One table for one language; returns its rows."""
    print(f"\n== {lang} ==\n{'page':<52}{'req':>4}{'html gz':>9}{'first KB gz':>12}{'repeat KB gz':>13}  largest asset")
    table = []
    for title, pages in crawls:
        print(f"-- {title}")
        for path, requests, html, first, repeat, largest in rows(pages, assets):
            table.append((path, requests, html, first, repeat))
            shown = path if len(path) <= 50 else path[:47] + "..."
            print(f"{shown:<52}{requests:>4}{html:>9}{first / 1024:>12.1f}{repeat / 1024:>13.1f}  "
                  f"{largest} ({assets[largest][0] if largest else 0} B)"
                  f"{'  OVER BUDGET' if over(requests, first, repeat) else ''}")
    path, requests, html, first, repeat = max(table, key=lambda row: (row[3], row[4]))
    print(f"worst {lang} page: {path}: {requests} requests, {first / 1024:.1f} KB gzip first "
          f"({first / BUDGET_FIRST:.0%} of {BUDGET_FIRST // 1024} KB; HTML {html} B), "
          f"{repeat / 1024:.1f} KB gzip repeat ({repeat / BUDGET_REPEAT:.0%} of {BUDGET_REPEAT // 1024} KB)"
          f"{'  OVER BUDGET' if over(requests, first, repeat) else ''}")
    return table


def main():
    from services.demo import DEMO_PEOPLE

    crawls, assets = {}, {}
    with tempfile.TemporaryDirectory() as instance:
        server = serve(Path(instance))
        for lang in LANGUAGES:
            anonymous = Browser(server.server_port, lang)
            out_pages, out_assets = measure(anonymous, ["/login", "/forgot-password"])
            owner = Browser(server.server_port, lang)
            email, password, _role = DEMO_PEOPLE[0]
            owner.sign_in(email, password)
            in_pages, in_assets = measure(owner, ["/app/personal-data"])
            crawls[lang] = [("signed out", out_pages), ("signed in as the demo owner", in_pages)]
            assets.update(out_assets)
            assets.update(in_assets)
        server.shutdown()

    print("assets (each loaded once, then cached):")
    for ref, (size, size_gz, cache) in sorted(assets.items()):
        print(f"  {ref:<50}{size:>8} B{size_gz:>8} B gzip  {cache}")
    table = [row for lang in LANGUAGES for row in report(lang, crawls[lang], assets)]
    requests, first, repeat = (max(row[i] for row in table) for i in (1, 3, 4))
    print(f"\n{len(table)} kinds of page in {len(LANGUAGES)} languages. Worst first visit: {requests} requests "
          f"(budget {BUDGET_REQUESTS}), {first / 1024:.1f} KB gzip ({first / BUDGET_FIRST:.0%} of "
          f"{BUDGET_FIRST // 1024} KB); worst repeat visit: {repeat / 1024:.1f} KB gzip "
          f"({repeat / BUDGET_REPEAT:.0%} of {BUDGET_REPEAT // 1024} KB)")
    ok = not any(over(row[1], row[3], row[4]) for row in table)
    print("every page within budget in every language" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

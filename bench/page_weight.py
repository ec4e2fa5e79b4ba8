"""Page weight of /app/personal-data: requests, bytes and gzip bytes of the page and everything it references.

    .venv/bin/python bench/page_weight.py

Signs in as the demo owner on a fresh SQLite database, loads the page as a first visit (page, CSS,
scripts, images) and as a repeat visit (the content-hashed static files come from the browser's
cache, so only the page is fetched), and prints the figures against the issue's budgets:
at most 4 requests and 25 KB gzip on the first load, under 6 KB gzip on a repeat visit.
"""
import gzip
import logging
import re
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_REQUESTS, BUDGET_FIRST, BUDGET_REPEAT = 4, 25 * 1024, 6 * 1024


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


def main():
    import http.client
    from urllib.parse import urlencode

    from services.demo import DEMO_PEOPLE

    with tempfile.TemporaryDirectory() as instance:
        server = serve(Path(instance))
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port)
        cookie = {}

        def get(path, method="GET", form=None):
            headers = {"Cookie": cookie.get("c", ""), "Accept-Encoding": "identity"}
            body = None
            if form:
                body = urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.getheader("Set-Cookie"):
                cookie["c"] = response.getheader("Set-Cookie").split(";", 1)[0]
            return response, data

        email, password, _role = DEMO_PEOPLE[0]
        _r, login = get("/login")
        token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1).decode()
        response, _ = get("/login", "POST", {"csrf_token": token, "email": email, "password": password})
        assert response.status == 303, response.status

        response, page = get("/app/personal-data")
        assert response.status == 200
        rows = [("/app/personal-data", response.getheader("Cache-Control"), page)]
        html = page.decode()
        refs = re.findall(r'<(?:link[^>]+href|script[^>]+src|img[^>]+src)="(/[^"]+)"', html)
        for ref in dict.fromkeys(refs):
            response, body = get(ref)
            assert response.status == 200, (ref, response.status)
            rows.append((ref, response.getheader("Cache-Control"), body))
        server.shutdown()

    print(f"{'request':<48}{'bytes':>9}{'gzip':>8}  cache")
    total = total_gz = 0
    for path, cache, body in rows:
        gz = len(gzip.compress(body, 6))
        total, total_gz = total + len(body), total_gz + gz
        print(f"{path:<48}{len(body):>9}{gz:>8}  {cache}")
    repeat = [body for path, cache, body in rows if "immutable" not in (cache or "")]
    repeat_gz = sum(len(gzip.compress(body, 6)) for body in repeat)
    print(f"\nfirst visit : {len(rows)} requests, {total / 1024:.1f} KB, {total_gz / 1024:.1f} KB gzip"
          f"  (budget {BUDGET_REQUESTS} requests, {BUDGET_FIRST // 1024} KB gzip: {total_gz / BUDGET_FIRST:.0%} used)")
    print(f"repeat visit: {len(repeat)} request(s), {repeat_gz / 1024:.1f} KB gzip"
          f"  (budget {BUDGET_REPEAT // 1024} KB: {repeat_gz / BUDGET_REPEAT:.0%} used; static files cached as immutable)")
    ok = len(rows) <= BUDGET_REQUESTS and total_gz <= BUDGET_FIRST and repeat_gz < BUDGET_REPEAT
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

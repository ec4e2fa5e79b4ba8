"""What each of Kabinet's framework overrides saves, measured in one run: every override switched off in turn.

    .venv/bin/python bench/overrides.py [--rounds 12] [--requests 40]

In process (Flask test client, demo data on SQLite, signed in as the demo owner, Russian): the personal-data
page (GET, whole page) and an autosave (htmx POST of the full name). Each round runs every set-up once, in
turn: all overrides on, then each one off alone (after one request of each kind not counted); a set-up's
figure is the median over the rounds of its cost over the cost with all on in the same round (mean CPU
time per request, this process's: pairing within a round cancels most of what other work on a shared
machine does to both). Also the page's size as sent and gzipped, which CompactTemplates is for. Goal for keeping an
override: >= 5 % on one of the three. app.Kabinet.ensure_sync and app.MergedGlobalsTemplate were measured
here and removed (README).

Switching off: CookieSessions -> Flask's SecureCookieSessionInterface (same cookie); RememberingCSRF -> Flask-WTF's
validate_csrf on every request; models.Prepared -> its queries built and compiled by peewee each time (its
row conversion stays: the upper bound of what going back to plain peewee queries would cost is higher);
CompactTemplates -> the templates compiled as written (Jinja's template cache emptied at each switch).
"""
import argparse
import gzip
import re
import statistics
import sys
import time

from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import validate_csrf
from page_cost import make_app  # bench/ is on sys.path when run as a script


def switches(app):
    """{name: (switch off, switch back on)}"""
    from extensions import csrf
    from models import Prepared, db

    kept_session, kept_execute = app.session_interface, Prepared.execute
    env = app.jinja_env
    compact_name = next(name for name in env.extensions if name.endswith("CompactTemplates"))
    compact = env.extensions[compact_name]

    def templates(extension):
        if extension:
            env.extensions[compact_name] = extension
        else:
            del env.extensions[compact_name]
        env.cache.clear()

    def unprepared(self, *params):
        query = self.build(*params)
        return db.obj.execute_sql(*query.sql()), self.layout(query)

    return {
        "CookieSessions": (lambda: setattr(app, "session_interface", SecureCookieSessionInterface()),
                           lambda: setattr(app, "session_interface", kept_session)),
        "RememberingCSRF": (lambda: setattr(csrf, "validate", validate_csrf), lambda: delattr(csrf, "validate")),
        "Prepared": (lambda: setattr(Prepared, "execute", unprepared),
                     lambda: setattr(Prepared, "execute", kept_execute)),
        "CompactTemplates": (lambda: templates(None), lambda: templates(compact)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    import tempfile
    from pathlib import Path

    from services.demo import DEMO_PEOPLE

    with tempfile.TemporaryDirectory() as instance:
        app = make_app(Path(instance))
        client = app.test_client()
        headers = {"Accept-Language": "ru"}
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                          client.get("/login").get_data(as_text=True)).group(1)
        email, password, _role = DEMO_PEOPLE[0]
        client.post("/login", data={"csrf_token": token, "email": email, "password": password})
        page = client.get("/app/personal-data", headers=headers).get_data(as_text=True)
        header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        post_headers = {**headers, "HX-Request": "true", "X-CSRFToken": header_token}

        def page_request():
            response = client.get("/app/personal-data", headers=headers)
            assert response.status_code == 200
            response.close()
            return response.get_data()

        def autosave_request():
            response = client.post("/app/personal-data/field/full_name", data={"full_name": "Анна Смирнова"},
                                   headers=post_headers)
            assert response.status_code == 200, response.status_code
            response.close()

        kinds = {"personal-data page": page_request, "autosave": autosave_request}
        toggles = switches(app)
        setups = ["all on", *toggles]
        costs = {(setup, kind): [] for setup in setups for kind in kinds}
        weight = {}
        for _round in range(args.rounds + 1):  # the first round warms up and is not counted
            for setup in setups:
                if setup in toggles:
                    toggles[setup][0]()
                try:
                    html = page_request()
                    weight[setup] = (len(html), len(gzip.compress(html)))
                    for kind, request in kinds.items():
                        request()
                        started = time.process_time()
                        for _ in range(args.requests):
                            request()
                        if _round:
                            costs[(setup, kind)].append((time.process_time() - started) / args.requests * 1000)
                finally:
                    if setup in toggles:
                        toggles[setup][1]()

    median = {key: statistics.median(values) for key, values in costs.items()}
    print(f"{'set-up':<22}" + "".join(f"{kind:>30}" for kind in kinds) + f"{'page as sent':>24}{'gzipped':>24}"
          + f"   ({args.rounds} rounds, CPU ms/request)")
    for setup in setups:
        cells = []
        for kind in kinds:
            ms = median[(setup, kind)]
            ratios = [cost / base for cost, base in zip(costs[(setup, kind)], costs[("all on", kind)])]
            change = f" ({(statistics.median(ratios) - 1) * 100:+5.1f} % off)" if setup != "all on" else " " * 15
            cells.append(f"{ms:8.3f} ms{change}")
        for size, base in zip(weight[setup], weight["all on"]):
            cells.append(f"{size:>6} B" + (f" ({(size / base - 1) * 100:+5.1f} % off)" if setup != "all on" else " " * 15))
        print(f"{setup if setup == 'all on' else setup + ' off':<22}" + "".join(f"{cell:>30}" for cell in cells[:2])
              + "".join(f"{cell:>24}" for cell in cells[2:]))


if __name__ == "__main__":
    sys.exit(main())

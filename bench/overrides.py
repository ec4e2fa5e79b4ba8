"""What each of Kabinet's framework overrides saves, measured in one run: every override switched off in turn.

    .venv/bin/python bench/overrides.py [--rounds 12] [--requests 40]

In process (Flask test client, demo data on SQLite, signed in as the demo owner, Russian): the personal-data
page (GET, whole page) and an autosave (htmx POST of the full name). Each round runs every set-up once, in
turn: all overrides on, then each one off alone; a set-up's figure is the median over the rounds of its
mean CPU time per request (this process's, so other work on a shared machine barely moves it). Prints each
override's saving as the cost without it over the cost with all of them (goal for keeping one: >= 5 % on
one of the two requests). CompactTemplates is not here: it is for page weight (bench/page_weight.py).
app.Kabinet.ensure_sync and app.MergedGlobalsTemplate were measured here and removed (README).

Switching off: CookieSessions -> Flask's SecureCookieSessionInterface (same cookie); RememberingCSRF -> Flask-WTF's
validate_csrf on every request; models.Prepared -> its queries built and compiled by peewee each time (its
row conversion stays: the upper bound of what going back to plain peewee queries would cost is higher).
"""
import argparse
import re
import statistics
import sys
import time

from page_cost import make_app  # bench/ is on sys.path when run as a script

from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import validate_csrf


def switches(app):
    """{name: (switch off, switch back on)}"""
    from extensions import csrf
    from models import Prepared, db

    kept_session, kept_execute = app.session_interface, Prepared.execute

    def unprepared(self, *params):
        query = self.build(*params)
        return db.obj.execute_sql(*query.sql()), self.layout(query)

    return {
        "CookieSessions": (lambda: setattr(app, "session_interface", SecureCookieSessionInterface()),
                           lambda: setattr(app, "session_interface", kept_session)),
        "RememberingCSRF": (lambda: setattr(csrf, "validate", validate_csrf), lambda: delattr(csrf, "validate")),
        "Prepared": (lambda: setattr(Prepared, "execute", unprepared),
                     lambda: setattr(Prepared, "execute", kept_execute)),
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

        def autosave_request():
            response = client.post("/app/personal-data/field/full_name", data={"full_name": "Анна Смирнова"},
                                   headers=post_headers)
            assert response.status_code == 200, response.status_code
            response.close()

        kinds = {"personal-data page": page_request, "autosave": autosave_request}
        toggles = switches(app)
        setups = ["all on", *toggles]
        costs = {(setup, kind): [] for setup in setups for kind in kinds}
        for _round in range(args.rounds + 1):  # the first round warms up and is not counted
            for setup in setups:
                if setup in toggles:
                    toggles[setup][0]()
                try:
                    for kind, request in kinds.items():
                        started = time.process_time()
                        for _ in range(args.requests):
                            request()
                        if _round:
                            costs[(setup, kind)].append((time.process_time() - started) / args.requests * 1000)
                finally:
                    if setup in toggles:
                        toggles[setup][1]()

    median = {key: statistics.median(values) for key, values in costs.items()}
    print(f"{'set-up':<26}" + "".join(f"{kind:>30}" for kind in kinds) + f"   ({args.rounds} rounds, CPU ms/request)")
    for setup in setups:
        cells = []
        for kind in kinds:
            ms, base = median[(setup, kind)], median[("all on", kind)]
            change = f" (+{(ms / base - 1) * 100:5.1f} % off)" if setup != "all on" else " " * 15
            cells.append(f"{ms:8.3f} ms{change}")
        print(f"{setup if setup == 'all on' else setup + ' off':<26}" + "".join(f"{cell:>30}" for cell in cells))


if __name__ == "__main__":
    sys.exit(main())

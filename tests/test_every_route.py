"""Every route from the URL map, for every kind of visitor, and generated hostile input (issue 9).

New routes are covered as they are added: nothing here lists them by hand except the few public ones.
"""
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import ForeignKeyField
from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter, UnicodeConverter

from blueprints import local_path
from models import Organization, User
from services import apikeys
from services.permissions import permissions_of
from services.demo import DEMO_PEOPLE, load_demo
from tests.conftest import all_models, csrf_from, make_user, sign_in

PUBLIC_PREFIXES = ("/login", "/forgot-password", "/reset-password", "/language", "/static", "/api/")
EMAILS = {role: email for email, _password, role in DEMO_PEOPLE}
PASSWORDS = {role: password for _email, password, role in DEMO_PEOPLE}


def samples(converter):
    """The values a walk tries for a URL parameter: an id, a word, or each choice of an `any(...)`; a converter
    with no sample fails the walk, so a new route can never be skipped unseen."""
    if isinstance(converter, IntegerConverter):
        return ["1"]
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)
    if isinstance(converter, (UnicodeConverter, PathConverter)):
        return ["x"]
    raise AssertionError(f"no sample value for {type(converter).__name__}: add one to samples()")


def routes(app):
    """(method, url, rule) for every rule, with sample values for its parameters (one URL per choice)."""
    found = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = [{}]
        for name, converter in rule._converters.items():
            values = [{**done, name: sample} for done in values for sample in samples(converter)]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for arguments in values:
                url = adapter.build(rule.endpoint, arguments, method=method)
                found.append((method, url, rule.rule))
    return sorted(set(found))


def test_the_walk_reaches_every_rule(app):
    """Every rule of the URL map (every method of it) is in the walk, with a URL that matches that rule."""
    walked = {(method, rule) for method, _url, rule in routes(app)}
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if rule.endpoint != "static":
                assert (method, rule.rule) in walked, (method, rule.rule)
    for method, url, rule in routes(app):
        matched, _arguments = adapter.match(url.split("?")[0], method=method, return_rule=True)
        assert matched.rule == rule, (url, rule)


@pytest.fixture
def world(app):
    """Org A from the demo data (owner, admin, employee, one disabled person) and an unrelated org B."""
    load_demo()
    org_a = User.get(User.email == EMAILS["owner"]).organization
    make_user(org_a, email="disabled@example.com")
    org_b = Organization.create(name="Other Ltd")
    make_user(org_b, email="stranger@example.com", full_name="Stranger Danger")
    return org_a, org_b


def client_as(app, who):
    client = app.test_client()
    if who == "anonymous":
        return client
    if who == "disabled":
        sign_in(client, "disabled@example.com")
        User.update(status="disabled").where(User.email == "disabled@example.com").execute()
    elif who == "stranger":
        sign_in(client, "stranger@example.com")
    else:
        sign_in(client, EMAILS[who], PASSWORDS[who])
    return client


def csrf_token(client):
    """The CSRF token of this client's session (the forgot-password page shows one to everybody)."""
    return csrf_from(client.get("/forgot-password").get_data(as_text=True))


def request(client, method, url, token=None, data=None):
    headers = {"X-CSRFToken": token} if token else {}
    response = client.open(url, method=method, data=data or {}, headers=headers)
    response.get_data()  # a streamed download (the events export) runs to its end, as a browser reads it
    return response


@pytest.mark.parametrize("who", ["anonymous", "employee", "admin", "disabled", "stranger"])
def test_permission_matrix_every_route(app, world, who):
    client = client_as(app, who)
    token = csrf_token(client)
    person = User.get(User.email == (EMAILS.get(who) or f"{who}@example.com")) if who != "anonymous" else None
    held = permissions_of(person) if who in ("employee", "stranger") else None
    endpoint_of = {(r.rule, m): r.endpoint for r in app.url_map.iter_rules() for m in r.methods}
    problems = []
    for method, url, rule in routes(app):
        response = request(client, method, url, token)
        status = response.status_code
        needed = getattr(app.view_functions[endpoint_of[rule, method]], "required_permission", None)
        if held is not None and needed and needed not in held and status < 300:
            problems.append(f"{method} {rule}: {status} for a person without {needed}")
        if status >= 500:
            problems.append(f"{method} {rule}: {status}")
        private = not rule.startswith(PUBLIC_PREFIXES) and rule != "/"
        if who in ("anonymous", "disabled") and private and status < 300:
            problems.append(f"{method} {rule}: {status} for {who}")
        if who in ("employee", "stranger") and rule.startswith("/admin") and status < 300:
            problems.append(f"{method} {rule}: {status} for a person without admin permissions")
        if "attachment" in response.headers.get("Content-Disposition", ""):
            if response.headers.get("Cache-Control") != "no-store":
                problems.append(f"{method} {rule}: a download without Cache-Control: no-store (SECURITY.md 27)")
        for header in ("Location", "HX-Redirect"):
            target = response.headers.get(header)
            if target and not (target.startswith("/") and local_path(target.split("?")[0])):
                problems.append(f"{method} {rule}: {header} {target!r} leaves the site (SECURITY.md 28)")
        for cookie in response.headers.getlist("Set-Cookie"):
            if "HttpOnly" not in cookie or "SameSite=Lax" not in cookie:
                problems.append(f"{method} {rule}: cookie without HttpOnly/SameSite=Lax: {cookie[:40]}")
        if method == "GET" and status == 200 and response.mimetype == "text/html":
            headers = response.headers
            if "frame-ancestors 'none'" not in headers.get("Content-Security-Policy", ""):
                problems.append(f"{rule}: no CSP")
            if headers.get("X-Content-Type-Options") != "nosniff" or "HX-Request" not in headers.get("Vary", ""):
                problems.append(f"{rule}: security headers missing")
    assert problems == []


def test_every_form_post_without_csrf_token_is_refused(app, world):
    client = client_as(app, "admin")
    for method, url, rule in routes(app):
        if method == "POST" and not rule.startswith("/api/"):
            response = client.post(url, data={})
            # Refused as a forged request (403), before the route looks up what the URL names.
            assert response.status_code == 403, f"{url}: {response.status_code} for a POST without CSRF token"


def test_every_form_posted_with_its_fields_left_out_never_breaks(app, world):
    """A POST carrying only its CSRF token (every field left out, as no browser sends it): a 4xx or a
    normal answer, never a 500 from a NULL reaching a NOT NULL column."""
    client = client_as(app, "admin")
    token = csrf_token(client)
    pages = [url for method, url, rule in routes(app) if method == "GET" and "<" not in rule]
    names = field_names(client, pages)
    problems = []
    for method, url, rule in routes(app):
        if method != "POST" or rule.startswith("/api/") or rule == "/logout":
            continue
        # A word in the URL (/app/personal-data/field/<name>) is tried as each form field's name too.
        for target in [url] + ([url.replace("/x", f"/{name}", 1) for name in names] if "/x" in url else []):
            response = client.post(target, data={"csrf_token": token}, headers={"X-CSRFToken": token})
            if response.status_code >= 500:
                problems.append(f"{target}: {response.status_code}")
            if response.status_code in (302, 401) and "/login" in response.headers.get("Location", "/login"):
                client = client_as(app, "admin")
                token = csrf_token(client)
            elif response.status_code == 403:
                token = csrf_token(client)
    assert problems == []


FIELD_NAMES = []


def field_names(client, urls):
    """The names of every form field on the given pages, as a browser would find them."""
    names = set()
    for url in urls:
        html = client.get(url).get_data(as_text=True)
        names.update(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', html))
    return sorted(names - {"csrf_token"})


# Values at the edges (SECURITY.md 19, DESIGN.md "Bad input"): ids around 2^63, digits that are not ASCII,
# dates at the calendar's ends and just inside the app's bounds (1900-2999).
EDGE_IDS = [2**62, 2**63 - 1, 2**63, 2**64, 10**20]
EDGE_VALUES = [str(n) for n in EDGE_IDS] + ["-9223372036854775809", "²", "١٢٣", "9" * 5000,
                                            "0001-01-01", "9999-12-31", "10000-01-01", "0000-00-00", "1899-12-31",
                                            "1900-01-01", "2999-12-31", "3000-01-01", "9999-12-31T23:59:59"]
hostile_text = st.one_of(
    st.just(""),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200),
    st.sampled_from(["x" * 10_000, "0", "-1", "1e309", "NaN", "9" * 40, "<script>alert(1)</script>", "' OR 1=1 --",
                     "../../etc/passwd", "\u202e\u0000", "1", "2", "999999", "true", "ru", "UTC", "ssl"]),
    st.sampled_from(EDGE_VALUES),
)


def with_drawn_ids(url, data, stranger):
    """Replace the sample id 1 in a URL by a drawn id: 1, another organization's row, or one at or past
    the integer edge; and the sample word of a string parameter by a form field's name (so that
    /app/personal-data/field/<name> is tried with the names it saves)."""
    url = re.sub(r"/1(?=/|$)", lambda _m: f"/{data.draw(st.sampled_from([1, stranger.id, *EDGE_IDS]), label='id')}", url)
    if FIELD_NAMES:
        url = re.sub(r"/x(?=/|$)", lambda _m: f"/{data.draw(st.sampled_from(['x', *FIELD_NAMES]), label='word')}", url)
    return url


def org_b_snapshot(org_b):
    """Every row of every table that belongs to org B: its own row, rows naming it, and rows naming one of
    its people (sessions, keys, codes, groups' members, notifications, files, ...)."""
    people = [u.id for u in User.select(User.id).where(User.organization == org_b)]
    snapshot = {}
    for model in all_models():
        fields = model._meta.fields
        if model is Organization:
            query = model.select().where(model.id == org_b.id)
        elif "organization" in fields:
            query = model.select().where(fields["organization"] == org_b.id)
        else:
            links = [f for f in fields.values() if isinstance(f, ForeignKeyField) and f.rel_model is User]
            if not links:
                continue
            condition = links[0].in_(people)
            for link in links[1:]:
                condition |= link.in_(people)
            query = model.select().where(condition)
        snapshot[model._meta.table_name] = sorted(tuple(map(repr, row)) for row in query.tuples())
    assert snapshot["organization"] and snapshot["user"], "the snapshot must see org B"
    return snapshot


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_generated_input_to_every_form_never_breaks_anything(app, world, data):
    """As a signed-in administrator of org A: no 5xx from any POST, and org B's data never changes."""
    _org_a, org_b = world
    before = org_b_snapshot(org_b)
    client = client_as(app, "admin")
    if not FIELD_NAMES:  # the pages' field names depend on the templates only: found once per run
        pages = [url for method, url, rule in routes(app) if method == "GET" and "<" not in rule]
        FIELD_NAMES.extend(field_names(client, pages) + ["id", "ids", "user_id"])
    stranger = User.get(User.email == "stranger@example.com")
    token = csrf_token(client)
    for method, url, rule in routes(app):
        if method != "POST" or rule in ("/logout",):
            continue
        url = with_drawn_ids(url, data, stranger)
        form = data.draw(st.dictionaries(st.sampled_from(FIELD_NAMES), hostile_text, max_size=6), label=rule)
        response = request(client, "POST", url, token, form)
        assert response.status_code < 500, f"{rule} with {form!r}: {response.status_code}"
        if response.status_code in (302, 401) and "/login" in response.headers.get("Location", "/login"):
            client = client_as(app, "admin")  # a fuzzed action signed us out: sign in again
            token = csrf_token(client)
        elif response.status_code == 403:
            token = csrf_token(client)  # the action may have ended the session, and its CSRF token with it
    assert org_b_snapshot(org_b) == before


# Strings JSON can carry but no column can store: lone surrogates and NUL.
unstorable_text = st.sampled_from(["\ud800", "a\udfffb", "\udbff\udc00\ud800", "a\x00b"])
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), hostile_text, unstorable_text,
              st.sampled_from([*EDGE_IDS, -(2**63) - 1])),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10) | unstorable_text,
                                                                      children, max_size=3),
    max_leaves=8,
)
DEEP_JSON = ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000, "[" * 40 + "]" * 40]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_generated_json_to_every_api_route_never_breaks_anything(app, world, data):
    """As the admin of org A with a read+write key: every /api/v1 route answers JSON below 500, org B unchanged."""
    _org_a, org_b = world
    before = org_b_snapshot(org_b)
    admin = User.get(User.email == EMAILS["admin"])
    key, _row = apikeys.create_key(admin, "fuzz", ["read", "write"])
    stranger = User.get(User.email == "stranger@example.com")
    client = app.test_client()
    for method, url, rule in routes(app):
        if not rule.startswith("/api/"):
            continue
        url = with_drawn_ids(url, data, stranger)
        body = data.draw(st.one_of(json_value, st.dictionaries(st.sampled_from(
            ["full_name", "short_info", "language", "time_zone", "email", "amount", "id", "organization",
             "issued_on", "period_start", "period_end"]), json_value, max_size=4)), label=rule)
        text = data.draw(st.sampled_from([json.dumps(body), *DEEP_JSON]), label="body")
        response = client.open(url, method=method, data=text, content_type="application/json",
                               headers={"Authorization": f"Bearer {key}"})
        response.get_data()  # a download streams: read within its request
        assert response.status_code < 500, f"{method} {url} with {text[:200]!r}: {response.status_code}"
        assert response.is_json or rule.endswith(".csv") and response.mimetype == "text/csv", \
            f"{method} {rule} answered {response.mimetype}"
    assert org_b_snapshot(org_b) == before


def test_json_bodies_to_html_forms_are_refused_cleanly(app, world):
    """A form route sent JSON (a list, a scalar, a nested object) answers 4xx, never 500 (Flask-WTF reads JSON too)."""
    client = client_as(app, "admin")
    token = csrf_token(client)
    problems = []
    for method, url, rule in routes(app):
        if method != "POST" or rule.startswith("/api/") or rule == "/logout":
            continue
        bodies = [json.dumps(body) for body in ([1, 2], "x", None, {"full_name": {"a": [1]}, "ids": [[1]]},
                                                {"csrf_token": token, "x": [1, {"y": 2}]})]
        for body in [*bodies, '{"full_name": "\\ud800", "short_info": "a\\u0000"}', DEEP_JSON[0]]:
            response = client.post(url, data=body, content_type="application/json", headers={"X-CSRFToken": token})
            if response.status_code >= 500:
                problems.append(f"{rule} with {body!r}: {response.status_code}")
            if response.status_code in (302, 401) and "/login" in response.headers.get("Location", "/login"):
                client = client_as(app, "admin")
                token = csrf_token(client)
    assert problems == []


QUERY_NAMES = ["before", "after", "older", "newer", "cursor", "limit", "edit", "group", "page", "since", "until",
               "date_from", "date_to", "next", "sort", "dir", "q", "countries", "zones", "tab", "status", "tfa"]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_generated_query_strings_and_ids_to_every_page_never_break_anything(app, world, data):
    """As a signed-in administrator of org A: every GET route, with ids at the integer edges and query
    parameters (filters, cursors, dates at the calendar's edges) drawn from hostile values, answers below 500."""
    client = client_as(app, "admin")
    if not FIELD_NAMES:
        pages = [url for method, url, rule in routes(app) if method == "GET" and "<" not in rule]
        FIELD_NAMES.extend(field_names(client, pages) + ["id", "ids", "user_id"])
    stranger = User.get(User.email == "stranger@example.com")
    for method, url, rule in routes(app):
        if method != "GET" or rule.startswith("/api/"):
            continue
        url = with_drawn_ids(url, data, stranger)
        query = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES + FIELD_NAMES), hostile_text, max_size=4),
                          label=rule)
        response = client.get(url, query_string=query)
        response.get_data()  # a streamed download runs to its end
        assert response.status_code < 500, f"GET {url} with {query!r}: {response.status_code}"

"""The OpenAPI document against the routes (issue 8): Schemathesis sends requests generated from the
document to every /api/v1 operation with a real key (read and write, billing.edit) and finds no server
error, no answer outside the document, no status it leaves out and no valid request refused; every
rule of the URL map is in the document with its methods, every error status the document lists is one
the route really answers, and a route without its declaration stops the document from being built."""
import re
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from models import ClientTag, Group, GroupMember, MailServer, Operation, User, UserAllowedTag
from services import apikeys, audit, crypto
from services.permissions import add_to_group, administrators_group, grant
from tests.conftest import make_user
from tests.test_api_auth import API, api_routes

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# The server takes whatever the document allows, except a rule across fields that JSON Schema cannot say.
CROSS_FIELD_RULES = {
    "POST /invoices",  # the period may not end before it starts
    # an invoice_id must be one of the organization's; a generated Idempotency-Key that comes again with
    # another body is refused by design
    "POST /balance/charges", "POST /balance/credits",
    "POST /operations",  # a user_id must be a person of the organization
    "POST /events",  # the data an event type needs, and user_ids of the organization
    "POST /notifications",  # user_id or permission, and a person of the organization
    # the admin API: an e-mail address nobody has (and that email_validator takes), a valid phone number, ids of
    # the organization's groups, tags and people, a group name not taken
    "POST /admin/users", "PATCH /admin/users/{user_id}", "POST /admin/groups", "PATCH /admin/groups/{group_id}",
    "POST /admin/groups/{group_id}/members",
    # a caption no other tag of the organization has; the events log's filters: an actor of the organization,
    # an IP address, a day the calendar has and an end not before the start
    "POST /admin/client-tags", "PATCH /admin/client-tags/{tag_id}",
    "GET /admin/events", "GET /admin/events/export.csv", "GET /admin/events/export.json",
}
EXAMPLES = 25  # per operation and mode: the run stays well under a minute on SQLite


@pytest.fixture
def owner(app, user):
    """Anna, who may issue invoices and manage people and groups, owns a mail server, and has a key with every scope."""
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    grant(user, "billing.edit", "users.view", "users.edit", "groups.manage", "tags.manage", "clients.view", "events.view")
    # an administrator besides: where none is enabled, nobody may be disabled or deleted (the last one's rule)
    add_to_group(make_user(user.organization_id, "boss@example.com", role="owner"), administrators_group(user.organization_id))
    MailServer.create(owner=user, organization=user.organization_id, host="smtp.example.com", port=587,
                      from_email="anna@example.com", username="anna", password_token=crypto.encrypt("s", app.config))
    return user


@pytest.fixture
def key(owner):
    return apikeys.create_key(owner, "schemathesis", ["read", "write"])[0]


def operations(app):
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def fuzz(operation, key, mode, **fixed):
    """Up to EXAMPLES generated requests to `operation`; the first failure as text, or None."""
    checks = CHECKS
    if mode == schemathesis.GenerationMode.POSITIVE and operation.label not in CROSS_FIELD_RULES:
        checks = [*CHECKS, positive_data_acceptance]

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=checks)

    try:
        run()
    except Exception as exc:  # noqa: BLE001 - each operation's first failure is reported, not only the first one's
        return f"{operation.label}: {exc}"
    return None


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(app, key, mode):
    found = operations(app)
    assert len(found) >= 6
    problems = [fuzz(operation, key, mode) for operation in found]
    # Generated ids are rarely one that exists: the routes with an id are also called with Anna's server's.
    mine = {"server_id": MailServer.get().id}
    problems += [fuzz(operation, key, mode, path_parameters=mine) for operation in found
                 if mode == schemathesis.GenerationMode.POSITIVE and "{server_id}" in operation.path]
    assert [problem for problem in problems if problem] == [], "\n\n".join(filter(None, problems))
    assert User.get().full_name.strip(), "no generated request left Anna without a name"


def test_every_api_rule_is_in_the_document_with_its_methods(app, client):
    document = client.get(f"{API}/openapi.json").get_json()
    from_map = set()
    for method, _url, endpoint in api_routes(app):
        if endpoint in ("api.openapi", "api.not_found"):
            continue
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)
        from_map.add((re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule[len(API):]), method.lower()))
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert documented == from_map


def test_a_route_without_its_declaration_cannot_be_left_out_of_the_document(app):
    from blueprints.api.core import COMPONENTS
    from blueprints.api.spec import build_document

    app.add_url_rule(f"{API}/undeclared", "api.undeclared", dict)
    with app.app_context(), pytest.raises(LookupError, match="api.undeclared"):
        build_document(app, API, COMPONENTS)


def provoke(app, client, owner, path, method, operation):
    """{status: what answered it} for each error the route can be made to give, tried the same way on all."""
    server = MailServer.get()
    made = {"operation_id": lambda: Operation.create(organization=owner.organization_id, kind="product", title="t").id,
            "user_id": lambda: make_user(owner.organization_id, f"{uuid.uuid4().hex}@example.com").id,
            "group_id": lambda: Group.create(organization=owner.organization_id, name=uuid.uuid4().hex).id,
            "tag_id": lambda: ClientTag.create(organization=owner.organization_id, caption=uuid.uuid4().hex).id,
            "event_id": lambda: audit.record("user.created", actor=owner, target="walk").id}
    ids = {parameter["name"]: made.get(parameter["name"], lambda: server.id)()
           for parameter in operation.get("parameters", ()) if parameter["in"] == "path"}
    url = API + path.format(**ids)
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    good = body.get("examples", [{}])[0] if body else None
    if good and "user_id" in good:  # a person to add to a group
        good = {**good, "user_id": made["user_id"]()}
    full = apikeys.create_key(owner, "all", ["read", "write"])[0]

    def send(key=full, url=url, **kwargs):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        headers.update({parameter["name"]: uuid.uuid4().hex for parameter in operation.get("parameters", ())
                        if parameter["in"] == "header"})  # e.g. a new Idempotency-Key each time
        kwargs.setdefault("json", good)
        return client.open(url, method=method.upper(), headers=headers, **kwargs).status_code

    got = {send(): "a good request", send(key=None): "no key"}
    endpoint, _args = app.url_map.bind("localhost").match(url, method=method.upper())
    scope = app.view_functions[endpoint].required_scope
    other = apikeys.create_key(owner, "other", [{"read": "write", "write": "read"}[scope]])[0]
    got.setdefault(send(key=other), "a key without the scope")
    if ids:
        got.setdefault(send(url=API + path.format(**{name: 2**63 - 1 for name in ids})), "an id nobody has")
    if "operation_id" in ids:
        ended = Operation.create(organization=owner.organization_id, kind="product", title="t", status="completed").id
        got.setdefault(send(url=API + path.format(**{**ids, "operation_id": ended})), "an operation that has ended")
    if "tag_id" in ids and method == "delete":  # someone's only allowed tag is kept
        tag = ClientTag.create(organization=owner.organization_id, caption=uuid.uuid4().hex)
        UserAllowedTag.create(user=make_user(owner.organization_id, f"{uuid.uuid4().hex}@example.com"), tag=tag)
        got.setdefault(send(url=API + path.format(tag_id=tag.id)), "the only allowed tag of someone")
    if "user_id" in ids and "group_id" not in ids:  # Anna herself: not disabled, deleted nor given a role by herself
        got.setdefault(send(url=API + path.format(user_id=owner.id), json={"role": "admin"} if body else None),
                       "the key's owner themself")
    if "user_id" in ids and "group_id" in ids:  # Anna as the last administrator, leaving Administrators
        admins = administrators_group(owner.organization_id)
        add_to_group(owner, admins)
        User.update(status="disabled").where(User.email == "boss@example.com").execute()
        got.setdefault(send(url=API + path.format(group_id=admins.id, user_id=owner.id)), "the last administrator")
        User.update(status="enabled").where(User.email == "boss@example.com").execute()
        GroupMember.delete().where(GroupMember.user == owner, GroupMember.group == admins).execute()
    if body:
        got.setdefault(send(json=None, data="not json", content_type="application/json"), "a body that is not JSON")
        got.setdefault(send(json={"no_such_field": 1}), "an unknown field")
        size, app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_CONTENT_LENGTH"], 100
        got.setdefault(send(json={"no_such_field": "x" * 100}), "a body over MAX_CONTENT_LENGTH")
        app.config["MAX_CONTENT_LENGTH"] = size
    for parameter in operation.get("parameters", ()):
        if parameter["in"] == "query":
            got.setdefault(send(query_string={parameter["name"]: "-1x"}), f"a wrong {parameter['name']}")
    app.config["API_RATE_LIMIT"] = "1 per minute"
    once = apikeys.create_key(owner, "once", ["read", "write"])[0]
    send(key=once)
    got.setdefault(send(key=once), "the second request in a minute of a 1-per-minute key")
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    return got


def test_every_documented_status_is_one_the_route_answers_and_back(app, client, owner):
    document = client.get(f"{API}/openapi.json").get_json()
    problems = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            got = provoke(app, client, owner, path, method, operation)
            documented = {int(code) for code in operation["responses"]}
            if set(got) != documented:
                problems.append(f"{method.upper()} {path}: documents {sorted(documented)}, answers {got}")
            for code, schema in operation["responses"].items():
                media = "text/csv" if code == "200" and path.endswith(".csv") else "application/json"
                assert list(schema["content"]) == [media], f"{method} {path} {code}"
    assert problems == [], "\n".join(problems)


def test_query_parameters_are_checked_by_their_declaration(client, key):
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "ru"}
    for bad in ("limit=0", "limit=%C2%B2", "limit=" + "9" * 30, "cursor=%C2%B2", "cursor=" + "9" * 19, "cursor=12%0A", "cursor=0"):
        response = client.get(f"{API}/notifications?{bad}", headers=headers)
        assert response.status_code == 422, bad
    body = client.get(f"{API}/notifications?limit=101", headers=headers).get_json()
    assert body["fields"] == {"limit": ["Введите целое число от 1 до 100."]}
    for good in ("limit=&cursor=", f"cursor={2**63 - 1}&limit=100"):
        assert client.get(f"{API}/notifications?{good}", headers=headers).status_code == 200, good

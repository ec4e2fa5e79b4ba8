"""The OpenAPI document of /api/v1, built from the routes themselves so the two cannot drift.

The URL map gives the paths, the methods and the path parameters (an int converter's bounds become the
parameter's minimum and maximum). Each view's `@operation(...)`, written next to the route, gives its
summary, its answer, its query parameters (the same declaration checks the query string) and its JSON
body (a schema derived from the WTForms form that validates it: lengths, patterns, choices). The error
answers follow from what the route has: a scope (401, 403, 429), a body (400, 413, 422), query parameters
(422), a path parameter (404). A route under /api/v1 without `@operation` makes the document fail to
build, which the tests notice.
"""
import re
from functools import wraps

from flask import current_app, g, jsonify, request
from flask_babel import gettext as _
from werkzeug.routing.converters import IntegerConverter
from wtforms import DateField, DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from blueprints.bounds import ID_MAX
from blueprints.forms import CONTROL_CHARS, plain_text

ERROR = {"$ref": "#/components/schemas/Error"}
WHY = {
    "400": "The body is not a JSON object the server can read",
    "401": "No key, or a revoked, expired or unknown key",
    "403": "The key lacks the scope, or its owner the permission",
    "404": "No such item (someone else's counts as none)",
    "409": "The item's state does not allow this (e.g. an operation that has already ended)",
    "413": "The body is larger than MAX_CONTENT_LENGTH, {size} bytes on this server",
    "422": "Invalid input: `fields` names each field with its messages",
    "429": "The rate limit of this key is reached; see Retry-After",
}
# Validators that are plain functions say what they allow here (their class-based peers are read below).
VALIDATOR_SCHEMAS = {plain_text: {"pattern": "^[^" + CONTROL_CHARS.pattern[1:] + "*$"}}


def error_fields(fields):
    """422 with each invalid field's messages."""
    response = jsonify({"code": "invalid", "message": _("Some fields are not valid."), "fields": fields})
    response.status_code = 422
    return response


def operation(summary, response, *, status=200, description="", body=None, query=None, headers=None, conflict=False,
              media="application/json"):
    """Declare a route's part of the document: `response` is the schema of its `status` answer; `body` a
    function giving the JSON schema of its body (see form_schema; called when the document is built);
    `query` {name: schema} of integer or string parameters, checked here before the view runs (the view
    reads the values from g.api_query); `headers` {name: string schema} of required request headers,
    checked the same way (g.api_headers); `conflict`: the route answers 409 when the item's state forbids it;
    `media`: the success answer's media type (text/csv for a CSV file; errors are JSON all the same)."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if query:
                g.api_query, problems = parse_query(query)
                if problems:
                    return error_fields(problems)
            if headers:
                g.api_headers, problems = parse_headers(headers)
                if problems:
                    return error_fields(problems)
            return view(*args, **kwargs)
        wrapper.openapi = {"summary": summary, "description": description, "response": response,
                           "status": status, "body": body, "query": query or {}, "headers": headers or {},
                           "conflict": conflict, "media": media}
        return wrapper
    return decorate


def parse_query(declared):
    """Query values by their declared schema (integer: digits within minimum..maximum; string: printable,
    maxLength, pattern); returns (values, {name: [message]}) with defaults for the ones left out."""
    values, problems = {}, {}
    for name, schema in declared.items():
        raw = request.args.get(name)
        if raw is None or raw == "":
            values[name] = schema.get("default")
            continue
        if schema["type"] == "integer":
            low, high = schema.get("minimum", 0), schema.get("maximum", ID_MAX)
            if re.fullmatch(r"[0-9]{1,19}", raw) and low <= int(raw) <= high:
                values[name] = int(raw)
                continue
            problems[name] = [_("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)]
        elif raw.isprintable() and len(raw) <= schema.get("maxLength", 1000) and re.search(schema["pattern"], raw):
            values[name] = raw
        else:
            problems[name] = [_("This value is not valid here.")]
    return values, problems


def parse_headers(declared):
    """Required string headers by their declared schema; returns (values, {name: [message]})."""
    values, problems = {}, {}
    for name, schema in declared.items():
        raw = request.headers.get(name, "")
        if not raw:
            problems[name] = [_("Send the %(name)s header.", name=name)]
        elif len(raw) <= schema.get("maxLength", 1000) and re.search(schema.get("pattern", "."), raw):
            values[name] = raw
        else:
            problems[name] = [_("This value is not valid here.")]
    return values, problems


def field_schema(unbound):
    """The JSON schema of one WTForms field (unbound, as declared on the form class)."""
    kind, kwargs = unbound.field_class, unbound.kwargs
    schema = {"type": "string"}
    if issubclass(kind, DateField):
        schema["format"] = "date"
    elif issubclass(kind, SelectField) and kwargs.get("choices"):
        schema["enum"] = [getattr(choice, "value", choice) for choice in kwargs["choices"]]
        if isinstance(schema["enum"][0], tuple):
            schema["enum"] = [value for value, _label in schema["enum"]]
    patterns = []
    for validator in kwargs.get("validators", ()):
        if isinstance(validator, Length):
            if validator.max != -1:
                schema["maxLength"] = validator.max
            if validator.min > 0:
                schema["minLength"] = validator.min
        elif isinstance(validator, (DataRequired, InputRequired)) and issubclass(kind, StringField):
            schema["minLength"] = max(1, schema.get("minLength", 0))
            if isinstance(validator, DataRequired):
                patterns.append(r"\S")  # DataRequired refuses whitespace alone
        elif isinstance(validator, Regexp):
            patterns.append(validator.regex.pattern)
        elif isinstance(validator, NumberRange) and issubclass(kind, IntegerField):
            schema = {"type": "integer", **bounds(validator, int)}
        elif isinstance(validator, NumberRange) and issubclass(kind, DecimalField) and validator.max is not None:
            digits = len(str(int(validator.max))) - 1  # below the maximum's power of ten, for the string form
            places = kwargs.get("places") or 2
            schema = {"type": ["string", "number"], **bounds(validator, float),
                      "pattern": rf"^[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$",
                      "description": f"A decimal from {validator.min} to {validator.max}, as a string or a number"}
        elif validator in VALIDATOR_SCHEMAS:
            patterns.append(VALIDATOR_SCHEMAS[validator]["pattern"])
    if len(patterns) == 1:
        schema["pattern"] = patterns[0]
    elif patterns:
        schema["allOf"] = [{"pattern": pattern} for pattern in patterns]
    return schema


def bounds(number_range, kind):
    return {key: kind(value) for key, value in (("minimum", number_range.min), ("maximum", number_range.max))
            if value is not None}


def form_schema(forms, fields, required=(), overrides=None, example=None):
    """The JSON object that `fields` of `forms` accept: each field's schema from its form's validators,
    `overrides` for what a form checks in code (validate_<field>), no other property allowed."""
    properties = {}
    for name in fields:
        form = next(form for form in forms if hasattr(form, name))
        properties[name] = {**field_schema(getattr(form, name)), **(overrides or {}).get(name, {})}
    schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = list(required)
    if example:
        schema["examples"] = [example]
    return schema


def path_parameter(name, converter):
    schema = {"type": "string"}
    if isinstance(converter, IntegerConverter):
        low = converter.min if converter.min is not None else (-ID_MAX if converter.signed else 0)
        high = converter.max if converter.max is not None else ID_MAX
        schema = {"type": "integer", "minimum": low, "maximum": high}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def described(*codes):
    size = current_app.config["MAX_CONTENT_LENGTH"]
    return {code: {"description": WHY[code].format(size=size), "content": {"application/json": {"schema": ERROR}}}
            for code in codes}


def build_operation(rule, view):
    spec = view.openapi
    errors = ["401", "403", "429"] if hasattr(view, "required_scope") else ["429"]
    out = {"summary": spec["summary"],
           "description": (f"Scope: {view.required_scope}. " if hasattr(view, "required_scope") else "")
           + spec["description"],
           "operationId": rule.endpoint.split(".", 1)[1], "parameters": []}
    for name, converter in rule._converters.items():
        out["parameters"].append(path_parameter(name, converter))
        errors.append("404")
    for name, schema in spec["query"].items():
        out["parameters"].append({"name": name, "in": "query", "required": False, "schema": schema})
    for name, schema in spec.get("headers", {}).items():
        out["parameters"].append({"name": name, "in": "header", "required": True, "schema": schema})
    if spec["query"] or spec.get("headers"):
        errors.append("422")
    if spec.get("conflict"):
        errors.append("409")
    if spec["body"]:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": spec["body"]()}}}
        errors += ["400", "413", "422"]
    out["responses"] = {str(spec["status"]): {"description": "OK", "content": {spec["media"]: {
        "schema": spec["response"]}}}, **described(*sorted(set(errors)))}
    if not out["parameters"]:
        del out["parameters"]
    return out


def build_document(app, base, components):
    """The OpenAPI document of every rule under `base` (the document itself and the catch-all 404 aside)."""
    paths = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if not rule.rule.startswith(base + "/") or rule.endpoint in ("api.openapi", "api.not_found"):
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "openapi"):
            raise LookupError(f"{rule.endpoint} ({rule.rule}) has no @operation(...): it would be undocumented")
        path = re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule[len(base):])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = build_operation(rule, view)
    return {**components, "paths": paths}

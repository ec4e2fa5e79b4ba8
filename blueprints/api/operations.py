"""The product's long-running jobs in the list of operations (/app/operations): POST /api/v1/operations
starts one, .../progress reports percent, counts and a status line, .../finish and .../fail end it (which
notifies the person it is for and emits the "operation.finished" webhook, as services.operations does for
every job). A service key or a person's key; added to the JSON API's blueprint from blueprints/api.py."""
from flask import g, jsonify
from flask import request as http_request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField, StringField
from wtforms.validators import NumberRange, Optional, Regexp

from models import Operation, User
from services import operations

from blueprints.api.core import bp, error, scope
from blueprints.api.spec import error_fields, form_schema, operation
from blueprints.bounds import ID_MAX
from blueprints.forms import Form, max_length, plain_text, required

COUNT_MAX = 10**12
KIND = "product"


def count_field(label):
    return IntegerField(label, validators=[Optional(), NumberRange(min=0, max=COUNT_MAX)])


class StartForm(Form):
    title = StringField(_l("Title"), validators=[required(_l("Name the operation.")), max_length(200), plain_text])
    total = count_field(_l("Total"))
    user_id = IntegerField(_l("Person"), validators=[Optional(), NumberRange(min=1, max=ID_MAX)])


class ProgressForm(Form):
    percent = IntegerField(_l("Percent"), validators=[Optional(), NumberRange(min=0, max=100)])
    done = count_field(_l("Done"))
    total = count_field(_l("Total"))
    status_line = StringField(_l("Status line"), validators=[max_length(200), plain_text])


class FinishForm(Form):
    result = StringField(_l("Result"), validators=[max_length(500), plain_text])
    result_url = StringField(_l("Result link"), validators=[max_length(300), Regexp(
        r"^(/(?!/)[!-~]*)?$", message=_l("Give a path on this site, like /app/account/files."))])


class FailForm(Form):
    error = StringField(_l("Error"), validators=[required(_l("Say what went wrong.")), max_length(500), plain_text])


FIELDS = {StartForm: ("title", "total", "user_id"), ProgressForm: ("percent", "done", "total", "status_line"),
          FinishForm: ("result", "result_url"), FailForm: ("error",)}

OPERATION_SCHEMA = {
    "type": "object",
    "required": ["id", "title", "status", "progress", "done", "total", "status_line", "result", "result_url", "error",
                 "created_at", "started_at", "finished_at"],
    "properties": {
        "id": {"type": "integer"}, "title": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "running", "completed", "failed"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "done": {"type": ["integer", "null"]}, "total": {"type": ["integer", "null"]},
        "status_line": {"type": "string"}, "result": {"type": "string"}, "result_url": {"type": "string"},
        "error": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": ["string", "null"], "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def stamp(moment):
    return moment.isoformat() + "Z" if moment else None


def operation_json(row):
    return {"id": row.id, "title": row.title, "status": row.status, "progress": row.progress, "done": row.done,
            "total": row.total, "status_line": row.status_line, "result": row.result, "result_url": row.result_url,
            "error": row.error, "created_at": stamp(row.created_at), "started_at": stamp(row.started_at),
            "finished_at": stamp(row.finished_at)}


def body_of(form_class, required_fields=(), example=None):
    return lambda: form_schema((form_class,), FIELDS[form_class], required=required_fields, example=example)


def read_form(form_class):
    """(form, None) when the JSON body is valid for `form_class`, else (None, the error answer)."""
    data = http_request.get_json(silent=True)
    if not isinstance(data, dict):
        return None, error(400, "bad_request", _("Send a JSON object."))
    unknown = sorted(set(data) - set(FIELDS[form_class]))
    if unknown:
        return None, error(422, "unknown_field", _("These fields cannot be set: %(list)s.", list=", ".join(unknown)[:200]))
    if any(value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))) for value in data.values()):
        return None, error(422, "invalid", _("Every value must be a string or a whole number."))
    form = form_class(formdata=MultiDict({k: str(v) for k, v in data.items() if v is not None}), meta={"csrf": False})
    if not form.validate():
        return None, error_fields({k: [str(m) for m in v] for k, v in form.errors.items()})
    return form, None


def answer(row, status=200):
    response = jsonify(operation_json(Operation.get_by_id(row.id)))
    response.status_code = status
    return response


def product_operation(operation_id):
    return Operation.get_or_none(Operation.id == operation_id, Operation.organization == g.api_organization_id,
                                 Operation.kind == KIND)


def not_found():
    return error(404, "not_found", _("There is nothing here."))


def finished():
    return error(409, "finished", _("This operation has already ended."))


@bp.post("/operations")
@scope("write", service=True)
@operation("Start an operation in the list of operations", OPERATION_SCHEMA, status=201,
           body=body_of(StartForm, ("title",), {"title": "Import of 12 000 contacts", "total": 12000}),
           description="It shows in everyone's list of operations of the organization. `user_id` (a person of the "
                       "organization; with a person's key, that person by default) is told when it ends.")
def start_operation():
    form, problem = read_form(StartForm)
    if problem:
        return problem
    person = g.api_user
    if form.user_id.data:
        person = User.get_or_none(User.id == form.user_id.data, User.organization == g.api_organization_id)
        if person is None:
            return error_fields({"user_id": [_("There is no such person in your organization.")]})
    row = Operation.create(organization=g.api_organization_id, user=person, kind=KIND, title=form.title.data,
                           total=form.total.data, status="pending")
    return answer(row, 201)


@bp.get(f"/operations/<int(max={ID_MAX}):operation_id>")
@scope("read", service=True)
@operation("An operation started through the API", OPERATION_SCHEMA)
def get_operation(operation_id):
    row = product_operation(operation_id)
    return answer(row) if row else not_found()


@bp.post(f"/operations/<int(max={ID_MAX}):operation_id>/progress")
@scope("write", service=True)
@operation("Report an operation's progress", OPERATION_SCHEMA,
           body=body_of(ProgressForm, (), {"done": 4000, "total": 12000, "status_line": "Checking addresses"}),
           description="Without `percent`, the percent is worked out from `done` of `total`. An ended operation: 409.", conflict=True)
def report_progress(operation_id):
    row = product_operation(operation_id)
    if row is None:
        return not_found()
    form, problem = read_form(ProgressForm)
    if problem:
        return problem
    if not operations.report(row, percent=form.percent.data, done=form.done.data, total=form.total.data,
                             status_line=form.status_line.data if "status_line" in (http_request.get_json() or {}) else None):
        return finished()
    return answer(row)


@bp.post(f"/operations/<int(max={ID_MAX}):operation_id>/finish")
@scope("write", service=True)
@operation("Finish an operation", OPERATION_SCHEMA, body=body_of(FinishForm, (), {"result": "12 000 contacts imported"}),
           description="Tells its person (category operations) and sends the operation.finished webhook. Once: "
                       "an ended operation answers 409.", conflict=True)
def finish_operation(operation_id):
    row = product_operation(operation_id)
    if row is None:
        return not_found()
    form, problem = read_form(FinishForm)
    if problem:
        return problem
    if not operations.finish_operation(row, result=form.result.data or "", result_url=form.result_url.data or ""):
        return finished()
    return answer(row)


@bp.post(f"/operations/<int(max={ID_MAX}):operation_id>/fail")
@scope("write", service=True)
@operation("Fail an operation", OPERATION_SCHEMA, body=body_of(FailForm, ("error",), {"error": "The file is not CSV"}),
           description="Tells its person and sends the operation.finished webhook, as finishing does.", conflict=True)
def fail_operation(operation_id):
    row = product_operation(operation_id)
    if row is None:
        return not_found()
    form, problem = read_form(FailForm)
    if problem:
        return problem
    if not operations.fail_operation(row, form.error.data):
        return finished()
    return answer(row)

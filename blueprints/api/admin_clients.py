"""The admin API for client tags and clients (issue 17): the back office's pages as JSON, for the key's
owner and with the pages' permissions (tags.manage, clients.view), forms and rules (services/clients.py:
which clients a person sees, masking, captions checked under the organization's lock). Added to the JSON
API's blueprint from here."""
from flask import g, jsonify, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from models import ClientTag
from services import clients as registry

from blueprints.admin.clients import PAGE_SIZE, TagForm
from blueprints.api.core import audit_meta, bp, error, needs_permission, scope
from blueprints.api.spec import error_fields, form_schema, operation
from blueprints.bounds import ID_MAX

TAG_SCHEMA = {"type": "object", "required": ["id", "caption"],
              "properties": {"id": {"type": "integer"}, "caption": {"type": "string"}}}
CLIENT_SCHEMA = {
    "type": "object", "required": ["id", "name", "email", "phone", "country", "tags"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
                   "phone": {"type": "string", "description": "E.164, or masked: +7********89"},
                   "country": {"type": "string", "description": "ISO 3166 alpha-2, or empty"},
                   "tags": {"type": "array", "items": {"type": "string"}}},
}
CURSOR = {"type": "integer", "minimum": 1, "maximum": ID_MAX, "description": "next_cursor of the previous page"}


def tag_json(tag):
    return {"id": tag.id, "caption": tag.caption}


def caption_body(example="VIP"):
    return form_schema((TagForm,), ("caption",), required=("caption",), example={"caption": example})


def new_caption_body():
    return caption_body("Gold")


def caption_form(tag=None):
    """(TagForm, None) for the request's JSON body {"caption": …}, or (None, the error answer)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return None, error(400, "bad_request", _("Send a JSON object."))
    problems = {name[:60]: [_("This field is not known.")] for name in data if name != "caption"}
    if not isinstance(data.get("caption", ""), str):
        problems["caption"] = [_("Send a string.")]
    if problems:
        return None, error_fields(problems)
    form = TagForm(formdata=MultiDict({"caption": data.get("caption", "")}), tag=tag,
                   organization_id=g.api_user.organization_id, meta={"csrf": False})
    return form, None


def own_tag(tag_id):
    return ClientTag.get_or_none(ClientTag.id == tag_id, ClientTag.organization == g.api_user.organization_id)


def no_tag():
    return error(404, "not_found", _("There is no such client tag."))


def form_errors(form):
    return error_fields({name: [str(message) for message in messages] for name, messages in form.errors.items()})


@bp.get("/admin/client-tags")
@scope("read")
@needs_permission("tags.manage")
@operation("The organization's client tags, by caption", {
    "type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": TAG_SCHEMA}}},
    description="The key's owner needs the tags.manage permission, as on the Client tags page.")
def admin_client_tags():
    return jsonify({"items": [tag_json(tag) for tag in registry.organization_tags(g.api_user.organization_id)]})


@bp.post("/admin/client-tags")
@scope("write")
@needs_permission("tags.manage")
@operation("Add a client tag", TAG_SCHEMA, status=201, body=caption_body,
           description="tags.manage, as on the page; a caption another tag has is refused (422), and the "
                       "change is in the events log.")
def admin_create_client_tag():
    form, problem = caption_form()
    if problem:
        return problem
    tag = registry.add_tag(g.api_user, form, **audit_meta())
    if tag is None:
        return form_errors(form)
    response = jsonify(tag_json(tag))
    response.status_code = 201
    return response


@bp.patch("/admin/client-tags/<int:tag_id>")
@scope("write")
@needs_permission("tags.manage")
@operation("Rename a client tag", TAG_SCHEMA, body=new_caption_body,
           description="tags.manage; validated like the page (a caption another tag has is refused).")
def admin_rename_client_tag(tag_id):
    tag = own_tag(tag_id)
    if tag is None:
        return no_tag()
    form, problem = caption_form(tag)
    if problem:
        return problem
    if not registry.rename_tag(g.api_user, tag, form, **audit_meta()):
        return form_errors(form)
    return jsonify(tag_json(ClientTag.get_by_id(tag.id)))


@bp.delete("/admin/client-tags/<int:tag_id>")
@scope("write")
@needs_permission("tags.manage")
@operation("Delete a client tag", TAG_SCHEMA,
           description="tags.manage, as on the page. Answers the deleted tag. The only allowed tag of someone "
                       "(who without it would see every client) is kept: 409 until their allowed tags change.",
           conflict=True)
def admin_delete_client_tag(tag_id):
    tag = own_tag(tag_id)
    if tag is None:
        return no_tag()
    refusal = registry.delete_tag(g.api_user, tag, **audit_meta())
    if refusal:
        return error(409, "conflict", refusal)
    return jsonify(tag_json(tag))


@bp.get("/admin/clients")
@scope("read")
@needs_permission("clients.view")
@operation("Clients, as the Clients page shows them to the key's owner", {
    "type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": CLIENT_SCHEMA},
        "next_cursor": {"type": ["string", "null"], "pattern": "^[0-9]{1,19}$"}}},
    description="clients.view. Only the clients the owner may see (their allowed tags and countries), their "
                "name, e-mail and phone masked when the owner's data is masked, by id. Pass `next_cursor` "
                "back as `cursor` for the next page; it is null on the last.",
    query={"cursor": CURSOR, "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": PAGE_SIZE}})
def admin_clients():
    user, limit = g.api_user, g.api_query["limit"]
    rows = registry.visible_clients(user, after_id=g.api_query["cursor"], limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify({"items": registry.client_views(user, rows), "next_cursor": str(rows[-1].id) if more else None})

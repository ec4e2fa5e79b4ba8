"""The admin API for people (/api/v1/admin/users): the users page's list with its filters, one person,
create with an invitation, change, disable and delete. Each route needs the permission of its page
(users.view to read, users.edit to change) and goes through the page's own rules and code
(blueprints/admin/users.py, user_manage.py, services/user_admin.py and permissions.py: someone who stands
above the key's owner, the owner, the last enabled administrator); every change is audited as on the page, with via="api".

Not offered here: enabling a disabled person, resetting their 2FA or password, changing their IP
whitelist or e-mail address. Each weakens how someone signs in (or hands the sign-in to another
address), and SECURITY.md 30 asks for a password entered in the last REAUTH_MINUTES for those, which a
bearer key cannot give: they stay on the person's page."""
from flask import g, jsonify, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from models import Group, User
from services import audit, deletion, region
from services.user_admin import apply_details, create_person, details_problem, settings_of
from services.permissions import EVENT_CATALOG, above_you, stands_above

from blueprints.api.core import bp, error, needs_permission, scope
from blueprints.api.spec import error_fields, form_schema, operation
from blueprints.bounds import ID_MAX

LIST_MAX = 500  # ids or codes in one list field: more than any organization's groups, tags or countries
ID_LIST = {"type": "array", "maxItems": LIST_MAX, "items": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}
DETAIL_FIELDS = ("phone", "groups", "tags", "countries_except", "countries", "telegram_chat_id", "slack_chat_id",
                 "subscriptions", "mask_data", "role")
CREATE_FIELDS = ("full_name", "email", "phone", "groups", "tags", "countries_except", "countries")
KINDS = {"groups": "ids", "tags": "ids", "countries": "strings", "subscriptions": "strings",
         "countries_except": "boolean", "mask_data": "boolean", "user_id": "id", "permissions": "strings"}
NAME_PATTERN = r"^[0-9A-Za-z \u00c0-\u024f\u0400-\u04ff@._+'-]*$"  # letters of names and e-mail addresses


def meta():
    """The audit's request details, as the pages give them, and that the change came through the API."""
    from blueprints.admin.core import client_meta

    return {**client_meta(), "via": "api"}


def fits(value, kind):
    if kind == "ids":
        return isinstance(value, list) and len(value) <= LIST_MAX and all(fits(item, "id") for item in value)
    if kind == "id":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ID_MAX
    if kind == "strings":
        return isinstance(value, list) and len(value) <= LIST_MAX and all(isinstance(item, str) for item in value)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def read_body(fields):
    """(the JSON object, None) when it holds only `fields`, each of its kind; else (None, the error answer)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return None, error(400, "bad_request", _("Send a JSON object."))
    unknown = sorted(set(data) - set(fields))
    if unknown:
        return None, error(422, "unknown_field", _("These fields cannot be set: %(list)s.", list=", ".join(unknown)[:200]))
    messages = {"ids": _("Send a list of ids."), "id": _("Send an id."), "strings": _("Send a list of strings."),
                "boolean": _("Send true or false."), "string": _("Send a string.")}
    wrong = {name: [messages[KINDS.get(name, "string")]] for name, value in data.items()
             if not fits(value, KINDS.get(name, "string"))}
    return (None, error_fields(wrong)) if wrong else (data, None)


def formdata(values):
    """A MultiDict as a browser would post `values`: a list as repeated keys, true as "y", false left out."""
    pairs = []
    for name, value in values.items():
        if isinstance(value, list):
            pairs += [(name, str(item)) for item in value]
        elif value is True:
            pairs.append((name, "y"))
        elif value not in (False, None):
            pairs.append((name, str(value)))
    return MultiDict(pairs)


def form_errors(form, only=None):
    return {name: [str(m) for m in messages] for name, messages in form.errors.items() if only is None or name in only}


def own_user(user_id):
    """A person of the key owner's organization, or None (another organization's counts as none)."""
    return User.get_or_none(User.id == user_id, User.organization == g.api_user.organization_id)


def not_found():
    return error(404, "not_found", _("There is nothing here."))


def stamp(moment):
    return moment.isoformat() + "Z" if moment else None


def person_json(user, groups, tags, settings=None):
    """A person as the users list shows them; with `settings`, the details page's fields too."""
    out = {"id": user.id, "email": user.email, "full_name": user.full_name, "phone": user.phone,
           "status": user.status, "role": user.role, "two_factor": user.two_factor,
           "ip_allowlist": [line for line in user.ip_allowlist.splitlines() if line],
           "invitation_pending": user.invited_at is not None, "created_at": stamp(user.created_at),
           "created_by": user.created_by_id, "last_signin_at": stamp(user.last_signin_at),
           "groups": [{"id": x.id, "name": x.display_name} for x in groups],
           "tags": [{"id": t.id, "caption": t.caption} for t in tags]}
    if settings is not None:
        out.update(countries_except=settings.countries_except, countries=settings.country_list,
                   telegram_chat_id=settings.telegram_chat_id, slack_chat_id=settings.slack_chat_id,
                   subscriptions=settings.subscription_list, mask_data=settings.mask_data)
    return out


def person_answer(user_id, status=200, **extra):
    from blueprints.admin.userlist import row_details

    user = User.get_by_id(user_id)
    groups, tags, _creators = row_details([user])
    response = jsonify({**person_json(user, groups[user.id], tags[user.id], settings_of(user)), **extra})
    response.status_code = status
    return response


SUMMARY = {"id": {"type": "integer"}, "email": {"type": "string"}, "full_name": {"type": "string"},
           "phone": {"type": ["string", "null"]}, "status": {"type": "string", "enum": ["enabled", "disabled"]},
           "role": {"type": "string", "enum": ["owner", "admin", "employee"]},
           "two_factor": {"type": "string", "enum": ["off", "email", "totp"]},
           "ip_allowlist": {"type": "array", "items": {"type": "string"}},
           "invitation_pending": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
           "created_by": {"type": ["integer", "null"]},
           "last_signin_at": {"type": ["string", "null"], "format": "date-time"},
           "groups": {"type": "array", "items": {"type": "object", "required": ["id", "name"], "properties": {
               "id": {"type": "integer"}, "name": {"type": "string"}}}},
           "tags": {"type": "array", "items": {"type": "object", "required": ["id", "caption"], "properties": {
               "id": {"type": "integer"}, "caption": {"type": "string"}}}}}
DETAILS = {"countries_except": {"type": "boolean"}, "countries": {"type": "array", "items": {"type": "string"}},
           "telegram_chat_id": {"type": "string"}, "slack_chat_id": {"type": "string"},
           "subscriptions": {"type": "array", "items": {"type": "string"}}, "mask_data": {"type": "boolean"}}
PERSON = {"type": "object", "required": [*SUMMARY, *DETAILS], "properties": {**SUMMARY, **DETAILS}}
LISTING = {"type": "object", "required": ["items", "next_cursor"], "properties": {
    "items": {"type": "array", "items": {"type": "object", "required": list(SUMMARY), "properties": SUMMARY}},
    "next_cursor": {"type": ["string", "null"]}}}


def choice(*values, **extra):
    return {"type": "string", "enum": list(values), "pattern": "^(" + "|".join(values) + ")$", **extra}


@bp.get("/admin/users")
@scope("read")
@needs_permission("users.view")
@operation("The users list", LISTING,
           description="Permission users.view. The users page's filters and sort, 25 (`limit`) at a time: pass "
                       "`next_cursor` back as `cursor` for the next page (null on the last; a cursor that is not "
                       "one of ours starts again at the first). A group of another organization matches nobody.",
           query={"q": {"type": "string", "maxLength": 100, "pattern": NAME_PATTERN,
                        "description": "The start of a name or e-mail address"},
                  "status": choice("enabled", "disabled"), "two_factor": choice("off", "email", "totp"),
                  "invited": choice("true", "false", description="true: only invitations not yet accepted"),
                  "group": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
                  "sort": choice("created", "id", "name", "email", default="created"),
                  "dir": choice("asc", "desc", description="Default: desc for created, asc for the others"),
                  "cursor": {"type": "string", "maxLength": 600, "pattern": "^[A-Za-z0-9_-]+$"},
                  "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}})
def list_users():
    from blueprints.admin.userlist import row_details, users_page

    args, org = g.api_query, g.api_user.organization_id
    group = None
    if args["group"] is not None:
        group = Group.get_or_none(Group.id == args["group"], Group.organization == org)
        if group is None:
            return jsonify({"items": [], "next_cursor": None})
    sort = args["sort"]
    descending = (args["dir"] or ("desc" if sort == "created" else "asc")) == "desc"
    rows, _prev, next_cursor = users_page(
        org, q=(args["q"] or "").strip(), status=args["status"] or "", group=group, two_factor=args["two_factor"] or "",
        invited=args["invited"] == "true", sort=sort, descending=descending, after=args["cursor"], size=args["limit"])
    groups, tags, _creators = row_details(rows)
    return jsonify({"items": [person_json(row, groups[row.id], tags[row.id]) for row in rows], "next_cursor": next_cursor})


@bp.get("/admin/users/<int:user_id>")
@scope("read")
@needs_permission("users.view")
@operation("One person, as their page shows them", PERSON, description="Permission users.view.")
def get_user(user_id):
    user = own_user(user_id)
    return person_answer(user.id) if user else not_found()


def countries_schema():
    return {"type": "array", "maxItems": LIST_MAX, "items": {"type": "string", "enum": [c for c, _n in region.countries("en")]}}


def create_body():
    from blueprints.admin.users import CreateUserForm

    return form_schema((CreateUserForm,), CREATE_FIELDS, required=("full_name", "email"), overrides={
        "email": {"format": "email", "maxLength": 254},
        "phone": {"description": "With its country code; stored in E.164"},
        "groups": ID_LIST, "tags": {**ID_LIST, "description": "Allowed client tags"},
        "countries_except": {"type": "boolean"}, "countries": countries_schema(),
    }, example={"full_name": "Boris Ivanov", "email": "boris@example.com", "phone": "+7 912 345-67-89"})


@bp.post("/admin/users")
@scope("write")
@needs_permission("users.edit")
@operation("Create a person and mail them an invitation", {**PERSON, "required": [*PERSON["required"], "invitation_sent"],
           "properties": {**PERSON["properties"], "invitation_sent": {"type": "boolean"}}}, status=201, body=create_body,
           description="Permission users.edit. As the \"new user\" page with \"Send to email\": the person gets a link "
                       "to set their password (three days). `invitation_sent` is false when the mail could not be "
                       "sent (the person exists; resend it from their page). Groups whose permissions the key's owner "
                       "does not all hold (or Administrators, for a non-administrator): 403.")
def create_user():
    from blueprints.admin.users import CreateUserForm, hierarchy_problem, send_set_password_link

    data, problem = read_body(CREATE_FIELDS)
    if problem:
        return problem
    actor = g.api_user
    form = CreateUserForm(formdata=formdata(data), meta={"csrf": False}, organization_id=actor.organization_id)
    if not form.validate():
        return error_fields(form_errors(form))
    refusal = hierarchy_problem(form.groups.data, actor=actor)
    if refusal:
        return error(403, "forbidden", refusal)
    user = create_person(actor, form, meta())
    if user is None:
        return error_fields({"email": [_("A user with this e-mail already exists.")]})
    sent = send_set_password_link(user, invite=True, actor=actor)
    return person_answer(user.id, 201, invitation_sent=sent)


def update_body():
    from blueprints.admin.user_manage import IdentityForm
    from blueprints.admin.users import DetailsForm

    return form_schema((IdentityForm, DetailsForm), ("full_name", *DETAIL_FIELDS), overrides={
        "phone": {"description": "With its country code; empty removes it"},
        "groups": {**ID_LIST, "description": "The whole list: groups left out are left"},
        "tags": {**ID_LIST, "description": "Allowed client tags, the whole list"},
        "countries_except": {"type": "boolean"}, "countries": countries_schema(),
        "subscriptions": {"type": "array", "maxItems": LIST_MAX, "items": {"type": "string", "enum": list(EVENT_CATALOG)}},
        "mask_data": {"type": "boolean"},
        "role": {"type": "string", "enum": ["admin", "employee"], "description": "Only the owner changes roles"},
    }, example={"full_name": "Boris Ivanov", "phone": "+7 912 345-67-89", "subscriptions": ["user.created"]})


def details_of(user, actor, changes=None):
    """The details form of `user` as saved, with `changes` merged in as if posted."""
    from blueprints.admin.users import DetailsForm, details_data

    values = {**details_data(user), **(changes or {})}
    return DetailsForm(formdata=formdata(values), meta={"csrf": False}, target_role=user.role,
                       organization_id=actor.organization_id)


@bp.patch("/admin/users/<int:user_id>")
@scope("write")
@needs_permission("users.edit")
@operation("Change a person", PERSON, body=update_body, conflict=True,
           description="Permission users.edit. What the person's page changes, the fields sent only: name, phone, "
                       "groups, allowed client tags, countries, chat ids, event notifications, data masking, role. "
                       "Someone who stands above the key's owner, or a group whose permissions they do not all hold: "
                       "403. A role change by anyone but the owner, or taking the last enabled administrator out "
                       "of Administrators: 409. The status, IP whitelist and e-mail are not changed here (see the "
                       "API's README: they need a fresh password entry).")
def update_user(user_id):
    from blueprints.admin.user_manage import IdentityForm
    from blueprints.admin.users import hierarchy_problem

    user = own_user(user_id)
    if user is None:
        return not_found()
    data, problem = read_body(("full_name", *DETAIL_FIELDS))
    if problem:
        return problem
    actor = g.api_user
    if stands_above(user, actor):
        return error(403, "above_you", above_you(user))
    form = details_of(user, actor, {k: v for k, v in data.items() if k in DETAIL_FIELDS})
    identity = IdentityForm(formdata=MultiDict({"full_name": data.get("full_name", user.full_name), "email": user.email}),
                            meta={"csrf": False})
    form.validate(), identity.validate()
    errors = {**form_errors(form, only=data), **form_errors(identity, only=("full_name",) if "full_name" in data else ())}
    if errors:
        return error_fields(errors)
    if set(data) & set(DETAIL_FIELDS):
        refusal = hierarchy_problem(form.groups.data, target=user, actor=actor)
        if refusal:
            return error(403, "forbidden", refusal)
        conflict = details_problem(actor, user, form, request.remote_addr) or apply_details(actor, user, form, meta())
        if conflict:
            return error(409, "conflict", conflict)
    if "full_name" in data and identity.full_name.data != user.full_name:
        User.update(full_name=identity.full_name.data).where(User.id == user.id).execute()
        audit.record("user.updated", actor=actor, target=user.email, fields=["full_name"], **meta())
    return person_answer(user.id)


@bp.post("/admin/users/<int:user_id>/disable")
@scope("write")
@needs_permission("users.edit")
@operation("Disable a person", PERSON, conflict=True,
           description="Permission users.edit. As setting the status on the person's page: they are signed out "
                       "everywhere at once. Someone who stands above the key's owner (the owner, for anyone else): "
                       "403; the key's owner themself or the last enabled administrator: 409. Already disabled: "
                       "200, nothing changes. Enabling is not offered here: it gives someone their sign-in back, "
                       "which needs a fresh password entry on the person's page (SECURITY.md 30).")
def disable_user(user_id):
    user = own_user(user_id)
    if user is None:
        return not_found()
    actor = g.api_user
    if stands_above(user, actor):
        return error(403, "above_you", above_you(user))
    if user.status != "disabled":
        form = details_of(user, actor, {"status": "disabled"})
        form.validate()  # the saved values, the status aside: only coerces them as the page's post would
        conflict = details_problem(actor, user, form, request.remote_addr) or apply_details(actor, user, form, meta())
        if conflict:
            return error(409, "conflict", conflict)
    return person_answer(user.id)


@bp.delete("/admin/users/<int:user_id>")
@scope("write")
@needs_permission("users.edit")
@operation("Delete a person", {"type": "object", "required": ["id", "deleted"], "properties": {
    "id": {"type": "integer"}, "deleted": {"type": "boolean"}}}, conflict=True,
           description="Permission users.edit. As the person's page does: their personal data is erased and their "
                       "events stay in the log as deleted-user-<id>. Someone who stands above the key's owner: 403; "
                       "the key's owner themself, the only owner or the last enabled administrator: 409.")
def delete_user(user_id):
    from blueprints.admin.user_manage import deletion_problem

    user = own_user(user_id)
    if user is None:
        return not_found()
    actor = g.api_user
    if stands_above(user, actor):
        return error(403, "above_you", above_you(user))
    conflict = deletion_problem(user, actor)
    if conflict:
        return error(409, "conflict", conflict)
    deletion.erase_user(user)
    audit.record("user.deleted", actor=actor, target=f"deleted-user-{user_id}", **meta())
    return jsonify({"id": user_id, "deleted": True})

"""Client tags (add, rename, delete) and the client registry: list and JSON with tag/country
visibility and masking, CSV import."""
from babel import Locale
from flask import abort, flash, jsonify, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import ValidationError

from extensions import locale_code
from models import ClientTag
from services import audit, operations, region, results
from services import clients as registry
from services.clients import ImportErrors, client_views, import_clients, parse_clients_csv, visible_clients
from services.permissions import has_permission, permission_required

from blueprints import render, see_other
from blueprints.bounds import bounded_id
from blueprints.forms import Form, max_length, required
from blueprints.admin.core import bp, client_meta, me, own

CSV_MAX_BYTES = 2 * 1024 * 1024
PAGE_SIZE = 50


class TagForm(Form):
    caption = StringField(_l("Caption"), validators=[required(), max_length(60)])

    def __init__(self, *args, tag=None, organization_id=None, **kwargs):
        """`organization_id`: whose tags a caption may not repeat (default: the signed-in person's; the API
        passes its key owner's)."""
        self.tag = tag
        self.organization_id = organization_id or me().organization_id
        super().__init__(*args, **kwargs)

    def validate_caption(self, field):
        clash = ClientTag.select().where(ClientTag.organization == self.organization_id, ClientTag.caption == field.data)
        if self.tag is not None:
            clash = clash.where(ClientTag.id != self.tag.id)
        if clash.exists():
            raise ValidationError(_l("A tag with this caption already exists."))


class ClientImportForm(Form):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a file."))])


def tags_page(form=None, edit=None, edit_form=None, status=200, notice=None):
    return render(
        "admin/client_tags.html",
        block="tags_card",
        status=status,
        notice=notice,
        tags=registry.organization_tags(me().organization_id),
        form=form or TagForm(formdata=None),
        edit=edit,
        edit_form=edit_form or (TagForm(formdata=None, tag=edit, data={"caption": edit.caption}) if edit else None),
    )


@bp.get("/client-tags")
@permission_required("tags.manage")
def client_tags():
    edit = None
    if bounded_id(request.args.get("edit")):
        edit = own(ClientTag, bounded_id(request.args["edit"]))
    return tags_page(edit=edit)


@bp.post("/client-tags")
@permission_required("tags.manage")
def create_tag():
    form = TagForm()
    tag = registry.add_tag(me(), form, **client_meta())  # checked and added under the organization's lock
    if tag is None:
        return tags_page(form=form, status=422)
    flash(_("Tag “%(caption)s” added.", caption=tag.caption), "success")
    return see_other(url_for("admin.client_tags"))


@bp.post("/client-tags/<int:tag_id>")
@permission_required("tags.manage")
def rename_tag(tag_id):
    tag = own(ClientTag, tag_id)
    form = TagForm(tag=tag)
    if not registry.rename_tag(me(), tag, form, **client_meta()):  # checked and renamed at once, as when added
        return tags_page(edit=tag, edit_form=form, status=422)
    flash(_("Tag renamed to “%(caption)s”.", caption=form.caption.data), "success")
    return see_other(url_for("admin.client_tags"))


@bp.post("/client-tags/<int:tag_id>/delete")
@permission_required("tags.manage")
def delete_tag(tag_id):
    tag = own(ClientTag, tag_id)
    if not Form().validate_on_submit():
        abort(400)
    refusal = registry.delete_tag(me(), tag, **client_meta())
    if refusal:
        return tags_page(status=409, notice=refusal)
    flash(_("Tag “%(caption)s” deleted.", caption=tag.caption), "success")
    return see_other(url_for("admin.client_tags"))


# --- clients --------------------------------------------------------------------------------


def after_param():
    return bounded_id(request.args.get("after"))


def country_codes():
    return {code for code in Locale("en").territories if len(code) == 2 and code.isalpha()}


def clients_page(import_form=None, import_errors=None, status=200, block="clients_table"):
    user = me()
    rows = visible_clients(user, after_id=after_param(), limit=PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(
        "admin/clients.html",
        block=block,
        status=status,
        clients=client_views(user, rows),
        next_after=rows[-1].id if more else None,
        first_page=after_param() is None,
        can_import=has_permission(user, "clients.import"),
        import_form=import_form or ClientImportForm(formdata=None),
        import_errors=import_errors,
        country_names=dict(region.countries(locale_code())),
    )


@bp.get("/clients")
@permission_required("clients.view")
def clients():
    return clients_page()


@bp.get("/clients.json")
@permission_required("clients.view")
def clients_json():
    """The same list for scripts: visibility and masking apply exactly as on the page."""
    user = me()
    rows = visible_clients(user, after_id=after_param(), limit=PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return jsonify({"clients": client_views(user, rows), "next_after": rows[-1].id if more else None})


@bp.post("/clients/import")
@permission_required("clients.import")
def import_clients_csv():
    form = ClientImportForm()
    if not form.validate_on_submit():
        return clients_page(import_form=form, status=422, block="import_card")
    raw = form.file.data.read(CSV_MAX_BYTES + 1)
    try:
        if len(raw) > CSV_MAX_BYTES:
            raise ImportErrors([(0, _("The file is larger than 2 MB."))])
        rows = parse_clients_csv(raw, me().organization_id, country_codes())
    except ImportErrors as problem:
        return clients_page(import_form=form, import_errors=problem.errors, status=422, block="import_card")
    operation = operations.start_operation(me(), "client_import")
    operations.set_progress(operation, 0)
    try:
        count = import_clients(me().organization_id, rows)
    except ImportErrors as problem:
        operations.fail_operation(operation, results.stored_message("import_failed"))
        return clients_page(import_form=form, import_errors=problem.errors, status=422, block="import_card")
    except Exception:
        operations.fail_operation(operation, results.stored_message("import_failed"))
        raise
    audit.record("clients.imported", actor=me(), target=form.file.data.filename or "", count=count, **client_meta())
    result = results.stored_message("clients_imported", count=count)
    operations.finish_operation(operation, result=result, result_url=url_for("admin.clients"))
    flash(results.message_text(result), "success")
    return see_other(url_for("admin.clients"))

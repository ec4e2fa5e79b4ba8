"""The organization's file manager: list, upload within the quota, download, rename, delete."""
import peewee as pw
from flask import abort, current_app, flash, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import StringField

from blueprints import render, see_other, wants_fragment
from blueprints.forms import (
    Form,
    max_length,
    required,
)
from blueprints.organization.account import MAX_ID, bp, client_meta, me, own
from models import (
    StoredFile,
)
from services import audit, files
from services.permissions import permission_required


class RenameForm(Form):
    name = StringField(_l("New name"), validators=[required(), max_length(files.NAME_MAX)])


FILES_PER_PAGE = 50


def files_page(error=None, status=200, renaming=None, rename_form=None, notice=None, before=None):
    """The list, newest first, FILES_PER_PAGE at a time (keyset on (created_at, id) after the file `before`).
    While a file is renamed the page starts at that file, so its form is always on screen."""
    cfg = current_app.config
    org_id = current_user.organization_id
    query = StoredFile.select().where(StoredFile.organization == org_id)
    start = renaming or before
    last = StoredFile.select(StoredFile.created_at).where(
        StoredFile.organization == org_id, StoredFile.id == start).scalar() if start and 0 < start < MAX_ID else None
    if last is not None:
        position = pw.Tuple(StoredFile.created_at, StoredFile.id)
        query = query.where(position <= pw.Tuple(last, start) if renaming else position < pw.Tuple(last, start))
    rows = list(query.order_by(StoredFile.created_at.desc(), StoredFile.id.desc()).limit(FILES_PER_PAGE + 1))
    next_url = url_for("account.file_list", before=rows[FILES_PER_PAGE - 1].id) if len(rows) > FILES_PER_PAGE else None
    return render("account/files.html", block="files", status=status, rows=rows[:FILES_PER_PAGE], error=error,
                  notice=notice, used=files.used_bytes(org_id), quota=cfg["FILES_QUOTA_BYTES"],
                  max_bytes=cfg["FILES_MAX_BYTES"], human_size=files.human_size, allowed=files.ALLOWED_LIST,
                  renaming=renaming, rename_form=rename_form or RenameForm(), form=Form(), next_url=next_url,
                  first_url=url_for("account.file_list") if before and last is not None else None)


def files_done(message):
    """After a change: htmx gets the refreshed list with the message in it; a plain form, redirect and flash."""
    if wants_fragment():
        return files_page(notice=message)
    flash(message, "success")
    return see_other(url_for("account.file_list"))


@bp.get("/files")
@permission_required("files.manage")
def file_list():
    return files_page(before=request.args.get("before", type=int))


@bp.post("/files")
@permission_required("files.manage")
def upload_file():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return files_page(_("Choose a file to upload."), 422)
    try:
        stored = files.save_upload(current_app.config, current_user.organization_id, me(), upload.stream,
                                   upload.filename)
    except files.FileRejected as exc:
        return files_page(str(exc.message), exc.status)
    audit.record("file.uploaded", actor=me(), target=stored.name, size=stored.size, **client_meta())
    return files_done(_("Uploaded %(name)s.", name=stored.name))


@bp.get("/files/<int:file_id>/download")
@permission_required("files.manage")
def download_file(file_id):
    stored = own(StoredFile, file_id)
    path = files.path_of(current_app.config, stored)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=files.MIME_TYPES[stored.kind], as_attachment=True, download_name=stored.name,
                     max_age=0)


@bp.route("/files/<int:file_id>/rename", methods=["GET", "POST"])
@permission_required("files.manage")
def rename_file(file_id):
    stored = own(StoredFile, file_id)
    form = RenameForm(data={"name": stored.name} if request.method == "GET" else None)
    if request.method == "GET":
        return files_page(renaming=stored.id, rename_form=form)
    if form.validate_on_submit():
        old = stored.name
        try:
            files.rename(stored, form.name.data)
        except files.FileRejected as exc:
            form.name.errors.append(exc.message)
        else:
            audit.record("file.renamed", actor=me(), target=stored.name, old=old, **client_meta())
            return files_done(_("Renamed to %(name)s.", name=stored.name))
    return files_page(renaming=stored.id, rename_form=form, status=422)


@bp.post("/files/<int:file_id>/delete")
@permission_required("files.manage")
def delete_file(file_id):
    stored = own(StoredFile, file_id)
    if not Form().validate_on_submit():
        abort(400)
    files.delete(current_app.config, stored)
    audit.record("file.deleted", actor=me(), target=stored.name, **client_meta())
    return files_done(_("Deleted %(name)s.", name=stored.name))

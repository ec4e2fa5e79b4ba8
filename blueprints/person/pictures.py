"""Profile pictures (seed 004): each person uploads or removes only their own, on the personal-data
page; anyone of the same organization can load them (top bar, events log) by a content-hashed URL."""
from flask import abort, flash, g, make_response, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField

from services import audit, avatars

from blueprints import render, render_blocks, see_other, wants_fragment

from blueprints.uploads import limit_upload
from blueprints.forms import Form
from blueprints.person.profile import PAGE, bp, me, page_context
from blueprints.auth import client_meta

TOO_LARGE = "too-large"  # ?picture= on the personal-data page: the message at the picture field
limit_upload("profile.upload_picture", lambda config: avatars.MAX_BYTES, lambda config: avatars.too_large_message(),
             page=lambda: url_for("profile.personal_data", picture=TOO_LARGE, _anchor="picture-block"))


class PictureForm(Form):
    picture = FileField(_l("Picture"))


def avatar_digest(user_id):
    """The digest of a person's picture, or None; looked up once per request and person."""
    cache = g.setdefault("_avatar_digests", {})
    if user_id not in cache:
        cache.update(dict.fromkeys([user_id]))
        cache.update(avatars.digests([user_id]))
    return cache[user_id]


def preload_avatars(user_ids):
    """One query for the pictures of everyone on a page (events log), before the template asks."""
    cache = g.setdefault("_avatar_digests", {})
    wanted = [i for i in set(user_ids) if i and i not in cache]
    cache.update(dict.fromkeys(wanted))
    cache.update(avatars.digests(wanted))


def avatar_url(user, size="small"):
    """The picture's URL for an <img>, or None (then the template shows the initials)."""
    if user is None or not getattr(user, "id", None):
        return None
    digest = avatar_digest(user.id)
    if not digest:
        return None
    return url_for("profile.picture", user_id=user.id, size=size, digest=digest)


@bp.record_once
def template_helpers(state):
    """Globals (not context variables), so the `avatar` macro in _macros.html sees them when imported."""
    state.app.jinja_env.globals.update(avatar_url=avatar_url, initials=avatars.initials)


def picture_answer(status=200, error=None, message=None):
    """The picture block (and the top bar's avatar out of band) for htmx; otherwise the page."""
    user = me()
    g.pop("_avatar_digests", None)  # the picture may just have changed
    context = {"picture_error": error, "picture_message": message}
    if wants_fragment():
        html = render_blocks(PAGE, ["picture_block", "topbar_avatar"], oob=True, user=user, **context)
        return make_response(html, status)
    return render(PAGE, status=status, **page_context(user, **context))


@bp.post("/personal-data/picture")
def upload_picture():
    form = PictureForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.picture.data
    raw = upload.read(avatars.MAX_BYTES + 1) if upload else b""
    try:
        avatars.save_picture(me(), raw)
    except avatars.PictureRejected as problem:
        return picture_answer(problem.status, error=problem.message)
    audit.record("profile.picture_changed", actor=me(), target=me().email, **client_meta())
    if wants_fragment():
        return picture_answer(message=_("Picture saved."))
    flash(_("Picture saved."), "success")
    return see_other(url_for(".personal_data"))


@bp.post("/personal-data/picture/delete")
def delete_picture():
    if not Form().validate_on_submit():
        abort(400)
    if avatars.remove_picture(me()):
        audit.record("profile.picture_removed", actor=me(), target=me().email, **client_meta())
    if wants_fragment():
        return picture_answer(message=_("Picture removed."))
    flash(_("Picture removed."), "success")
    return see_other(url_for(".personal_data"))


@bp.get("/pictures/<int:user_id>/<any(large, small):size>/<digest>")
def picture(user_id, size, digest):
    """The picture's bytes; the URL names the content, so browsers keep it for a year."""
    if user_id >= 2**63:
        abort(404)
    avatar = avatars.picture_of(user_id, current_user.organization_id)
    if avatar is None or avatar.digest != digest:
        abort(404)
    data = avatar.image if size == "large" else (avatar.small or avatar.image)
    response = make_response(bytes(data))
    response.headers["Content-Type"] = avatars.MIME.get(avatar.format, "application/octet-stream")
    # private: only people of the organization may load it, so shared caches must not keep it.
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.set_etag(f"{digest}-{size}")
    return response.make_conditional(request)

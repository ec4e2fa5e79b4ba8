"""A person's open sessions on their back-office page (/admin/users/<id>): device, address, last
activity, with "End" for one and "End all". Ending needs `users.edit` and a person who does not stand
above the actor (SECURITY.md 29); each is audited. Plain forms; with htmx the section is swapped in
place. The list is the security center's (`open_sessions`), the device name `services/useragent`."""
from flask import abort, flash, g, url_for
from flask_babel import gettext as _

from models import User, UserSession
from services import audit, sessions
from services.permissions import above_you, has_permission, permission_required, stands_above
from services.useragent import describe

from blueprints import render, see_other, wants_fragment
from blueprints.forms import Form
from blueprints.person.security import MAX_ID
from blueprints.person.sessions import open_sessions
from blueprints.admin.core import bp, client_meta, me, own


@bp.app_template_global()
def admin_sessions_of(user):
    """What the sessions section of `user`'s back-office page shows: their open sessions and whether
    the viewer may end them."""
    viewer = me()
    return {
        "sessions": open_sessions(user),
        "can_end": has_permission(viewer, "users.edit") and not stands_above(user, viewer),
        "current_id": g.user_session.id if g.get("user_session") is not None else None,
        "describe_device": describe,
    }


def section(user, notice=None, status=200):
    """The section alone for htmx, else back to the person's page with the notice flashed."""
    if wants_fragment():
        return render("admin/_user_sessions.html", status=status, user=user, sessions_notice=notice,
                      sessions_error=status >= 400, **admin_sessions_of(user))
    if notice:
        flash(notice, "error" if status >= 400 else "success")
    return see_other(url_for("admin.user", user_id=user.id, _anchor="user-sessions"))


def refused(user):
    """The answer when the actor may not end `user`'s sessions, or None."""
    if not Form().validate_on_submit():
        abort(400)
    if stands_above(user, me()):
        return section(user, above_you(user), status=403)
    return None


@bp.post("/users/<int:user_id>/sessions/<int:session_id>/end")
@permission_required("users.edit")
def end_user_session(user_id, session_id):
    user = own(User, user_id)
    answer = refused(user)
    if answer is not None:
        return answer
    record = UserSession.get_or_none(UserSession.id == session_id, UserSession.user == user.id) if session_id <= MAX_ID else None
    if record is None or record.ended_at is not None:
        return section(user, _("This session has already ended."), status=404)
    if g.get("user_session") is not None and record.id == g.user_session.id:
        return section(user, _("This is the session you are using: sign out to end it."), status=409)
    sessions.end_session(record)
    audit.record("user.session_ended", actor=me(), target=user.email, session=record.id, **client_meta())
    return section(user, _("The session has ended."))


@bp.post("/users/<int:user_id>/sessions/end-all")
@permission_required("users.edit")
def end_user_sessions(user_id):
    user = own(User, user_id)
    answer = refused(user)
    if answer is not None:
        return answer
    keep = g.get("user_session") if user.id == me().id else None  # one's own: all but this one
    count = sessions.end_sessions(user, keep=keep)
    audit.record("user.sessions_ended", actor=me(), target=user.email, count=count, **client_meta())
    return section(user, _("Sessions ended: %(n)d.", n=count))

"""A person's open sessions and sign-in history, and the IP allowlists (the person's and the organization's)."""
from datetime import timedelta

from flask import abort, current_app, flash, g, request, url_for
from flask_babel import gettext as _

from blueprints import render, see_other
from blueprints.auth import client_meta
from blueprints.bounds import bounded_id
from blueprints.person.security import (
    ADMIN_ROLES,
    AllowlistForm,
    bp,
    me,
    overview_context,
    owned_or_404,
)
from models import AuditEvent, Organization, User, UserSession, utcnow
from services import audit, ipallow
from services import sessions as sessions_service

HISTORY_ACTIONS = ("signin", "signin.failed", "signin.blocked")


HISTORY_PAGE = 20


def open_sessions(user):
    cfg = current_app.config
    now = utcnow()
    return list(
        UserSession.select()
        .where(
            UserSession.user == user,
            UserSession.ended_at.is_null(),
            UserSession.last_seen_at > now - timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]),
            UserSession.created_at > now - timedelta(hours=cfg["SESSION_ABSOLUTE_HOURS"]),
        )
        .order_by(UserSession.last_seen_at.desc())
    )


def sessions_page(user, status=200):
    return render("security/sessions.html", block="sessions_table", status=status,
                  sessions=open_sessions(user), current_id=g.user_session.id)


@bp.get("/sessions")
def sessions():
    return sessions_page(me())


@bp.post("/sessions/<int:session_id>/end")
def end_session(session_id):
    user = me()
    record = owned_or_404(UserSession, session_id, UserSession.user == user)
    if record.ended_at is not None:
        abort(404)
    sessions_service.end_session(record)
    audit.record("session.ended", actor=user, target=record.ip, session=record.id, **client_meta())
    if record.id == g.user_session.id:
        return see_other(url_for("auth.login"))
    flash(_("The session has ended."), "success")
    return see_other(url_for("security.sessions"))


@bp.post("/sessions/end-others")
def end_other_sessions():
    user = me()
    count = sessions_service.end_sessions(user, keep=g.user_session)
    audit.record("session.ended_others", actor=user, count=count, **client_meta())
    flash(_("All other sessions have ended."), "success")
    return see_other(url_for("security.sessions"))


@bp.get("/history")
def history():
    """Sign-in successes and failures, newest first, 20 a page by keyset (cost independent of depth)."""
    user = me()
    query = AuditEvent.select().where(AuditEvent.actor == user, AuditEvent.action.in_(HISTORY_ACTIONS))
    before = bounded_id(request.args.get("before"))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    events = list(query.order_by(AuditEvent.id.desc()).limit(HISTORY_PAGE + 1))
    more = len(events) > HISTORY_PAGE
    events = events[:HISTORY_PAGE]
    return render("security/history.html", block="history_rows", events=events,
                  next_before=events[-1].id if more else None)


def save_allowlist(form, scope, block):
    """Save the person's or the organization's list; sessions from outside it end at once."""
    user = me()
    organization = user.organization
    if not form.validate_on_submit():
        return render("security/index.html", block=block, status=422, **overview_context(user, **{f"{scope}_form": form}))
    text = ipallow.normalized(form.entries.data)
    ip = request.remote_addr or ""
    new_lists = (text, None) if scope == "user" else (None, text)
    if not ipallow.sign_in_allowed(user, ip, *new_lists) and not form.confirm.data:
        form.confirm_needed = True
        form.form_errors.append(
            _("Your current address %(ip)s is not in this list: saving it signs you out and you cannot sign in "
              "again from here. Tick the box below to save it anyway.", ip=ip)
        )
        return render("security/index.html", block=block, status=409, **overview_context(user, **{f"{scope}_form": form}))
    if scope == "user":
        User.update(ip_allowlist=text).where(User.id == user.id).execute()
        people = [User.get_by_id(user.id)]
    else:
        Organization.update(ip_allowlist=text).where(Organization.id == organization.id).execute()
        people = list(User.select().where(User.organization == organization.id))
    ended = sessions_service.end_sessions_outside(people)
    audit.record("ip_allowlist.changed", actor=user, target=scope, entries=len(ipallow.entries(text)),
                 sessions_ended=ended, **client_meta())
    flash(_("The list of allowed addresses is saved."), "success")
    if g.user_session.id in ended:
        flash(_("Your address is not in the list, so you have been signed out."), "info")
        return see_other(url_for("auth.login"))
    return see_other(url_for("security.index"))


@bp.post("/allowlist")
def user_allowlist():
    return save_allowlist(AllowlistForm(prefix="user"), "user", "user_allowlist_form")


@bp.post("/organization/allowlist")
def organization_allowlist():
    if me().role not in ADMIN_ROLES:
        abort(403)
    return save_allowlist(AllowlistForm(prefix="org"), "org", "org_allowlist_form")

"""Impersonation ("Sign in as"): an administrator opens a session as another person of their
organization. The administrator's own session stays open on the server; an `Impersonation` row ties
the two, so the administrator's return, the end of either session and the audit trail all follow
from the database, not from what the browser says."""
from datetime import datetime

from models import Impersonation, User, UserSession, db

from . import audit
from .permissions import is_administrator, permissions_of
from .sessions import end_session, start_session
from .tokens import digest

# Sessions opened by "Sign in as" never count as a recent password entry (SECURITY.md 11).
NEVER_REAUTHENTICATED = datetime(2000, 1, 1)


class Refused(Exception):
    """The administrator may not sign in as this person; `message` says why (translated)."""

    def __init__(self, message, status=403):
        super().__init__(str(message))
        self.message = message
        self.status = status


def check_allowed(admin, target):
    """Raise Refused unless `admin` may sign in as `target` (same organization, checked by the caller)."""
    from flask_babel import gettext as _

    if target.organization_id != admin.organization_id:
        raise Refused(_("This page does not exist."), 404)
    if target.id == admin.id:
        raise Refused(_("You are already signed in as yourself."), 409)
    if not target.is_active:
        raise Refused(_("This user is disabled; enable them before signing in as them."), 409)
    if is_administrator(target):
        raise Refused(_("You cannot sign in as a member of the Administrators group."))
    if target.role == "owner":
        raise Refused(_("You cannot sign in as the organization's owner."))
    # No way up: the person acted as may not hold a permission the administrator lacks.
    if not permissions_of(target) <= permissions_of(admin):
        raise Refused(_("You cannot sign in as someone who has permissions you do not have."))


def start(admin, admin_session, target, ip="", user_agent=""):
    """Open a session as `target` for `admin` (whose current session is `admin_session`).

    Returns the new session's secret for the cookie; the administrator's session stays open."""
    check_allowed(admin, target)
    with db.atomic():
        secret = start_session(target, ip=ip, user_agent=user_agent)
        record = UserSession.get(UserSession.token_hash == digest(secret))
        UserSession.update(reauth_at=NEVER_REAUTHENTICATED).where(UserSession.id == record.id).execute()
        Impersonation.create(session=record, admin=admin, admin_session=admin_session)
        audit.record("impersonation.started", actor=admin, target=target.email, ip=ip, user_agent=user_agent,
                     user_id=target.id)
    return secret


def of_session(session_record):
    """The Impersonation behind this (impersonated) session, with its administrator, or None."""
    return (
        Impersonation.select(Impersonation, User)
        .join(User, on=(Impersonation.admin == User.id))
        .where(Impersonation.session == session_record.id)
        .get_or_none()
    )


def still_valid(impersonation, admin_secret, admin_session_record):
    """The administrator's side still holds: their session is the one recorded, open, and they may still do it."""
    return (
        admin_session_record is not None
        and admin_secret is not None
        and admin_session_record.id == impersonation.admin_session_id
        and admin_session_record.token_hash == digest(admin_secret)
        and impersonation.admin.is_active
        and "users.impersonate" in permissions_of(impersonation.admin)
    )


def stop(impersonation, session_record, ip="", user_agent=""):
    """End the impersonated session (the administrator's own goes on)."""
    with db.atomic():
        end_session(session_record)
        audit.record("impersonation.ended", actor=session_record.user, impersonator=impersonation.admin,
                     target=session_record.user.email, ip=ip, user_agent=user_agent)

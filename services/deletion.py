""""Delete my account": a request with a grace period that signing in cancels, then a scheduler job
that erases the person and anonymises what must stay (audit events keep an anonymised actor)."""
import json
import re
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from models import AuditEvent, DeletionRequest, User, db, utcnow, write_transaction

from . import audit, sessions
from .export import delete_user_exports


class DeletionRefused(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def pending_request(user):
    return DeletionRequest.get_or_none(DeletionRequest.user == user.id, DeletionRequest.cancelled_at.is_null())


def is_last_owner(user):
    """True when no other enabled owner would be left in the organization."""
    if user.role != "owner":
        return False
    return not User.select().where(
        User.organization == user.organization_id, User.role == "owner", User.status == "enabled", User.id != user.id
    ).exists()


def request_deletion(user, days, **meta):
    """Schedule the erasure of `user` in `days` days and end their sessions; raise DeletionRefused."""
    if is_last_owner(user):
        raise DeletionRefused(
            _l("You are the organization's last owner. Make someone else an owner before deleting your account.")
        )
    with write_transaction((User, user.id)):
        existing = pending_request(user)
        if existing:
            return existing
        request = DeletionRequest.create(user=user, erase_after=utcnow() + timedelta(days=days))
        sessions.end_sessions(user)
        audit.record("account.deletion_requested", actor=user, target=user.email, **meta)
    return request


def cancel_on_sign_in(user, **meta):
    """Called by sign-in: signing in during the grace period cancels the deletion. True when it did."""
    changed = DeletionRequest.update(cancelled_at=utcnow()).where(
        DeletionRequest.user == user.id, DeletionRequest.cancelled_at.is_null()
    ).execute()
    if changed:
        audit.record("account.deletion_cancelled", actor=user, target=user.email, **meta)
    return bool(changed)


# The person's own events whose target (or "old" detail) is one of their identifiers: addresses, numbers, IPs.
IDENTIFYING_ACTIONS = ("email.change_requested", "email.changed", "email.change_cancelled", "phone.code_sent",
                       "phone.verified", "phone.code_failed", "session.ended")


def identifiers(user):
    """Every e-mail address, phone number and IP of `user` that the audit trail may hold as text."""
    found = {user.email, user.phone or ""}
    own = AuditEvent.select(AuditEvent.target, AuditEvent.details).where(
        AuditEvent.actor == user.id, AuditEvent.action.in_(IDENTIFYING_ACTIONS))
    for event in own:
        found.add(event.target)
        try:
            details = json.loads(event.details or "{}")
        except ValueError:
            details = {}
        if isinstance(details, dict) and isinstance(details.get("old"), str):
            found.add(details["old"])
    # Short values ("", a stray "1") would match inside unrelated text.
    return sorted((value for value in found if len(value) >= 5), key=len, reverse=True)


def anonymise_events(user, anonymous):
    """Audit events keep what happened but not who: the person's own events lose the link, IP and
    browser; any event that names them (as target or in its details) names `anonymous` instead."""
    values = identifiers(user)  # before the events lose their link to the person
    AuditEvent.update(actor=None, ip="", user_agent="").where(AuditEvent.actor == user.id).execute()
    AuditEvent.update(impersonator=None).where(AuditEvent.impersonator == user.id).execute()
    for value in values:
        naming = AuditEvent.select().where(
            (AuditEvent.organization == user.organization_id) | AuditEvent.organization.is_null(),
            AuditEvent.target.contains(value) | AuditEvent.details.contains(value),
        )
        for event in naming:
            AuditEvent.update(
                target=replace_ci(event.target, value, anonymous)[:200],
                details=replace_ci(event.details, value, anonymous),
            ).where(AuditEvent.id == event.id).execute()


def replace_ci(text, value, replacement):
    """`text` with every occurrence of `value` replaced, ignoring case (e-mail addresses are stored lower-cased,
    but a detail may keep what was typed)."""
    return re.sub(re.escape(value), replacement, text or "", flags=re.IGNORECASE)


def erase_user(user, config=None):
    """Erase `user`: audit events they appear in are kept without their identity; everything that
    points at them is removed by the database (CASCADE) or loses the link (SET NULL)."""
    config = config or current_app.config
    anonymous = f"deleted-user-{user.id}"
    with db.atomic():
        anonymise_events(user, anonymous)
        delete_user_exports(config, user.id)
        audit.record("account.erased", organization=user.organization_id, target=anonymous)
        user.delete_instance()


def erase_due_accounts():
    """Scheduler job: erase every person whose grace period is over (and who is still not the last owner)."""
    erased = 0
    due = DeletionRequest.select().where(DeletionRequest.cancelled_at.is_null(), DeletionRequest.erase_after <= utcnow())
    for request in due:
        user = User.get_or_none(User.id == request.user_id)
        if user is None:
            continue
        if is_last_owner(user):  # became the last owner meanwhile: keep the account, cancel the request
            DeletionRequest.update(cancelled_at=utcnow()).where(DeletionRequest.id == request.id).execute()
            continue
        erase_user(user)
        erased += 1
    return erased

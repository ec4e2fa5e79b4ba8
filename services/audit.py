"""The audit trail: every security-relevant change writes one event."""
import json

from models import AuditEvent


def current_impersonator():
    """The administrator behind this request when it runs under "Sign in as", else None."""
    from flask import g, has_app_context

    return g.get("impersonator") if has_app_context() else None


def record(action, actor=None, target="", organization=None, ip="", user_agent="", impersonator=None, **details):
    """Write an audit event; `details` must never hold secrets.

    Under "Sign in as" the event names both people: `actor` (the person acted as) and the
    administrator as `impersonator` (taken from the request unless given)."""
    if organization is None and actor is not None:
        organization = actor.organization_id
    if impersonator is None:
        impersonator = current_impersonator()
    event = AuditEvent.create(
        action=action,
        actor=actor,
        impersonator=impersonator,
        organization=organization,
        target=str(target)[:200],
        details=json.dumps(details, ensure_ascii=False, default=str) if details else "",
        ip=(ip or "")[:45],
        user_agent=(user_agent or "")[:300],
    )
    from services import webhooks  # the actions listed in webhooks.AUDIT_EVENTS also go out as webhook events

    webhooks.emit_for_audit(action, organization, actor, target, details)
    return event

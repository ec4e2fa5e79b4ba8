"""The audit trail: every security-relevant change writes one event."""
import json

from models import AuditEvent


def record(action, actor=None, target="", organization=None, ip="", user_agent="", **details):
    """Write an audit event; `details` must never hold secrets."""
    if organization is None and actor is not None:
        organization = actor.organization_id
    return AuditEvent.create(
        action=action,
        actor=actor,
        organization=organization,
        target=str(target)[:200],
        details=json.dumps(details, ensure_ascii=False, default=str) if details else "",
        ip=(ip or "")[:45],
        user_agent=(user_agent or "")[:300],
    )

"""Where a person is told to contact support: their organization's support e-mail, phone and page,
each falling back to the instance's SUPPORT_EMAIL / SUPPORT_PHONE / SUPPORT_URL (config)."""
from flask import current_app


def support_contacts(organization=None):
    """{"email", "phone", "url"} (each possibly ""), the organization's own before the instance's."""
    config = current_app.config
    found = {}
    for name in ("email", "phone", "url"):
        own = getattr(organization, f"support_{name}", "") if organization is not None else ""
        found[name] = own or config.get(f"SUPPORT_{name.upper()}", "") or ""
    return found

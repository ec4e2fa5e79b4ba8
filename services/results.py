"""A job's result or error as stored: what happened (a message key and its figures), worded in the reader's
language when shown. The list of operations, the notification and the mail each read it in their reader's
language; text stored before (or given as plain text) shows as it is."""
import json

from flask_babel import gettext, ngettext


def _export_ready(figures):
    from services.files import human_size

    return gettext("Your data is ready: %(size)s.", size=human_size(int(figures["bytes"])))


# What a job's result or error says, by its key; each takes the stored figures.
MESSAGES = {
    "clients_imported": lambda f: ngettext("%(num)d client imported.", "%(num)d clients imported.", int(f["count"])),
    "import_failed": lambda f: gettext("The import failed; nothing was imported. Please try again."),
    "export_ready": _export_ready,
    "export_failed": lambda f: gettext("The archive could not be made. Please ask again."),
}


def stored_message(key, **figures):
    """What happened, for the result or error column: {"key": ..., figures}, worded when shown."""
    if key not in MESSAGES:
        raise KeyError(key)
    return json.dumps({"key": key, **figures})


def message_parts(stored):
    """(key, figures) of a stored message, or (None, None) for plain text."""
    if not stored.startswith("{"):
        return None, None
    try:
        data = json.loads(stored)
    except ValueError:
        return None, None
    if not isinstance(data, dict) or data.get("key") not in MESSAGES:
        return None, None
    return data.pop("key"), data


def message_text(stored):
    """A stored result or error in the current language (plain text as it is)."""
    key, figures = message_parts(stored or "")
    if key is None:
        return stored or ""
    try:
        return MESSAGES[key](figures)
    except (KeyError, TypeError, ValueError):
        return ""

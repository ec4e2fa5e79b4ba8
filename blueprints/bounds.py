"""Bounds on what a request carries in: ids in URLs and query strings, dates in forms, JSON bodies.

Whatever a browser or API client sends is refused with a 4xx here before it can overflow a database
column or date arithmetic (DESIGN.md, "Bad input"; README, "Input limits")."""
import re
from datetime import date, datetime

from flask import Request
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter
from wtforms.validators import ValidationError

ID_MAX = 2**63 - 1  # the largest integer a column holds, on PostgreSQL (BIGINT) and SQLite alike
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2999, 12, 31)
JSON_MAX_DEPTH = 32  # nesting of arrays and objects; our own documents go four deep
ASCII_ID = re.compile(r"[0-9]{1,19}")


def at_most(number):
    """A regular expression of the digit strings (leading zeros allowed) of `number`'s length or shorter
    whose value is at most `number`: "[0-9]{1,2}|..." without a capturing group."""
    digits = str(number)
    shorter = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    below = [f"{digits[:i]}[0-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}" for i, d in enumerate(digits) if d != "0"]
    return "(?:" + "|".join([*shorter, *below, digits]) + ")"


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` for the whole app: an id no column can hold (2^63 and up, or 20 digits and more)
    does not match the rule, so the answer is the usual 404. The regular expression itself leaves such
    an id out: a value refused only after matching would end the URL map's search there, and where
    another method's rule has the same path (PATCH and DELETE of /api/v1/admin/client-tags/<id>) the
    answer would be 405 rather than the catch-all's 404."""

    regex = at_most(ID_MAX)

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, 0 if min is None else min, ID_MAX if max is None else max, signed)


def bounded_id(text):
    """An id typed in a query string or form (`?before=42`), or None when it is not one a column holds."""
    if not isinstance(text, str) or not ASCII_ID.fullmatch(text):
        return None
    value = int(text)
    return value if value <= ID_MAX else None


def within_calendar(_form, field):
    """The validator every DateField gets (blueprints.forms.Form): a date from DATE_MIN to DATE_MAX, so that
    a day before or after it, or the time-zone shift of its midnight, stays inside the calendar."""
    day = field.data.date() if isinstance(field.data, datetime) else field.data
    if isinstance(day, date) and not DATE_MIN <= day <= DATE_MAX:
        raise ValidationError(_l("Enter a date from %(first)d to %(last)d.", first=DATE_MIN.year, last=DATE_MAX.year))


class BoundedRequest(Request):
    """Flask's request, whose JSON body (request.get_json, request.json) is refused like malformed JSON,
    so with a 400 (or None when silent), when it could not be stored or walked: nested deeper than
    JSON_MAX_DEPTH (100,000 brackets overflow the parser's stack), or holding a string with a lone
    surrogate ("\\ud800") or a NUL character, which neither UTF-8 nor a PostgreSQL text column holds.
    Only request bodies: the session cookie and other JSON the app reads itself are left alone."""

    def get_json(self, force=False, silent=False, cache=True):
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
            check_storable(value)
        except (RecursionError, ValueError) as exc:
            if cache:
                self._cached_json = (Ellipsis, None)
            if silent:
                return None
            return self.on_json_loading_failed(ValueError(str(exc)))
        return value


def check_storable(value):
    todo = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, str):
            if "\x00" in item or not item.isascii() and not _encodes(item):
                raise ValueError("JSON string that cannot be stored")
        elif isinstance(item, (list, dict)):
            if depth >= JSON_MAX_DEPTH:
                raise ValueError("JSON nested too deeply")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            todo.extend((child, depth + 1) for child in children)


def _encodes(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def install(app):
    """Before any blueprint is registered: its rules bind the `int` converter when they are added."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.request_class = BoundedRequest

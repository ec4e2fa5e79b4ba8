"""Kabinet's overrides of framework internals, each kept because it measurably saves something
(bench/overrides.py switches each off in turn in one run; the figures are in the README, "Cost of a
request"). One that no longer shows at least 5 % there goes. models.Prepared, the fourth, lives with
the models it serves."""
import copy
import hmac
import logging
import re
import time

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect, same_origin, validate_csrf
from itsdangerous import BadSignature
from jinja2.ext import Extension
from wtforms.validators import ValidationError


class CompactTemplates(Extension):
    """Templates lose their indentation and the line break after a line holding only a `{% tag %}`
    before they are compiled: HTML shows any run of whitespace as one space, and the indentation is
    13.6 % of the personal-data page as the app sends it, 4.6 % gzipped (bench/overrides.py). Only the
    template's own text changes, never a value put in it; a line's break before such a tag line stays,
    so words never run together.
    No template has <pre> or <textarea>, where this would show."""

    def preprocess(self, source, name, filename=None):
        source = re.sub(r"\n[ \t]+", "\n", source)
        return re.sub(r"(?m)^(\{%(?!-)(?:(?!%\}).)*(?<!-)%\})\n", r"\1", source)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, remembering what recently seen cookies verified to.

    Checking and decoding the cookie (HMAC, zlib, tagged JSON) was an eighth of an autosave's cost, and a
    tab sends the same cookie on every request: the same bytes under the same key verify the same way,
    so the content is kept per process with the time it was signed, and only its age is checked again.
    Cookies that fail verification are never kept."""

    MAX_REMEMBERED = 4096

    def __init__(self):
        self.verified = {}  # (secret key, cookie) -> (content, signed at in epoch seconds)

    def open_session(self, app, request):
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key:
            return super().open_session(app, request)
        key = (app.secret_key, value)
        found = self.verified.get(key)
        if found is None:
            try:
                content, signed_at = self.get_signing_serializer(app).loads(value, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            if len(self.verified) >= self.MAX_REMEMBERED:
                self.verified.clear()
            found = self.verified[key] = (content, int(signed_at.timestamp()))
        content, signed_at = found
        if not 0 <= int(time.time()) - signed_at <= app.permanent_session_lifetime.total_seconds():
            return self.session_class()  # expired (itsdangerous' max_age rule)
        # The session may be changed in place (flash messages append to a list): never hand out the kept one.
        flat = all(isinstance(v, (str, int, float, type(None))) for v in content.values())
        return self.session_class(dict(content) if flat else copy.deepcopy(content))


class RememberingCSRF(CSRFProtect):
    """Flask-WTF's CSRF protection, remembering which signed tokens verified.

    A tab sends the same signed token with every request, and checking its signature (key derivation,
    HMAC, base64, JSON) was a fifteenth of an autosave's cost. Tokens never expire by time here
    (WTF_CSRF_TIME_LIMIT is None: a token lives as long as its session), so the same bytes under the
    same key always verify to the same session value: that value is kept per process and compared with
    the session's on every request. Tokens that fail are never kept. `protect` is Flask-WTF's own,
    with `validate_csrf` replaced by `validate`."""

    MAX_REMEMBERED = 4096

    def __init__(self, app=None):
        self.verified = {}  # (secret key, signed token) -> the session value it was signed from
        super().__init__(app)

    def validate(self, token):
        config = current_app.config
        if config["WTF_CSRF_TIME_LIMIT"] is not None:  # tokens that expire cannot be remembered
            return validate_csrf(token)
        field = config["WTF_CSRF_FIELD_NAME"]
        key = (config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, token)
        expected = session.get(field)
        raw = self.verified.get(key) if token else None
        if raw is None or expected is None:
            validate_csrf(token)  # raises with Flask-WTF's reason
            if len(self.verified) >= self.MAX_REMEMBERED:
                self.verified.clear()
            self.verified[key] = session[field]
        elif not hmac.compare_digest(expected, raw):
            raise ValidationError("The CSRF tokens do not match.")

    def protect(self, apply_exemptions=False):
        if apply_exemptions and (not request.endpoint or self._is_exempt()):
            return
        if request.method not in current_app.config["WTF_CSRF_METHODS"]:
            return
        try:
            self.validate(self._get_csrf_token())
        except ValidationError as e:
            logging.getLogger("flask_wtf.csrf").info(e.args[0])  # as Flask-WTF logs it
            self._error_response(e.args[0])
        if request.is_secure and current_app.config["WTF_CSRF_SSL_STRICT"]:
            if not request.referrer:
                self._error_response("The referrer header is missing.")
            if not same_origin(request.referrer, f"https://{request.host}/"):
                self._error_response("The referrer does not match the host.")
        g.csrf_valid = True

"""Flask extensions, created here and bound to the app in create_app()."""
import time
from functools import cached_property

from flask import current_app, g, request
from flask_babel import Babel, Domain, get_locale
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from jinja2 import pass_context
from markupsafe import Markup
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter


def client_ip():
    """The client's address (ProxyFix has already applied X-Forwarded-For when configured)."""
    return request.remote_addr or "unknown"


class RequestDomain(Domain):
    """flask-babel's message domain, its catalog looked up once per request and locale instead of for
    every string (a page shows about sixty: that lookup was a tenth of its render). force_locale (e-mail
    in the recipient's language) sets another locale object, which looks its catalog up again."""

    def get_translations(self):
        if not g:  # outside a request: flask-babel's own (untranslated) answer
            return super().get_translations()
        locale = get_locale()
        cached = g.get("_translations")
        if cached is None or cached[0] is not locale:
            cached = g._translations = (locale, super().get_translations())
        return cached[1]


class RequestBabel(Babel):
    @cached_property
    def domain_instance(self):
        return RequestDomain(domain=self.domain)


babel = RequestBabel()


@pass_context
def template_gettext(context, string, **variables):
    """`_()` and `gettext()` in templates: what Jinja's newstyle gettext does (escaping-aware, always a
    %-format), called directly; Jinja's alias and wrapper added two context.call layers to each of a
    page's sixty strings."""
    text = babel.domain_instance.get_translations().ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


def install_template_gettext(app):
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext)
csrf = CSRFProtect()
login_manager = LoginManager()


# Rate limits: fixed windows counted in RATELIMIT_STORAGE_URI (memory, or Redis shared by all processes).
# Only the places that limit something ask (sign-in, codes, the API): a request-wide hook such as
# Flask-Limiter's cost every request about 0.15 ms for nothing (bench/autosave.py).


def init_rate_limits(app):
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    app.extensions["rate_limits"] = (FixedWindowRateLimiter(storage), app.config.get("RATELIMIT_KEY_PREFIX", ""))


def _limiter(identifiers):
    strategy, prefix = current_app.extensions["rate_limits"]
    return strategy, (prefix, *identifiers) if prefix else identifiers


def seconds_until_allowed(limit, *identifiers):
    """0 when another attempt is allowed under `limit`, else the seconds until it is."""
    strategy, identifiers = _limiter(identifiers)
    item = parse(limit)
    if strategy.test(item, *identifiers):
        return 0
    reset_at = strategy.get_window_stats(item, *identifiers).reset_time
    return max(1, int(reset_at - time.time()))


def count_attempt(limit, *identifiers):
    """Record one attempt (e.g. a failed sign-in) against `limit`; False when it went over the limit."""
    strategy, identifiers = _limiter(identifiers)
    return strategy.hit(parse(limit), *identifiers)

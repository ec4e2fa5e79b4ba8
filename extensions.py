"""Flask extensions, created here and bound to the app in create_app()."""
import logging
import time
from functools import cached_property

from flask import current_app, g, request
from flask.globals import _cv_app
from flask_babel import Babel, Domain, get_locale
from flask_login import LoginManager
from jinja2 import pass_context
from markupsafe import Markup
from limits import parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from overrides import RememberingCSRF


def client_ip():
    """The client's address (ProxyFix has already applied X-Forwarded-For when configured)."""
    return request.remote_addr or "unknown"


class RequestDomain(Domain):
    """flask-babel's message domain, its catalog looked up once per request and locale instead of for
    every string (a page shows about sixty: that lookup was a tenth of its render). force_locale (e-mail
    in the recipient's language) sets another locale object, which looks its catalog up again."""

    def get_translations(self):
        app_context = _cv_app.get(None)
        if app_context is None:  # outside an app context: flask-babel's own (untranslated) answer
            return super().get_translations()
        # Read through the app context's g itself, not the `g` and `get_locale` proxies: a page asks for
        # the catalog about eighty times, and the proxies' lookups were most of each ask.
        state = app_context.g.__dict__
        cached, babel_state = state.get("_translations"), state.get("_flask_babel")
        if cached is None or cached[0] is not getattr(babel_state, "babel_locale", None):
            locale = get_locale()
            cached = state["_translations"] = (locale, super().get_translations())
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


def locale_code():
    """The request's language code ("en" or "ru"); "en" outside a request."""
    return str(get_locale() or "en")


def language_for(user):
    """The language to write to `user` in (mail, SMS): the one they chose, else the one their pages were
    last shown in, else this request's."""
    return user.reading_language(locale_code())


def remember_page_language(user):
    """Keep the language `user`'s page is shown in: one UPDATE when it changed, none otherwise."""
    code = locale_code()
    if user.page_language != code:
        from models import User

        User.update(page_language=code).where(User.id == user.id).execute()
        user.page_language = code


def install_template_i18n(app):
    # locale_code is a function, not a context processor: only whole pages ask for it (<html lang>),
    # and context processors run for every fragment.
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext, locale_code=locale_code)



csrf = RememberingCSRF()


class ServerSessionLogin(LoginManager):
    """Flask-Login with its session protection off for good: a signed-in session is checked against its
    server-side record on every request (app.load_user) instead of a hash of the client's address and
    browser, which Flask-Login would otherwise still compute on every request only to ignore it."""

    def _session_protection_failed(self):
        return False


login_manager = ServerSessionLogin()


# Rate limits: fixed windows counted in RATELIMIT_STORAGE_URI (memory, or Redis shared by all processes).
# Only the places that limit something ask (sign-in, codes, the API): a request-wide hook such as
# Flask-Limiter's cost every request about 0.15 ms for nothing (bench/autosave.py).

limits_log = logging.getLogger("kabinet.rate_limits")


class FallbackLimiter:
    """Fixed windows in the shared store, or in this process's memory while the shared store is away.

    A Redis outage must not lock everyone out (every sign-in a 503): while the store fails, each process
    keeps limiting on its own (so a process lets through at most its own share of the limit), and asks
    the shared store again every RATELIMIT_RETRY_SECONDS. One log line when it goes, one when it is back."""

    def __init__(self, uri, retry_seconds=5):
        options = {"socket_connect_timeout": 1, "socket_timeout": 1} if uri.startswith(("redis", "valkey")) else {}
        self.uri, self.retry_seconds = uri, retry_seconds
        self.shared = FixedWindowRateLimiter(storage_from_string(uri, wrap_exceptions=True, **options))
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self.retry_at = None  # monotonic time of the next try while the shared store is down

    def call(self, method, *args):
        if self.retry_at is None or time.monotonic() >= self.retry_at:
            try:
                result = getattr(self.shared, method)(*args)
            except StorageError as exc:
                if self.retry_at is None:
                    limits_log.warning("rate limits: %s unavailable (%s), counting in this process meanwhile",
                                       self.uri.split("@")[-1], exc.storage_error)
                self.retry_at = time.monotonic() + self.retry_seconds
            else:
                if self.retry_at is not None:
                    limits_log.warning("rate limits: %s is back", self.uri.split("@")[-1])
                    self.retry_at = None
                return result
        return getattr(self.local, method)(*args)

    def test(self, *args):
        return self.call("test", *args)

    def hit(self, *args):
        return self.call("hit", *args)

    def get_window_stats(self, *args):
        return self.call("get_window_stats", *args)


def init_rate_limits(app):
    uri = app.config["RATELIMIT_STORAGE_URI"]
    if uri.startswith("memory"):
        strategy = FixedWindowRateLimiter(storage_from_string(uri))
    else:
        strategy = FallbackLimiter(uri, app.config.get("RATELIMIT_RETRY_SECONDS", 5))
    app.extensions["rate_limits"] = (strategy, app.config.get("RATELIMIT_KEY_PREFIX", ""))


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

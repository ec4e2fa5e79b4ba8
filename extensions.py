"""Flask extensions, created here and bound to the app in create_app()."""
import time

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from limits import parse


def client_ip():
    """The client's address (ProxyFix has already applied X-Forwarded-For when configured)."""
    return request.remote_addr or "unknown"


babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=client_ip)


def seconds_until_allowed(limit, *identifiers):
    """0 when another attempt is allowed under `limit`, else the seconds until it is."""
    item = parse(limit)
    if limiter.limiter.test(item, *identifiers):
        return 0
    reset_at = limiter.limiter.get_window_stats(item, *identifiers).reset_time
    return max(1, int(reset_at - time.time()))


def count_attempt(limit, *identifiers):
    """Record one attempt (e.g. a failed sign-in) against `limit`."""
    limiter.limiter.hit(parse(limit), *identifiers)

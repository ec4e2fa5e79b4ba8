"""The application factory: configuration, extensions, blueprints, security headers, errors, CLI."""
import functools
import hashlib
import logging
import mimetypes
import re
import secrets
from datetime import timedelta
from pathlib import Path

import click
import peewee
import redis
import jsmin
from babel import Locale
from flask import Flask, abort, current_app, g, request, send_from_directory, session
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from jinja2 import StrictUndefined
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_accept_header
from werkzeug.middleware.proxy_fix import ProxyFix

from blueprints import bounds
from blueprints.errors import error_response
from config import ROOT, Config
from extensions import babel, csrf, init_rate_limits, install_template_i18n, login_manager, remember_page_language
from models import User, db, open_database, write_transaction
from overrides import CompactTemplates, CookieSessions
from services import invoice_document, passwords
from services.sessions import end_session, live_session

STATIC_DIR = ROOT / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def create_app(config=None):
    app = Flask(__name__, static_folder=None, template_folder=str(ROOT / "templates"))
    app.config.from_object(Config)
    app.config.update(config or {})
    Path(app.config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or instance_secret(app.config["INSTANCE_PATH"])
    https = app.config["HTTPS"]
    app.config.update(
        SESSION_COOKIE_NAME="__Host-session" if https else "kabinet_session",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"]),
        # The cookie is set when the session changes (sign-in, language, flash), not re-signed on every
        # request: its lifetime is the absolute limit from sign-in, and idleness is checked on the server.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.session_interface = CookieSessions()
    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    if app.testing:
        app.jinja_env.undefined = StrictUndefined

    # Tests hand in one Database for the whole run; otherwise it is opened from DATABASE_URL.
    db.initialize(app.config.get("DATABASE") or open_database(app.config["DATABASE_URL"]))
    passwords.configure(app.config["ARGON2_MEMORY_KIB"], app.config["ARGON2_TIME_COST"])
    invoice_document.check_seller(app.config)  # requisites with wrong check digits never reach an invoice

    init_extensions(app)
    bounds.install(app)  # the bounded <int:...> converter, before any rule is added
    register_blueprints(app)
    register_request_hooks(app)
    register_errors(app)
    register_cli(app)
    app.jinja_env.add_extension(CompactTemplates)
    app.jinja_env.globals.update(asset_url=asset_url, languages=app.config["LANGUAGES"])
    return app


def instance_secret(instance_path):
    """A per-installation secret key kept in instance/secret_key, made on first run."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def init_extensions(app):
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    install_template_i18n(app)
    csrf.init_app(app)
    init_rate_limits(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # sessions are checked against their server-side record instead
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)


def register_blueprints(app):
    """The blueprints, grouped as the account panel is: sign-in, the person, the organization, the back office,
    the JSON API (importing a package registers its modules' routes)."""
    from blueprints import admin, api, auth, organization, panel, person

    for blueprint in (
        auth.bp, panel.bp, person.profile.bp, person.mail_servers.bp, person.notifications.bp,
        person.security.bp,  # with the organization's integrations (API keys, webhooks) added to it
        person.passkeys.bp, person.passkeys.login_bp, organization.account.bp, admin.bp, api.bp,
    ):
        app.register_blueprint(blueprint)


LOCALES = {code: Locale.parse(code) for code in Config.LANGUAGES}


def select_locale():
    """The person's language, else the one chosen on the sign-in page, else the browser's (a Locale
    object: flask-babel would parse a code again on every request)."""
    user = current_user._get_current_object() if current_user else None
    if user is not None and user.is_authenticated and user.language in LOCALES:
        return LOCALES[user.language]
    return LOCALES.get(session.get("lang")) or LOCALES[browser_language(request.headers.get("Accept-Language", ""))]


@functools.lru_cache(maxsize=1024)
def browser_language(accept_language):
    """Our best language for an Accept-Language header: browsers send the same few, and parsing a
    typical one costs some 40 µs."""
    return parse_accept_header(accept_language, LanguageAccept).best_match(Config.LANGUAGES) or "en"


def select_timezone():
    """The zone of the person the request acts for: an API key's owner (the admin API reads days and shows
    times as the pages do to that person), else the signed-in person."""
    user = g.get("api_user") or (current_user if current_user and current_user.is_authenticated else None)
    if user is not None:
        from services.region import zone_for_country

        return user.time_zone or zone_for_country(user.country)
    return None


def load_user(user_id):
    """The signed-in person, if their session record is still open and their account enabled."""
    if not user_id.isdigit() or g.get("backend_down"):
        return None
    cfg = current_app.config
    limits = {
        "idle": timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]),
        "absolute": timedelta(hours=cfg["SESSION_ABSOLUTE_HOURS"]),
        # A poller (e.g. the mail-server status cells) must not keep an unattended page signed in.
        "touch": request.headers.get("X-Background-Poll") != "1",
    }
    record = live_session(session.get("sid"), int(user_id), **limits)
    if "admin_sid" in session:  # "Sign in as": the administrator's own session must hold as well
        record = impersonated_session(record, limits)
    if record is None:
        return None
    if not record.user.is_active:  # disabled, even straight in the database: this session never comes back
        end_session(record)
        return None
    user = record.user
    g.user_session = record
    return user


def impersonated_session(record, limits):
    """Under "Sign in as": the impersonated session while the administrator's own session is open and
    they may still do it. When it is over (either session ended, or the permission went), the
    administrator is back in their own session, or signed out when that has ended too."""
    from services import impersonation

    admin_secret = session.get("admin_sid")
    held = impersonation.of_session(record) if record is not None else None
    if record is not None and held is None:  # not an impersonated session: nothing to come back to
        session.pop("admin_sid", None)
        session.pop("_admin_id", None)
        return record
    admin_id = held.admin_id if held is not None else session.get("_admin_id")
    admin_record = live_session(admin_secret, admin_id, **limits) if isinstance(admin_id, int) else None
    if held is not None and impersonation.still_valid(held, admin_secret, admin_record):
        g.impersonator = held.admin
        return record
    if record is not None:
        end_session(record)
    session.pop("admin_sid", None)
    session.pop("_admin_id", None)
    if admin_record is None:
        return None
    session["sid"], session["_user_id"] = admin_secret, str(admin_record.user_id)
    return admin_record


def unauthorized():
    """Not signed in: a full page goes to the sign-in page; htmx is told to navigate there."""
    from flask import make_response, redirect, url_for

    from blueprints import is_htmx

    target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


# --- static files with content-hashed names -------------------------------------------------

_asset_hashes = {}
# Files served as one (a request fewer: the budget is 4 a page), each part compacted like a file of static/.
# CSS: app.css with office.css (lists, tabs, filters) and pages.css (rules only some pages need) on every page
# but the personal-data page, the heaviest (app.css alone), and the back office (app.css with office.css).
# JS: app.js alone, with pages.js on a page with a password field, a print button or a file drop zone, with
# passkeys.js on the passkey pages, with autosave.js on the personal-data page (its autosaved forms).
BUNDLES = {"js/app-pages.js": ("js/app.js", "js/pages.js"),
           "js/app-autosave.js": ("js/app.js", "js/autosave.js"),
           "js/app-passkeys.js": ("js/app.js", "js/passkeys.js"),
           "js/app-pages-passkeys.js": ("js/app.js", "js/pages.js", "js/passkeys.js"),
           "css/app-pages.css": ("css/app.css", "css/office.css", "css/pages.css"),
           "css/app-office.css": ("css/app.css", "css/office.css")}


def asset_hash(filename):
    parts = BUNDLES.get(filename, (filename,))
    key = tuple((part, (STATIC_DIR / part).stat().st_mtime_ns) for part in parts)
    if key not in _asset_hashes:
        content = b"".join((STATIC_DIR / part).read_bytes() for part in parts)
        _asset_hashes[key] = hashlib.sha256(content).hexdigest()[:10]
    return _asset_hashes[key]


def asset_url(filename):
    """/static/css/app.<hash>.css: the name changes with the content, so it can be cached for a year."""
    stem, dot, ext = filename.rpartition(".")
    return f"/static/{stem}.{asset_hash(filename)}.{ext}"


def serve_asset(filename):
    stem, _dot, ext = filename.rpartition(".")
    base, _dot, digest = stem.rpartition(".")
    real = f"{base}.{ext}"
    if not base or not ((STATIC_DIR / real).is_file() or real in BUNDLES) or asset_hash(real) != digest:
        abort(404)
    if ext in ("css", "js") and not base.startswith("vendor/"):
        text = "".join(compact_asset(part, asset_hash(part)) for part in BUNDLES.get(real, (real,)))
        response = current_app.response_class(text, mimetype=mimetypes.guess_type(real)[0])
    else:
        response = send_from_directory(STATIC_DIR, real, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@functools.cache
def compact_asset(filename, digest):
    """Our CSS and JS without comments and layout whitespace (the sources keep them for readers).

    JS goes through jsmin (a tokenizer that knows strings and regular expressions, so none of them is
    altered). In CSS, deliberately simple: /* */ blocks, leading whitespace and the spaces around { } ; : ,
    and > go (no string in our CSS has one of them beside a space)."""
    text = (STATIC_DIR / filename).read_text(encoding="utf-8")
    if filename.endswith(".js"):
        return jsmin.jsmin(text).strip() + "\n"
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r" *([{};:,>]) *", r"\1", text).replace(";}", "}")
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line) + "\n"


# --- request hooks ----------------------------------------------------------------------------

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def register_request_hooks(app):
    from blueprints.uploads import upload_size_gate

    app.add_url_rule("/static/<path:filename>", "static", serve_asset)
    # First of all hooks: CSRF protection reads the form, and so the whole body, before a view.
    app.before_request_funcs.setdefault(None, []).insert(0, upload_size_gate)

    @app.before_request
    def connect_db():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def release_db(_exc):
        if db.is_closed():
            return
        try:
            db.close()  # returns the connection to the pool; it is not re-opened per request
        except peewee.PeeweeException as exc:
            # A connection broken under us (database restarted): peewee has already dropped it.
            logging.getLogger(__name__).warning("dropped a broken database connection: %s", exc)

    @app.before_request
    def refuse_cross_site_writes():
        """SECURITY.md 17: a POST from another site is refused even before CSRF is checked."""
        if request.method not in UNSAFE_METHODS:
            return
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            abort(403)
        origin = request.headers.get("Origin")
        if origin and origin != "null" and origin.split("://", 1)[-1] != request.host:
            abort(403)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        if app.config["HTTPS"]:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static":
            headers.add("Vary", "HX-Request")
            remember_language(response)
            # A download (send_file says no-cache, max-age=0) is private data too (SECURITY.md 27).
            if "Cache-Control" not in headers or "attachment" in headers.get("Content-Disposition", ""):
                headers["Cache-Control"] = "no-store"
        return response


def remember_language(response):
    """A page shown to a signed-in person (not under "Sign in as") remembers its language on them: their
    mail and SMS go in it while they have not chosen one (DESIGN.md: mail in the reader's language)."""
    user = g.get("_login_user")  # only when this request already loaded the person
    if (user is not None and user.is_authenticated and response.mimetype == "text/html"
            and g.get("impersonator") is None and not g.get("backend_down")):
        remember_page_language(user)


# --- errors -----------------------------------------------------------------------------------


def register_errors(app):
    @app.errorhandler(CSRFError)
    def csrf_failed(_exc):
        return error_response(403, _("The form has expired. Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code in (301, 302, 303, 307, 308):
            return exc
        if request.path.startswith("/api/"):  # e.g. no route matched: the API answers JSON all the same
            from blueprints.api.core import http_error as api_error

            return api_error(exc)
        return error_response(exc.code or 500)

    @app.errorhandler(peewee.OperationalError)
    @app.errorhandler(peewee.InterfaceError)
    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def backend_unavailable(exc):
        """PostgreSQL restarting or Redis down: a translated 503, and the next request tries again."""
        logging.getLogger(__name__).error("backend unavailable: %s", exc)
        # Render the message as for a visitor: nothing on the error page may ask the database again.
        g.backend_down = True
        g._login_user = login_manager.anonymous_user()
        response = error_response(503)
        response.headers["Retry-After"] = "5"  # an outage seen so far lasts seconds (README: faults)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc):
        logging.getLogger(__name__).exception("unhandled error")
        return error_response(500)


# --- command line -----------------------------------------------------------------------------


def register_cli(app):
    @app.cli.group("db")
    def db_group():
        """Database schema commands."""

    @db_group.command("upgrade")
    def db_upgrade():
        """Apply pending migrations."""
        import migrations

        applied = migrations.upgrade(db.obj)
        click.echo(f"Applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")

    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
    def demo(if_empty):
        """Load the demo organization and its people, and print their sign-ins."""
        from services.demo import load_demo

        if if_empty and User.select().exists():
            click.echo("Demo data already loaded. Sign in with:")
        else:
            load_demo()
            click.echo("Demo data loaded. Sign in with:")
        from services.demo import DEMO_PEOPLE

        for email, password, role in DEMO_PEOPLE:
            click.echo(f"  {role:<10} {email}  /  {password}")

    @app.cli.command("demo-charge")
    @click.option("--amount", default="500.00", type=click.FloatRange(0.01, 1e9), help="Roubles to charge.")
    def demo_charge(amount):
        """Charge the demo organization, as the product would: the owner's low-balance alert (1 000 ₽) fires."""
        from decimal import Decimal

        from services.demo import demo_charge

        entry = demo_charge(f"{amount:.2f}")
        if entry is None:
            raise click.ClickException("No demo organization: run `flask demo` first.")
        click.echo(f"Charged {-Decimal(entry.change):.2f} ₽; the balance is now {Decimal(entry.balance_after):.2f} ₽.")

    @app.cli.command("rotate-key")
    def rotate_key():
        """Re-encrypt stored third-party secrets with the first ENCRYPTION_KEY (README: rotating the key)."""
        from models import BaseModel, EncryptedField
        from services import crypto

        models, todo = [], list(BaseModel.__subclasses__())
        while todo:
            models.append(todo.pop())
            todo.extend(models[-1].__subclasses__())
        columns = [(m, f) for m in models for f in m._meta.sorted_fields if isinstance(f, EncryptedField)]
        with db.connection_context(), write_transaction():
            rotated, unreadable = crypto.rotate_columns(columns, app.config)
        click.echo(f"Re-encrypted {rotated} secret(s) in {len(columns)} column(s) with the first key.")
        if unreadable:
            click.echo(f"No configured key opens {len(unreadable)} secret(s), left unchanged: {', '.join(unreadable)}")
            raise SystemExit(1)

    @app.cli.command("serve")
    @click.option("--host", envvar="HOST", default="127.0.0.1")
    @click.option("--port", envvar="PORT", default=5000, type=int)
    def serve(host, port):
        """Development server with the scheduler running in the same process."""
        from werkzeug.serving import run_simple

        from services.scheduler import start_in_background

        start_in_background(app)
        click.echo(f"Kabinet on http://{host}:{port}/")
        run_simple(host, port, app, threaded=True)

    @app.cli.command("scheduler")
    def scheduler():
        """Run the background jobs alone (production: one such process, web workers run none)."""
        from services.scheduler import run_scheduler_forever

        run_scheduler_forever(app)

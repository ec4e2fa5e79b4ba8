"""The page frame: security headers, CSRF and cross-site refusal, error pages, bad input (issue 2)."""
import re

import pytest

from models import User
from tests.conftest import PASSWORD, csrf_from, form_post


def test_security_headers_on_pages(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for part in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"):
        assert part in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]
    assert "Strict-Transport-Security" not in response.headers


def test_https_mode_sends_hsts_and_host_prefixed_secure_cookie(config):
    from app import create_app

    app = create_app({**config, "HTTPS": True})
    response = app.test_client().get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "Path=/" in cookie


def test_no_inline_script_or_style_in_pages(signed_in):
    for url in ("/app/personal-data",):
        html = signed_in.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert " style=" not in html and "<style" not in html


def test_static_assets_have_hashed_names_and_long_cache(client):
    html = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app-pages\.[0-9a-f]{10}\.css)"', html).group(1)
    response = client.get(css)
    response.close()
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert client.get("/static/css/app.0000000000.css").status_code == 404
    assert client.get("/static/../config.py").status_code == 404


def test_wrong_csrf_token_is_refused_and_changes_nothing(client, user):
    client.get("/login")
    response = client.post("/login", data={"csrf_token": "forged", "email": "anna@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert "The form has expired" in response.get_data(as_text=True)
    assert client.get("/app/personal-data").status_code == 302


def test_a_token_that_verified_for_one_browser_is_refused_in_another(app, client, user):
    """CSRF tokens are remembered once verified (overrides.RememberingCSRF): a remembered token still has
    to belong to the session it is sent with, and a forged one is never remembered."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    data = {"email": "anna@example.com", "password": "wrong guess"}
    assert client.post("/login", data=data, headers=headers).status_code == 422  # token verified and remembered
    other = app.test_client()
    other.get("/login")
    response = other.post("/login", data={**data, "password": PASSWORD}, headers=headers)
    assert response.status_code == 403 and "The form has expired" in response.get_data(as_text=True)
    assert other.get("/app/personal-data").status_code == 302
    for _ in range(2):  # a forged token stays refused: it was not remembered the first time
        assert other.post("/login", data=data, headers={**headers, "X-CSRFToken": token[:-2] + "xx"}).status_code == 403


def test_cross_site_post_is_refused(client, user):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"csrf_token": token, "email": "anna@example.com", "password": PASSWORD}
    assert client.post("/login", data=data, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/login", data=data, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/login", data=data, headers={"Origin": "http://localhost"}).status_code == 303


@pytest.mark.parametrize("lang,text", [("en", "This page does not exist."), ("ru", "Такой страницы нет.")])
def test_translated_404_page_and_fragment(client, lang, text):
    page = client.get("/nowhere", headers={"Accept-Language": lang})
    assert page.status_code == 404 and text in page.get_data(as_text=True) and "<html" in page.get_data(as_text=True)
    fragment = client.get("/nowhere", headers={"Accept-Language": lang, "HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 404 and text in body and "<html" not in body
    assert fragment.headers["HX-Retarget"] == "#messages"


def test_405_and_413_pages(app, client):
    assert "not available" in client.put("/login").get_data(as_text=True)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "email": "a" * 5000, "password": "x"})
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)


def test_500_is_a_translated_page_not_a_traceback(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom", headers={"Accept-Language": "ru"})
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and "Ваши данные в сохранности" in body and "secret internals" not in body


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"email": "anna@example.com"},
        {"email": "x" * 10_000, "password": "y" * 10_000},
        {"email": "not-an-address", "password": ""},
        {"email": ["a@example.com", "b@example.com"], "password": PASSWORD},
    ],
)
def test_bad_sign_in_input_gets_a_message_not_a_500(client, user, data):
    response = form_post(client, "/login", data)
    assert response.status_code == 422
    assert 'class="error' in response.get_data(as_text=True)


def test_non_utf8_bytes_are_handled(client, user):
    # Werkzeug drops a form body that is not UTF-8 whole, so the CSRF check refuses it with a message.
    token = csrf_from(client.get("/login").get_data(as_text=True))
    body = b"csrf_token=" + token.encode() + b"&email=\xff\xfe%ff&password=\xc3\x28"
    response = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403 and "Reload the page" in response.get_data(as_text=True)
    good = f"csrf_token={token}&email=%FF%FEanna@example.com&password=x".encode()
    response = client.post("/login", data=good, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422  # percent-encoded junk bytes reach the form and fail validation


def test_forgot_password_bad_input(client):
    assert form_post(client, "/forgot-password", {"email": "x" * 10_000}).status_code == 422
    assert "valid e-mail" in form_post(client, "/forgot-password", {"email": "nope"}).get_data(as_text=True)


def test_reset_with_garbage_token_is_404(client):
    assert client.get("/reset-password/" + "a" * 5000).status_code == 404
    assert client.get("/reset-password/%00%ff").status_code == 404


def test_language_switch_for_signed_out_pages(client):
    response = form_post(client, "/language", {"lang": "ru", "next": "/forgot-password"}, page="/login")
    assert response.status_code == 303 and response.headers["Location"] == "/forgot-password"
    assert "Восстановление пароля" in client.get("/forgot-password").get_data(as_text=True)
    # An open redirect is not possible through `next`.
    response = form_post(client, "/language", {"lang": "en", "next": "//evil.example/"}, page="/login")
    assert response.headers["Location"] == "/login"


def test_accept_language_picks_russian(client):
    html = client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="ru">' in html and "Вход в личный кабинет" in html


def test_person_language_setting_wins_over_browser(signed_in, user):
    User.update(language="ru").where(User.id == user.id).execute()
    html = signed_in.get("/app/personal-data", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Личные данные" in html


def test_menu_works_without_javascript(signed_in):
    html = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert '<details class="menu">' in html and 'action="/logout"' in html


def test_rate_limit_storage_down_sign_in_works_and_is_still_limited(config, user, caplog):
    """Redis away: sign-ins go on, counted in the process's memory (issue: faults); one log line."""
    from app import create_app

    app = create_app({**config, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"})
    client = app.test_client()
    headers = {"Accept-Language": "ru"}
    token = csrf_from(client.get("/login", headers=headers).get_data(as_text=True))

    def attempt(password):
        data = {"csrf_token": token, "email": "anna@example.com", "password": password}
        return client.post("/login", data=data, headers=headers)

    statuses = [attempt(f"wrong password {n}").status_code for n in range(6)]
    assert statuses == [422] * 5 + [429], statuses  # LOGIN_LIMIT_PER_ACCOUNT: 5 per 10 minutes
    assert attempt(PASSWORD).status_code == 429  # still limited, also for the right password
    app.extensions["rate_limits"][0].local.storage.reset()
    assert attempt(PASSWORD).status_code == 303
    outage = [r for r in caplog.records if r.name == "kabinet.rate_limits"]
    assert len(outage) == 1 and "counting in this process" in outage[0].getMessage()


def test_database_down_answers_a_translated_503_with_retry_after(client, monkeypatch):
    import peewee

    def down(*args, **kwargs):
        raise peewee.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(User, "get_or_none", down)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "email": "a@example.com", "password": "x" * 9},
                           headers={"Accept-Language": "ru", "HX-Request": "true"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "Сервис ненадолго недоступен. Попробуйте ещё раз через несколько секунд." in response.get_data(as_text=True)


def test_own_css_and_js_are_served_without_comments_vendor_files_untouched(client):
    from app import STATIC_DIR, asset_url

    for name in ("js/app.js", "css/app.css"):
        served = client.get(asset_url(name)).get_data(as_text=True)
        source = (STATIC_DIR / name).read_text()
        assert len(served) < len(source)
        assert not any(line.startswith(("//", " ", "/*")) for line in served.splitlines())
    # The passkey pages' one file: app.js and passkeys.js, each compacted.
    served = client.get(asset_url("js/app-passkeys.js")).get_data(as_text=True)
    parts = [client.get(asset_url(name)).get_data(as_text=True) for name in ("js/app.js", "js/passkeys.js")]
    assert served == "".join(parts) and "navigator.credentials" in served
    assert client.get("/static/js/app-passkeys.0000000000.js").status_code == 404
    htmx = next((STATIC_DIR / "vendor").glob("htmx-*.min.js")).relative_to(STATIC_DIR).as_posix()
    response = client.get(asset_url(htmx))
    assert response.get_data() == (STATIC_DIR / htmx).read_bytes()
    response.close()  # a file response: close its stream


def test_pages_are_sent_without_template_indentation(signed_in):
    """CompactTemplates: the templates' indentation is not sent; words and tags stay apart."""
    html = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert not re.search(r"\n[ \t]+", html)
    assert "</li>\n<li>" in html and "</dl>\n" in html
    from app import asset_url

    css = signed_in.get(asset_url("css/app.css")).get_data(as_text=True)
    assert "{ " not in css and ": " not in css and "; " not in css and 'content:"▾"' in css


def test_templates_see_globals_with_jinjas_precedence(app):
    """The render's variables win over the template's own globals, which win over the environment's
    (Jinja's rule; app.MergedGlobalsTemplate, which rebuilt contexts, is gone: bench/overrides.py)."""
    env = app.jinja_env
    env.globals["greeting"] = "environment"
    try:
        plain = env.from_string("{{ greeting }}, {{ languages|join('/') }}")
        assert plain.render() == "environment, en/ru"
        own = env.from_string("{{ greeting }}", globals={"greeting": "template"})
        assert own.render() == "template"
        assert own.render(greeting="render") == "render"
        assert env.from_string("{{ asset_url('css/app.css') }}").render().startswith("/static/css/app.")
    finally:
        del env.globals["greeting"]


def test_every_template_using_pages_js_loads_it():
    """static/js/pages.js (password eye, data-shown-when, print, file drop) is not in app.js: a template that
    uses one of them must load js/app-pages.js, else its button is dead."""
    from app import BUNDLES, STATIC_DIR

    markers = re.compile(r"password_field\(|data-shown-when|data-toggle-password|data-print|data-dropzone")
    with_pages = [name for name, parts in BUNDLES.items() if "js/pages.js" in parts]
    for template in (STATIC_DIR.parent / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        if template.name != "_macros.html" and markers.search(text):
            assert any(name in text for name in with_pages), f"{template} uses pages.js but does not load it"


def test_pages_without_pages_css_use_none_of_its_rules():
    """The personal-data page (app.css alone) and the back office (app.css with office.css) do not load
    static/css/pages.css: none of their templates, nor the sections they include, may use its classes (the
    mail-server pages without JS, full pages of their own, load it; base.html uses .lang-switch signed out)."""
    from app import STATIC_DIR

    def classes(name):
        rules = re.sub(r"/\*.*?\*/", "", (STATIC_DIR / name).read_text(encoding="utf-8"), flags=re.S)
        return {cls for selector in re.findall(r"([^{}]+)\{", rules) for cls in re.findall(r"\.([\w-]+)", selector)}

    templates = STATIC_DIR.parent / "templates"
    only_pages = classes("css/pages.css") - classes("css/app.css") - classes("css/office.css")  # .narrow, not .card
    lean = [*templates.glob("admin/*.html"), *templates.glob("mail_servers/_*.html"),
            templates / "_panel.html", templates / "profile/personal_data.html", templates / "profile/region.html",
            templates / "notifications/_section.html"]
    for template in lean:
        used = {name for attr in re.findall(r'class="([^"]*)"', template.read_text(encoding="utf-8"))
                for name in re.sub(r"\{[{%].*?[%}]\}", " ", attr).split()}
        assert not used & only_pages, f"{template.relative_to(templates)} uses {sorted(used & only_pages)} of pages.css"

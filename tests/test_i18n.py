"""The Russian catalog is complete and every user-facing template string is translatable (issue 2)."""
import re

import pytest
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from models import User
from tests.conftest import csrf_from, sign_in

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations/ru/LC_MESSAGES/messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "pgettext": ((1, "c"), 2)}


def catalog():
    return read_po(BytesIO(PO.read_bytes()), locale="ru")


def extracted_ids():
    ids = set()
    for folder, method in (("blueprints", "python"), ("services", "python"), ("templates", "jinja2")):
        pattern = "**.py" if method == "python" else "**.html"
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder, [(pattern, method)], keywords=KEYWORDS
        ):
            ids.add(message if isinstance(message, str) else message[0])
    for name in ("app.py", "extensions.py"):
        from babel.messages.extract import extract_from_file

        for _line, message, _comments, _ctx in extract_from_file("python", ROOT / name, keywords=KEYWORDS):
            ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_russian_catalog_has_no_untranslated_or_fuzzy_entries():
    forms = lambda m: m.string if isinstance(m.string, tuple) else (m.string,)  # noqa: E731 (plurals: every form)
    missing = [m.id for m in catalog() if m.id and (not all(forms(m)) or "fuzzy" in m.flags)]
    assert missing == []


def test_every_string_in_the_code_is_in_the_catalog():
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog()}
    assert sorted(extracted_ids() - known) == [], "run `make translations` and translate the new entries"


class LiteralText(HTMLParser):
    """Collects human-readable text in a template once Jinja expressions and tags are removed."""

    ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}

    def __init__(self):
        super().__init__()
        self.found = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in self.ATTRIBUTES and value and re.search(r"[A-Za-zА-Яа-я]", value):
                self.found.append(f"{tag}[{name}]={value}")

    def handle_data(self, data):
        if re.search(r"[A-Za-zА-Яа-я]{2,}", data):
            self.found.append(data.strip())


# Proper names that stay the same in every language, an HTTP header, and the columns a CSV file must have.
ALLOWED_TEXT = {"Kabinet", "English", "Русский", "· Kabinet", "Authorization: Bearer <>", "name, email, phone, country, tags"}


def test_templates_have_no_text_outside_translation_functions():
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        source = path.read_text()
        source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
        source = re.sub(r"\{%.*?%\}", "", source, flags=re.S)
        source = re.sub(r"\{\{.*?\}\}", "", source, flags=re.S)
        parser = LiteralText()
        parser.feed(source)
        problems += [f"{path.relative_to(ROOT)}: {text}" for text in parser.found if text not in ALLOWED_TEXT]
    assert problems == []


def test_forced_locale_switches_strings_and_templates_and_back(app):
    """The catalog is looked up once per request (extensions.RequestDomain); mail in the recipient's
    language (force_locale) must still come out in that language, and the page after it in the page's."""
    from flask import render_template_string
    from flask_babel import force_locale, gettext

    with app.test_request_context("/", headers={"Accept-Language": "ru"}):
        assert gettext("Saved.") == "Сохранено."
        with force_locale("en"):
            assert gettext("Saved.") == "Saved."
            assert render_template_string("{{ _('Saved.') }}") == "Saved."
        assert gettext("Saved.") == render_template_string("{{ _('Saved.') }}") == "Сохранено."


# --- the Russian scan (issue "What a person sees"): no English left on a Russian page, e-mail or SMS -----------

# Names that stay as they are in Russian text: products, protocols, formats and units.
ENGLISH_ALLOWED = {
    "Kabinet", "English", "Telegram", "Slack", "Google", "Authenticator", "Microsoft", "Yandex", "Apple", "Android",
    "Chrome", "Firefox", "Safari", "Windows", "Linux", "macOS", "iOS", "Werkzeug", "Bearer", "Authorization",
    "API", "SMS", "SMTP", "STARTTLS", "SSL", "TLS", "TOTP", "HTTP", "HTTPS", "URL", "CSV", "JSON", "PDF", "ZIP",
    "HMAC", "SHA", "OpenAPI", "IBAN", "BIC", "SWIFT", "Idempotency", "Key", "Content", "Type", "Signature",
    "WebAuthn", "FIDO", "YubiKey", "PIN", "Aegis", "Gmail", "UTC", "GMT", "CIDR", "UTF", "GDPR", "POST", "README",
    "PNG", "JPEG", "JPG", "GIF", "WebP", "TXT", "DOCX", "XLSX", "ODT", "ODS",
    "E-mail", "e-mail",  # as Russian writes it
}
# Columns holding what people typed (names, addresses, descriptions): their words are the person's, not ours.
TYPED_COLUMNS = {
    "ApiKey": ("name",), "AuditEvent": ("target", "user_agent"), "BalanceEntry": ("cause",),
    "BillingDetails": ("postal_address", "bank_name", "billing_email"), "Client": ("name", "email"),
    "ClientTag": ("caption",), "EventComment": ("text",), "Invoice": ("description",),
    "MailServer": ("host", "username", "from_email", "from_name", "reason"), "Organization": ("name", "legal_address", "okved"),
    "Passkey": ("name",), "ProcessingAgreement": ("processor", "purpose", "data_categories", "legal_basis"),
    "StoredFile": ("name",), "User": ("email", "full_name", "short_info"), "UserSession": ("user_agent",),
    "Webhook": ("url",),
}
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")


def typed_words():
    """Every Latin word in what people typed (the demo's and the scan's own data)."""
    from tests.conftest import all_models

    words = set()
    for model in all_models():
        if model.__name__ == "Group":
            rows = model.select().where(model.is_administrators == False)  # noqa: E712 (its name is ours)
            words.update(w for row in rows for w in LATIN_WORD.findall(row.name))
        for column in TYPED_COLUMNS.get(model.__name__, ()):
            for value in model.select(getattr(model, column)).tuples():
                words.update(LATIN_WORD.findall(str(value[0] or "")))
    return words


class VisibleText(HTMLParser):
    """What a person reads on a page: text outside <script>/<style>, and the attributes shown or spoken.
    What is to be typed or copied as it is (<code>: a key, a header, the columns of a CSV file) is left out."""

    SHOWN = {"title", "placeholder", "aria-label", "alt"}

    def __init__(self):
        super().__init__()
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template", "code"):
            self.hidden += 1
        attributes = dict(attrs)
        self.parts += [value for name, value in attrs if name in self.SHOWN and value]
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template", "code"):
            self.hidden = max(0, self.hidden - 1)

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def english_words(text, allowed=()):
    """The English words left in `text` once addresses, links and allowed names are taken out."""
    text = re.sub(r"https?://\S*|[\w.+-]+@[\w.-]+|/[\w./?=&%<>-]+|\b\w*\d\w*\b|\b[\w-]+(\.[\w-]+)*\.(com|ru|org|net|local)\b",
                  " ", text)
    return sorted({w for w in LATIN_WORD.findall(text)
                   if len(w) >= 3 and w not in ENGLISH_ALLOWED and w not in allowed})


def page_text(html):
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


@pytest.fixture
def russian_world(app):
    """The demo organization with something on every page, its owner and administrator reading Russian pages
    (language "the browser's": the pages are Russian because the browser asks for it)."""
    import io

    from services import export
    from services.demo import DEMO_PEOPLE, load_demo

    load_demo()
    people = {role: (email, password) for email, password, role in DEMO_PEOPLE}
    owner = app.test_client()
    owner.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru-RU,ru;q=0.9"
    sign_in(owner, *people["owner"])
    token = csrf_from(owner.get("/app/security/api-keys").get_data(as_text=True))
    owner.post("/admin/clients/import", content_type="multipart/form-data",
               data={"csrf_token": token, "file": (io.BytesIO("name,email\nОльга,olga@example.com\n".encode()), "c.csv")})
    created = owner.post("/app/security/api-keys", data={"csrf_token": token, "name": "CRM", "scopes": "read"})
    owner.post("/app/security/webhooks", data={"csrf_token": token, "url": "https://example.com/hooks",
                                               "events": ["operation.finished"], "enabled": "y"})
    owner_row = User.get(User.email == people["owner"][0])
    with app.test_request_context():
        export.request_export(owner_row)
        export.run_pending_exports(app.config)
    admin = app.test_client()
    admin.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    sign_in(admin, *people["admin"])
    employee = User.get(User.email == people["employee"][0])
    started = admin.post(f"/admin/users/{employee.id}/impersonate",
                         data={"csrf_token": csrf_from(admin.get(f"/admin/users/{employee.id}").get_data(as_text=True))})
    assert started.status_code == 303 and employee.email in admin.get("/app/personal-data").get_data(as_text=True)
    return owner, created, admin


def sample_urls(app):
    """Every page of the URL map: rules without parameters, and those with an id once for each kind of row."""
    from models import ApiKey, AuditEvent, Group, Invoice, ProcessingAgreement, Webhook

    ids = {"event_id": [e.id for e in AuditEvent.select().order_by(AuditEvent.id.desc()).limit(40)],
           "group_id": [g.id for g in Group.select()], "user_id": [u.id for u in User.select()],
           "invoice_id": [i.id for i in Invoice.select().limit(3)], "key_id": [k.id for k in ApiKey.select()],
           "hook_id": [h.id for h in Webhook.select()], "agreement_id": [a.id for a in ProcessingAgreement.select()]}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static")) or rule.rule.endswith((".pdf", ".json")):
            continue
        names = list(rule.arguments)
        if not names:
            urls.append(rule.rule)
        elif len(names) == 1 and names[0] in ids:
            urls += [rule.rule.replace(f"<int:{names[0]}>", str(i)) for i in ids[names[0]]]
    return sorted(set(urls))


def test_russian_pages_have_no_english_words(app, russian_world):
    """Every page as the owner sees it, and as the administrator "signed in as" the employee sees it; the
    signed-out pages and the error page."""
    owner, created, impersonating = russian_world
    visitor = app.test_client()
    visitor.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    allowed = typed_words()
    problems = {}
    pages = {url: owner.get(url) for url in sample_urls(app)}
    pages.update({f"as employee {url}": impersonating.get(url) for url in sample_urls(app)})
    pages.update({f"signed out {url}": visitor.get(url) for url in ("/login", "/forgot-password", "/reset-password/x")})
    pages["POST /app/security/api-keys"] = created
    for url, response in pages.items():
        if response.mimetype != "text/html" or response.status_code in (301, 302, 303):
            continue
        found = english_words(page_text(response.get_data(as_text=True)), allowed)
        if found:
            problems[url] = found
    assert problems == {}, "\n".join(f"{url}: {' '.join(words)}" for url, words in problems.items())


@pytest.mark.parametrize("language, hint", [("en", "Authorization: Bearer &lt;your key&gt;"),
                                            ("ru", "Authorization: Bearer &lt;ваш ключ&gt;")])
def test_the_new_api_key_hint_shows_its_placeholder_as_text(signed_in, language, hint):
    """The translated hint's <key> went out as an HTML tag: "Authorization: Bearer ." on the page."""
    signed_in.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    token = csrf_from(signed_in.get("/app/security/api-keys").get_data(as_text=True))
    html = signed_in.post("/app/security/api-keys", data={"csrf_token": token, "name": "CRM", "scopes": "read"}
                          ).get_data(as_text=True)
    assert f"<code>{hint}</code>" in html and "<key>" not in html and "<ключ>" not in html


@pytest.mark.parametrize("language, moscow, utc", [("en", "(UTC+03:00) Moscow", "Coordinated Universal Time"),
                                                   ("ru", "(UTC+03:00) Москва", "Всемирное координированное время")])
def test_time_zones_read_as_offset_and_city_in_the_readers_language(signed_in, user, language, moscow, utc):
    User.update(country="RU", time_zone="Europe/Moscow").where(User.id == user.id).execute()
    signed_in.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    assert moscow in page_text(signed_in.get("/app/personal-data").get_data(as_text=True))
    html = signed_in.get("/app/personal-data/region?zones=Europe").get_data(as_text=True)
    zone_select = html.split('name="time_zone"', 1)[1].split("</select>", 1)[0]
    labels = re.findall(r'<option [^>]*value="[A-Z][^"]*"[^>]*>([^<]*)</option>', zone_select)
    offsets = [re.match(r"\(UTC([+−])(\d\d):(\d\d)\)", label).groups() for label in labels]
    minutes = [(1 if sign == "+" else -1) * (int(h) * 60 + int(m)) for sign, h, m in offsets]
    assert minutes == sorted(minutes) and len(labels) > 40, "sorted by offset"
    assert f"(UTC+00:00) {utc}" in labels and moscow in labels and not any("/" in label for label in labels)

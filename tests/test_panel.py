"""The account panel on every signed-in page (seed 003): the person, the organization, administration, each
entry shown only to those allowed; the current page marked; no entry leads to a closed page."""
import re

from tests.conftest import sign_in


def panel_links(html):
    """[(href, text, current)] of the panel's links."""
    nav = re.search(r'<details class="panel">(.*?)</details>', html, re.DOTALL)
    assert nav, "no account panel on the page"
    return [(href, text.strip(), bool(current))
            for href, current, text in re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', nav.group(1))]


def test_a_member_without_permissions_sees_only_their_own_entries(signed_in):
    links = panel_links(signed_in.get("/app/personal-data").get_data(as_text=True))
    assert [text for _href, text, _c in links] == [
        "Personal data", "Security", "Notifications", "List of operations", "My data", "Integrations"]
    assert [text for _href, text, current in links if current] == ["Personal data"]
    for href, text, _current in links:
        assert signed_in.get(href, follow_redirects=True).status_code == 200, (href, text)


def test_an_administrator_sees_the_organization_and_administration(admin_client):
    html = admin_client.get("/app/security/sessions").get_data(as_text=True)
    links = panel_links(html)
    texts = [text for _href, text, _c in links]
    assert texts[5:] == ["Settlements", "File manager", "Data processing agreements", "Integrations", "Users", "Groups", "Client tags",
                         "Clients", "Events log", "Organization"]
    assert "Organization</p>" in html and "Administration</p>" in html  # the group titles
    assert [text for _href, text, current in links if current] == ["Security"]
    for href, text, _current in links:
        assert admin_client.get(href, follow_redirects=True).status_code == 200, (href, text)


def test_the_current_entry_follows_the_page(admin_client):
    for url, current in [
        ("/app/security/api-keys", "Integrations"),  # organization-wide: not under the person's Security
        ("/app/security/webhooks", "Integrations"),
        ("/app/security/passkeys/", "Security"),
        ("/app/account/invoices", "Settlements"),
        ("/app/account/privacy", "My data"),
        ("/app/operations", "List of operations"),
        ("/admin/events", "Events log"),
        ("/admin/users/new", "Users"),
    ]:
        links = panel_links(admin_client.get(url).get_data(as_text=True))
        assert [text for _href, text, is_current in links if is_current] == [current], url


def test_the_panel_speaks_russian(app, client, admin):
    admin.language = "ru"
    admin.save()
    sign_in(client, "boss@example.com")
    html = client.get("/app/personal-data").get_data(as_text=True)
    for word in ("Меню", "Мой профиль", "Личные данные", "Расчёты", "Интеграции", "Администрирование"):
        assert word in html, word


def test_signed_out_pages_have_no_panel(client):
    assert 'class="panel"' not in client.get("/login").get_data(as_text=True)


def test_every_entry_is_named_as_its_page_in_both_languages(app, client, admin):
    """The panel says what the page it opens says in its heading (not "Personal account" for "Personal data")."""
    sign_in(client, "boss@example.com")
    for language in ("en", "ru"):
        admin.language = language
        admin.save()
        for href, text, _current in panel_links(client.get("/app/personal-data").get_data(as_text=True)):
            html = client.get(href, follow_redirects=True).get_data(as_text=True)
            heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.DOTALL).group(1)
            assert text == re.sub(r"<[^>]+>", "", heading).strip(), (language, href)


def test_the_kept_panel_follows_language_and_permissions(signed_in, user):
    """The panel's HTML is kept per language and set of entries (panel_html): the same person's next page in
    another language, or after a new permission, gets the panel that matches, never the one kept before."""
    from services.permissions import grant

    def texts():
        return [text for _h, text, _c in panel_links(signed_in.get("/app/personal-data").get_data(as_text=True))]

    assert texts() == texts() and "Settlements" not in texts()
    user.language = "ru"
    user.save()
    assert texts()[0] == "Личные данные"
    grant(user, "billing.view")
    assert "Расчёты" in texts()
    user.language = "en"
    user.save()
    assert "Settlements" in texts() and texts()[0] == "Personal data"

"""Signing in and out, and the reset-password flow, in Chromium with JavaScript on and off."""
import re

import pytest

from models import Organization
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import new_page, sign_in_page
from tests.smtp_peers import smtp_server


@pytest.fixture
def anna(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»")
        return make_user(org)


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_sign_in_and_out(browser, live_server, anna, js):
    page = new_page(browser, js)
    page.goto(f"{live_server.url}/login")
    page.fill("#email", "anna@example.com")
    page.fill("#password", "wrong password entirely")
    page.click("#login-form button[type=submit]")
    page.get_by_text("Wrong e-mail or password.").wait_for()
    assert page.input_value("#email") == "anna@example.com"  # input kept

    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/app/personal-data")
    assert page.locator("#topbar-label").inner_text() == "Anna Test"

    page.click(".menu summary")  # a <details> menu: works without JavaScript too
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.get_by_text("You have signed out.").wait_for()
    page.goto(f"{live_server.url}/app/personal-data")
    page.wait_for_url(re.compile(r"/login\?next=%2Fapp%2Fpersonal-data$|/login\?next=/app/personal-data$"))
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_reset_password_from_mailed_link(browser, live_server, anna, js):
    with smtp_server() as smtp:
        live_server.app.config.update(MAIL_HOST=smtp.host, MAIL_PORT=smtp.port, MAIL_SECURITY="none")
        page = new_page(browser, js)
        page.goto(f"{live_server.url}/login")
        page.get_by_role("link", name="Forgot password?").click()
        page.fill("#email", "Anna@Example.com")
        page.get_by_role("button", name="Send link").click()
        page.get_by_text("If an account uses this address").wait_for()
        mail = smtp.wait_for(1)[0].message
        link = re.search(r"http://\S+/reset-password/\S+", mail.get_content()).group(0)

    page.goto(link)
    page.fill("#password", "lilac tunnel orbit ninety three")
    page.fill("#repeat", "lilac tunnel orbit ninety three")
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url("**/login")
    page.get_by_text("Your password has been changed.").wait_for()
    sign_in_page(page, live_server, password="lilac tunnel orbit ninety three")

    page.goto(link)  # the link works once
    page.get_by_text("This link no longer works").wait_for()
    assert page.csp_violations == []
    page.context.close()


def test_russian_pages_and_language_switch(browser, live_server, anna):
    page = new_page(browser, True, locale="ru-RU")
    page.goto(f"{live_server.url}/login")
    assert page.locator("h1").inner_text() == "Вход в личный кабинет"
    assert page.locator("html").get_attribute("lang") == "ru"
    page.get_by_role("button", name="English").click()
    page.wait_for_url("**/login")
    assert page.locator("h1").inner_text() == "Sign in to your account"
    page.context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_sign_in_with_a_hostile_next_stays_on_this_site(browser, live_server, anna, js):
    """SECURITY.md 28: /login?next=/%5Cevil.example/... and its kin land on this site, htmx or not."""
    from urllib.parse import quote, urlsplit

    from tests.test_security_redirects import HOSTILE_TARGETS

    page = new_page(browser, js)
    elsewhere = []
    # A request to another host would be a phishing page: answer it here and note it.
    page.context.route(lambda url: urlsplit(url).hostname != "127.0.0.1",
                       lambda route: (elsewhere.append(route.request.url), route.fulfill(body="phished"))[1])
    for target in HOSTILE_TARGETS:
        page.goto(f"{live_server.url}/login?next={quote(target, safe='')}")
        page.fill("#email", "anna@example.com")
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        assert urlsplit(page.url).netloc == urlsplit(live_server.url).netloc, (target, page.url)
        assert page.url == f"{live_server.url}/app/personal-data", target
        page.context.clear_cookies()
    assert elsewhere == []
    assert page.csp_violations == []
    page.context.close()

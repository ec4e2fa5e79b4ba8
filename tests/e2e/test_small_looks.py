"""Small things a person sees, in Chromium with JavaScript on and off: the password eye (an SVG, on sign-in and
reset too), the SMS code popup after Esc, the notification grid's hint, "Select all" without JS, and a too-large
profile picture without JS."""
import re
from pathlib import Path

import pytest

from models import MailServer, Organization
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import new_page, sign_in_page
from tests.e2e.test_profile import sms_code
from tests.test_mail_servers import add_server


@pytest.fixture
def anna(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»", tin="7704123450", kpp="770401001", ogrn="1027704123457",
                                  balance="1234.50")
        return make_user(org)


def test_the_password_eye_is_an_svg_that_shows_the_password_on_sign_in(page, live_server, anna):
    page.goto(f"{live_server.url}/login")
    eye = page.get_by_role("button", name="Show or hide the password")
    assert eye.is_visible() and eye.locator("svg").count() == 1
    assert not re.search(r"[\U0001F300-\U0001FAFF]", eye.inner_text())  # no emoji to show as an empty box
    page.fill("#email", "anna@example.com")
    page.fill("#password", PASSWORD)
    eye.click()
    assert page.get_attribute("#password", "type") == "text" and eye.get_attribute("aria-pressed") == "true"
    eye.click()
    assert page.get_attribute("#password", "type") == "password"
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/app/personal-data")


def test_the_reset_page_has_an_eye_on_both_fields(page, live_server, anna):
    from services import tokens

    with live_server.app.app_context():
        secret = tokens.issue_token(anna, "reset", tokens.RESET_LIFETIME)
    page.goto(f"{live_server.url}/reset-password/{secret}")
    eyes = page.get_by_role("button", name="Show or hide the password")
    assert eyes.count() == 2
    eyes.nth(1).click()
    assert page.get_attribute("#repeat", "type") == "text" and page.get_attribute("#password", "type") == "password"


def test_without_javascript_there_is_no_eye_and_signing_in_works(page_nojs, live_server, anna):
    page_nojs.goto(f"{live_server.url}/login")
    assert page_nojs.locator(".eye").count() == 1 and not page_nojs.locator(".eye").is_visible()
    sign_in_page(page_nojs, live_server)


def test_esc_closes_the_code_popup_and_a_button_opens_it_again(page, live_server, anna):
    sign_in_page(page, live_server)
    page.fill("#phone", "+7 912 345 67 89")
    page.get_by_role("button", name="Send a code").click()
    dialog = page.locator("dialog.code-dialog")
    dialog.wait_for()
    text = dialog.inner_text()
    assert text.count("+7 912 345-67-89") == 1 and "+79123456789" not in text  # once, as people write it
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    page.get_by_role("button", name="Enter the code").click()
    assert dialog.evaluate("d => d.open && d.matches(':modal')")
    dialog.locator("#code").fill(sms_code(live_server))
    dialog.get_by_role("button", name="Confirm").click()
    page.get_by_text("Your phone number +7 912 345-67-89 is confirmed.").wait_for()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_the_notification_grid_says_how_it_saves(browser, live_server, anna, js):
    page = new_page(browser, js)
    sign_in_page(page, live_server)
    hint = page.locator("#notifications > p.hint")
    assert hint.get_by_text("Each box is saved as soon as you change it.").is_visible() is js
    assert page.locator("#notification-grid").get_by_role("button", name="Save").is_visible() is not js
    page.context.close()


def test_without_javascript_there_is_no_select_all_and_only_ticked_servers_go(page_nojs, live_server, anna):
    _one, two = (add_server(live_server.app, anna, host=host) for host in ("a.example.com", "b.example.com"))
    page = page_nojs
    sign_in_page(page, live_server)
    assert page.locator("[data-select-all]").count() == 1 and not page.locator("[data-select-all]").is_visible()
    page.get_by_label("Select a.example.com:587").check()
    page.get_by_role("button", name="Delete selected").click()
    page.get_by_text("Delete 1 mail server?").wait_for()
    page.get_by_role("button", name="Delete").click()
    page.get_by_text("1 mail server deleted.").wait_for()
    assert [s.id for s in MailServer.select()] == [two.id]


def test_a_too_large_picture_without_javascript_comes_back_at_the_field(page_nojs, live_server, anna, tmp_path):
    big = Path(tmp_path) / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"\x00" * (3 * 1024 * 1024 + 200_000))
    page = page_nojs
    sign_in_page(page, live_server)
    page.set_input_files("#picture", str(big))
    page.get_by_role("button", name="Upload picture").click()
    page.locator("#picture-error").get_by_text("The picture is too large: at most 3 MB.").wait_for()
    assert page.url.endswith("/app/personal-data?picture=too-large#picture-block")
    assert page.get_attribute("#picture", "aria-invalid") == "true"


def test_client_tags_with_htmx_break_no_content_security_rule(page, live_server, anna):
    """Adding, renaming and deleting tags swap the card; the `page` fixture fails on any CSP report in the console,
    and the page's own securitypolicyviolation events are checked too."""
    from services.permissions import grant

    grant(anna, "tags.manage")
    page.add_init_script("window.cspReports = []; document.addEventListener('securitypolicyviolation',"
                         " function (e) { window.cspReports.push(e.violatedDirective + ' ' + e.sample); });")
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/admin/client-tags")
    for caption in ("VIP", "Опт"):
        page.fill("#caption", caption)
        page.get_by_role("button", name="Add tag").click()
        page.locator("#tags-card td", has_text=caption).wait_for()
    page.get_by_role("button", name="Add tag").click()  # empty: the card again with the error (422)
    page.locator("#tags-card .error").wait_for()
    page.get_by_role("link", name="Edit").first.click()
    # the rename form's field (its action names the tag), waited for: the create form's field is there at once,
    # and filling that one before the swap lands renamed nothing (the test was flaky under load)
    page.fill("#tags-card form[action^='/admin/client-tags/'] input[name=caption]", "VIP+")
    page.get_by_role("button", name="Save").click()
    page.locator("#tags-card td", has_text="VIP+").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").first.click()
    page.get_by_text("deleted.").wait_for()
    assert page.evaluate("window.cspReports") == []

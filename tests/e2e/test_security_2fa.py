"""Two-factor authentication in Chromium, JavaScript on and off: enable TOTP by reading the key off the
page, sign out, sign in with a code, then with a recovery code."""
import time
from pathlib import Path

import pyotp
import pytest

from models import Organization, TotpSecret
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import new_page, sign_in_page


@pytest.fixture
def anna(live_server):
    org = Organization.create(name="ООО «Тест»")
    return make_user(org)


def fresh_code(secret, used_step):
    """The authenticator's code for a step after `used_step` (a code is accepted only once)."""
    totp = pyotp.TOTP(secret)
    while int(time.time() // 30) <= used_step - 1:
        time.sleep(0.5)
    step = max(int(time.time() // 30), used_step + 1)
    return totp.generate_otp(step)


def sign_out(page):
    page.click(".menu summary")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")


def sign_in_with_code(page, live_server, code):
    page.goto(f"{live_server.url}/login")
    page.fill("#email", "anna@example.com")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/login/code")
    page.fill("#code", code)
    page.click("#code-form button[type=submit]")


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_enable_totp_then_sign_in_with_a_code_and_a_recovery_code(browser, live_server, anna, js):
    page = new_page(browser, js)
    sign_in_page(page, live_server)
    page.click(".menu summary")
    page.get_by_role("link", name="Enable 2FA").click()
    page.wait_for_url("**/app/security/2fa/totp")
    assert page.locator(".qr-box svg").is_visible()
    secret = page.locator("#totp-secret").inner_text()

    page.fill("#code", "000000")
    page.click("#totp-form button[type=submit]")
    page.get_by_text("This code is not right").wait_for()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#totp-form button[type=submit]")
    page.wait_for_url("**/app/security/recovery-codes")
    page.get_by_text("Two-factor authentication is on").wait_for()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as a text file").click()
    assert codes[0] in Path(download.value.path()).read_text()

    sign_out(page)
    used = TotpSecret.get().last_step
    sign_in_with_code(page, live_server, fresh_code(secret, used))
    page.wait_for_url("**/app/personal-data")

    sign_out(page)
    sign_in_with_code(page, live_server, codes[0])
    page.wait_for_url("**/app/personal-data")
    page.get_by_text("You used a recovery code. 9 left.").wait_for()

    page.goto(f"{live_server.url}/app/security/")
    page.get_by_text("On: codes from an authenticator app.").wait_for()
    assert page.csp_violations == []
    page.context.close()

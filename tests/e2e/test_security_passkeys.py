"""Passkeys in Chromium with its virtual authenticator (CDP WebAuthn domain): register one, sign out, sign in
with the password and then the key, remove it; English and Russian. Without JavaScript the pages say a
passkey needs it and the codes still work.

WebAuthn refuses an IP address as relying-party id, so these pages are opened as http://localhost:<port>
(still the loopback server; Chromium treats localhost as a secure context)."""
import re

import pytest

from models import Organization, Passkey
from services import otp
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import new_page

TEXT = {
    "en": {"add": "Add a passkey", "added": "The passkey “My key” is added", "use": "Use a security key",
           "removed": "The passkey “My key” is removed", "none": "You have no passkeys yet.", "sign_out": "Sign out"},
    "ru": {"add": "Добавить ключ доступа", "added": "Ключ доступа «My key» добавлен", "use": "Войти с электронным ключом",
           "removed": "Ключ доступа «My key» удалён", "none": "У вас пока нет ключей доступа.", "sign_out": "Выйти"},
}


@pytest.fixture
def anna(live_server):
    """Anna with TOTP on and a fresh set of recovery codes (a passkey is an extra second factor)."""
    user = make_user(Organization.create(name="ООО «Тест»"))
    otp.enable_totp(user, otp.new_totp_secret(), 0)
    user.codes = otp.new_recovery_codes(user)
    return user


def local_url(live_server):
    return live_server.url.replace("127.0.0.1", "localhost")


def virtual_authenticator(page):
    """A CTAP2 USB key with user verification, in Chromium (CDP WebAuthn domain); returns (session, its id)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True,
    }})
    return cdp, added["authenticatorId"]


def password_step(page, base):
    page.goto(f"{base}/login")
    page.fill("#email", "anna@example.com")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/login/code")


def sign_in_with_recovery_code(page, base, code):
    password_step(page, base)
    page.fill("#code", code)
    page.click("#code-form button[type=submit]")
    page.wait_for_url("**/app/personal-data")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_register_a_passkey_sign_in_with_it_and_remove_it(browser, live_server, anna, lang):
    text = TEXT[lang]
    page = new_page(browser, True, locale="ru-RU" if lang == "ru" else "en-US")
    cdp, authenticator_id = virtual_authenticator(page)
    base = local_url(live_server)
    if lang == "ru":
        anna.language = "ru"
        anna.save()
    sign_in_with_recovery_code(page, base, anna.codes[0])

    page.goto(f"{base}/app/security/passkeys/")
    page.get_by_text(text["none"]).wait_for()
    page.fill("#name", "My key")
    page.get_by_role("button", name=text["add"]).click()
    page.get_by_text(text["added"]).wait_for()
    assert page.locator("#passkey-table input[type=text]").input_value() == "My key"
    assert Passkey.select().count() == 1
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]) == 1

    page.click(".menu summary")
    page.get_by_role("button", name=text["sign_out"]).click()
    page.wait_for_url("**/login")
    password_step(page, base)
    page.get_by_role("button", name=text["use"]).click()
    page.wait_for_url("**/app/personal-data")
    assert Passkey.get().last_used_at is not None

    page.goto(f"{base}/app/security/passkeys/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#passkey-table button.danger").click()
    page.get_by_text(text["removed"]).wait_for()
    page.get_by_text(text["none"]).wait_for()
    assert Passkey.select().count() == 0
    assert page.csp_violations == []
    page.context.close()


def test_a_cancelled_or_unknown_key_shows_a_message_and_codes_still_work(browser, live_server, anna):
    """A key that is not Anna's (the authenticator has no matching credential): Chromium reports an error,
    the page says so, and the recovery code still signs her in."""
    page = new_page(browser, True)
    virtual_authenticator(page)
    base = local_url(live_server)
    Passkey.create(user=anna, name="Lost key", credential_id="bG9zdC1rZXktY3JlZGVudGlhbA", public_key="AA")
    password_step(page, base)
    page.get_by_role("button", name="Use a security key").click()
    page.locator("#passkey-form [data-passkey-error]").wait_for(timeout=20_000)
    assert re.search("did not answer|could not be checked", page.locator("#passkey-form [data-passkey-error]").inner_text())
    page.fill("#code", anna.codes[1])
    page.click("#code-form button[type=submit]")
    page.wait_for_url("**/app/personal-data")
    assert page.csp_violations == []
    page.context.close()


def test_without_javascript_the_pages_say_a_passkey_needs_it(browser, live_server, anna):
    page = new_page(browser, False)
    base = local_url(live_server)
    Passkey.create(user=anna, name="My key", credential_id="bXkta2V5", public_key="AA")
    password_step(page, base)
    assert page.locator("#passkey-nojs").is_visible()
    assert not page.get_by_role("button", name="Use a security key").is_visible()
    page.fill("#code", anna.codes[0])
    page.click("#code-form button[type=submit]")
    page.wait_for_url("**/app/personal-data")
    page.goto(f"{base}/app/security/passkeys/")
    assert "Adding a passkey needs JavaScript" in page.locator("#passkey-nojs").inner_text()
    assert not page.locator("#add-passkey").is_visible()
    assert page.locator("#passkey-table input[type=text]").input_value() == "My key"
    page.locator("#passkey-table button.danger").click()
    page.get_by_text("The passkey “My key” is removed").wait_for()
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_sign_in_with_a_passkey_alone(browser, live_server, anna, lang):
    """A discoverable credential with user verification: "Sign in with a passkey" on the sign-in page,
    no e-mail, no password, no code. Without JavaScript the button is not there and the password works."""
    text = {"en": ("Sign in with a passkey", "Add a passkey", "Sign out"),
            "ru": ("Войти с ключом доступа", "Добавить ключ доступа", "Выйти")}[lang]
    page = new_page(browser, True, locale="ru-RU" if lang == "ru" else "en-US")
    cdp, authenticator_id = virtual_authenticator(page)
    base = local_url(live_server)
    if lang == "ru":
        anna.language = "ru"
        anna.save()
    sign_in_with_recovery_code(page, base, anna.codes[0])
    page.goto(f"{base}/app/security/passkeys/")
    page.fill("#name", "My key")
    page.get_by_role("button", name=text[1]).click()
    page.locator("#passkey-table").wait_for()
    from playwright.sync_api import expect

    expect(page.locator("#passkey-table input[type=text]")).to_have_count(1)  # a locator wait: CSP forbids eval
    (credential,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert credential["isResidentCredential"], "a discoverable credential"
    page.click(".menu summary")
    page.get_by_role("button", name=text[2]).click()
    page.wait_for_url("**/login")
    page.get_by_role("button", name=text[0]).click()
    page.wait_for_url("**/app/personal-data")
    assert Passkey.get().last_used_at is not None
    assert page.csp_violations == []
    page.context.close()

    nojs = new_page(browser, False)
    nojs.goto(f"{base}/login")
    assert not nojs.get_by_role("button", name="Sign in with a passkey").is_visible()
    assert nojs.locator("#login-form").is_visible()
    nojs.context.close()

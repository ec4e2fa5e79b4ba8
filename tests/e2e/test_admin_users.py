"""Back-office users in Chromium, JavaScript on and off (issue 6): create a user with "Send to email",
follow the mailed link from the outbox, sign in as them, disable them while they are signed in;
"Sign in as" with its banner and the way back."""
import email
import re
from pathlib import Path

import pytest

from models import Organization, User
from services.permissions import add_to_group, administrators_group
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page

NEW_PASSWORD = "quiet harbour lantern seventy one"


@pytest.fixture
def boss(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»")
        admin = make_user(org, "boss@example.com", full_name="Boss Admin", role="owner")
        add_to_group(admin, administrators_group(org))
        make_user(org, "w@example.com", full_name="Walter Worker")
        return admin


def mailed_link(live_server, to):
    """The set-password link of the newest message to `to` in the app's outbox (no MAIL_HOST set)."""
    outbox = Path(live_server.app.config["INSTANCE_PATH"]) / "outbox"
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == to:
            text = message.get_content()
            assert "password:" not in text.lower()  # a link to choose one, never a password
            return re.search(r"http://\S+/reset-password/\S+", text).group(0)
    raise AssertionError(f"no mail to {to} in {outbox}")


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_create_send_to_email_sign_in_and_disable(browser, live_server, boss, js):
    admin = new_page(browser, js)
    sign_in_page(admin, live_server, "boss@example.com")
    admin.goto(f"{live_server.url}/admin/users")
    admin.get_by_role("link", name="Add user").click()
    admin.fill("#full_name", "Nina Newcomer")
    admin.fill("#email", "Nina@Example.com")
    assert admin.is_checked("#send_to_email")
    admin.get_by_role("button", name="Create user").click()
    admin.get_by_text("A link to set a password was sent to them.").wait_for()
    assert re.search(r"/admin/users/\d+$", admin.url)
    details_url = admin.url

    person = new_page(browser, js)
    person.goto(mailed_link(live_server, "nina@example.com"))
    person.fill("#password", NEW_PASSWORD)
    person.fill("#repeat", NEW_PASSWORD)
    person.get_by_role("button", name="Save password").click()
    person.wait_for_url("**/login")
    sign_in_page(person, live_server, "nina@example.com", NEW_PASSWORD)
    assert person.locator("#topbar-label").inner_text() == "Nina Newcomer"

    admin.goto(details_url)
    admin.select_option("#status", "disabled")
    admin.get_by_role("button", name="Save").click()
    admin.get_by_text("Changes to nina@example.com saved.").wait_for()
    with live_server.app.app_context():
        assert User.get(User.email == "nina@example.com").status == "disabled"

    person.goto(f"{live_server.url}/app/personal-data")  # their very next request
    person.wait_for_url(re.compile(r"/login"))
    person.fill("#email", "nina@example.com")
    person.fill("#password", NEW_PASSWORD)
    person.click("#login-form button[type=submit]")
    person.get_by_text("This account is disabled").wait_for()
    assert admin.csp_violations == [] and person.csp_violations == []
    admin.context.close()
    person.context.close()


@pytest.mark.parametrize("js,locale", [(True, "en-US"), (False, "ru-RU")], ids=["js-en", "nojs-ru"])
def test_sign_in_as_shows_a_banner_and_returns(browser, live_server, boss, js, locale):
    english = locale == "en-US"
    page = new_page(browser, js, locale=locale)
    sign_in_page(page, live_server, "boss@example.com")
    with live_server.app.app_context():
        worker = User.get(User.email == "w@example.com")
    page.goto(f"{live_server.url}/admin/users/{worker.id}")
    page.locator("details.actions summary").click()
    page.get_by_role("button", name="Sign in as" if english else "Войти как").click()
    page.wait_for_url("**/app/personal-data")
    banner = page.locator(".banner.impersonation")
    expected = "You are viewing the account of Walter Worker" if english else "Вы просматриваете учётную запись Walter Worker"
    assert expected in banner.inner_text()
    assert page.locator("#topbar-label").inner_text() == "Walter Worker"

    response = page.goto(f"{live_server.url}/app/security/")
    assert response.status == 403 and page.locator(".banner.impersonation").count() == 1

    page.get_by_role("button", name=re.compile("Return to my account" if english else "Вернуться в свою")).click()
    page.wait_for_url("**/admin/users")
    assert page.locator(".banner.impersonation").count() == 0
    assert page.locator("#topbar-label").inner_text() == "Boss Admin"
    assert page.csp_violations == []
    page.context.close()


@pytest.mark.parametrize("js,locale", [(True, "en-US"), (False, "ru-RU")], ids=["js-en", "nojs-ru"])
def test_an_old_sign_in_confirms_the_password_before_weakening_someones_sign_in(browser, live_server, boss, js, locale):
    """SECURITY.md 30: the status asks for the password in the form (input kept); "Disable 2FA" goes
    through the re-authentication page and comes back to the person."""
    from datetime import timedelta

    from models import UserSession, utcnow
    from tests.conftest import PASSWORD

    english = locale == "en-US"
    page = new_page(browser, js, locale=locale)
    sign_in_page(page, live_server, "boss@example.com")
    with live_server.app.app_context():
        worker = User.get(User.email == "w@example.com")
        User.update(two_factor="email").where(User.id == worker.id).execute()
        UserSession.update(reauth_at=utcnow() - timedelta(hours=2)).execute()
    page.goto(f"{live_server.url}/admin/users/{worker.id}")
    page.fill("#phone", "+44 20 7946 0958")
    page.select_option("#status", "disabled")
    page.get_by_role("button", name="Save" if english else "Сохранить").click()
    page.get_by_text("Enter your password to change the status or the IP whitelist." if english
                     else "Введите свой пароль, чтобы изменить статус или белый список IP.").wait_for()
    assert page.input_value("#phone") == "+442079460958" and page.input_value("#status") == "disabled"
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Save" if english else "Сохранить").click()
    page.get_by_text("Changes to w@example.com saved." if english else "Изменения для w@example.com сохранены.").wait_for()

    with live_server.app.app_context():
        assert User.get_by_id(worker.id).status == "disabled"
        UserSession.update(reauth_at=utcnow() - timedelta(hours=2)).execute()
    page.locator("details.actions summary").click()
    page.get_by_role("button", name="Disable 2FA" if english else "Отключить 2FA").click()
    page.wait_for_url(re.compile(r"/app/security/reauth\?next="))
    page.get_by_text("Confirm your password, then choose the action again." if english
                     else "Подтвердите пароль и выберите действие ещё раз.").wait_for()
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Continue" if english else "Продолжить").click()
    page.wait_for_url(f"**/admin/users/{worker.id}")
    with live_server.app.app_context():
        assert User.get_by_id(worker.id).two_factor == "email"
    page.locator("details.actions summary").click()
    page.get_by_role("button", name="Disable 2FA" if english else "Отключить 2FA").click()
    page.get_by_text("Two-factor authentication of w@example.com is now off." if english
                     else "Двухфакторная аутентификация w@example.com отключена.").wait_for()
    assert page.csp_violations == []
    page.context.close()

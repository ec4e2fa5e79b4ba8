"""Mail servers in Chromium: add, live status, row-click edit, select and delete, with JavaScript on and off."""
import pytest

from models import MailServer, Organization
from services import crypto
from services.mail_servers import poll_mail_servers
from services.scheduler import in_app_context
from tests.conftest import make_user
from tests.e2e.conftest import sign_in_page
from tests.smtp_peers import smtp_server


@pytest.fixture
def anna(live_server):
    live_server.app.config["MAIL_CHECK_AFTER_SAVE"] = False  # the tests run the checks themselves
    live_server.app.config["MAIL_ALLOW_PRIVATE"] = True  # the SMTP peers listen on 127.0.0.1
    org = Organization.create(name="ООО «Тест»")
    return make_user(org)


def add_servers(app, owner, hosts):
    token = crypto.encrypt("pw", app.config)
    return [
        MailServer.create(owner=owner, organization=owner.organization_id, host=host, port=587,
                          security="starttls", username="u", password_token=token, from_email="anna@example.com")
        for host in hosts
    ]


def status_of(page, server):
    return page.locator(f"#mail-status-{server.id}")


def test_add_in_the_popup_and_see_it_go_online_without_reloading(page, live_server, anna):
    with smtp_server() as peer:
        sign_in_page(page, live_server)
        page.locator("#mail-servers").get_by_role("link", name="Add").click()
        dialog = page.locator("dialog[open]")
        dialog.get_by_text("How to set up Gmail").click()
        dialog.get_by_text("an app password, not your main Google password").wait_for()
        dialog.get_by_label("Server address").fill("smtp gmail.com")
        dialog.get_by_label("Port").fill(str(peer.port))
        dialog.get_by_label("Connection protection").select_option("none")
        dialog.get_by_label("From e-mail").fill("anna@example.com")
        dialog.get_by_role("button", name="Create").click()
        dialog.get_by_text("Enter the server's name").wait_for()  # the error in the popup, input kept
        assert dialog.get_by_label("Port").input_value() == str(peer.port)
        dialog.get_by_label("Server address").fill(peer.host)
        dialog.get_by_role("button", name="Create").click()
        page.get_by_text(f"Mail server {peer.host}:{peer.port} added.").wait_for()
        server = MailServer.get()
        assert status_of(page, server).inner_text().startswith("Checking")
        page.evaluate("window.notReloaded = true")
        in_app_context(live_server.app, poll_mail_servers)()  # one scheduler cycle
        status_of(page, server).get_by_text("Online").wait_for(timeout=12_000)  # the poller swaps it in
        assert page.evaluate("window.notReloaded") is True


def test_offline_shows_the_reason(page, live_server, anna):
    (server,) = add_servers(live_server.app, anna, ["127.0.0.1"])
    MailServer.update(port=1).execute()
    in_app_context(live_server.app, poll_mail_servers)()
    sign_in_page(page, live_server)
    assert "Offline" in status_of(page, server).inner_text()
    assert "connection refused" in status_of(page, server).inner_text()


def test_click_a_row_to_edit_it_in_the_popup(page, live_server, anna):
    (server,) = add_servers(live_server.app, anna, ["smtp.example.com"])
    sign_in_page(page, live_server)
    page.locator("#mail-servers tbody tr").get_by_text("anna@example.com").click()  # not the link itself
    dialog = page.locator("dialog[open]")
    assert dialog.get_by_label("Server address").input_value() == "smtp.example.com"
    assert dialog.get_by_label("Password", exact=True).input_value() == ""
    dialog.get_by_label("From name").fill("Sales team")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_text("Mail server smtp.example.com:587 saved.").wait_for()
    stored = MailServer.get_by_id(server.id)
    assert stored.from_name == "Sales team" and crypto.decrypt(stored.password_token, live_server.app.config) == "pw"


def test_cancel_closes_the_popup_without_leaving_the_page(page, live_server, anna):
    sign_in_page(page, live_server)
    page.locator("#mail-servers").get_by_role("link", name="Add").click()
    page.locator("dialog[open]").get_by_role("link", name="Cancel").click()
    page.locator("dialog[open]").wait_for(state="detached")
    assert page.url.endswith("/app/personal-data")


def test_select_two_and_delete_them_after_the_dialog(page, live_server, anna):
    one, two, three = add_servers(live_server.app, anna, ["a.example.com", "b.example.com", "c.example.com"])
    sign_in_page(page, live_server)
    page.get_by_label("Select a.example.com:587").check()
    page.get_by_label("Select b.example.com:587").check()
    assert page.evaluate("document.querySelector('[data-select-all]').indeterminate") is True
    page.get_by_role("button", name="Delete selected").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_text("Delete 2 mail servers?").wait_for()
    dialog.get_by_role("button", name="Delete").click()
    page.get_by_text("2 mail servers deleted.").wait_for()
    assert [s.id for s in MailServer.select()] == [three.id]
    assert page.locator("#mail-servers tbody tr").count() == 1


def test_select_all_ticks_every_row(page, live_server, anna):
    add_servers(live_server.app, anna, ["a.example.com", "b.example.com"])
    sign_in_page(page, live_server)
    page.get_by_label("Select all").check()
    assert page.locator("input[name=ids]:checked").count() == 2
    page.get_by_label("Select b.example.com:587").uncheck()
    assert not page.get_by_label("Select all").is_checked()  # so "all" is not sent for one row
    page.get_by_role("button", name="Delete selected").click()
    page.locator("dialog[open]").get_by_text("Delete 1 mail server?").wait_for()


def test_everything_works_without_javascript_in_russian(page_nojs, live_server, anna):
    page = page_nojs
    anna.language = "ru"
    anna.save()
    with smtp_server() as peer:
        sign_in_page(page, live_server)
        page.get_by_role("heading", name="Настройки почты").wait_for()
        page.locator("#mail-servers").get_by_role("link", name="Добавить").click()
        page.wait_for_url("**/mail-servers/new")
        page.get_by_label("Адрес сервера").fill(peer.host)
        page.get_by_label("Порт").fill("0")
        page.get_by_label("Защита соединения").select_option("none")
        page.get_by_label("E-mail отправителя").fill("anna@example.com")
        page.get_by_role("button", name="Создать").click()
        page.get_by_text("Укажите номер порта").wait_for()
        page.get_by_label("Порт").fill(str(peer.port))
        page.get_by_role("button", name="Создать").click()
        page.wait_for_url("**/app/personal-data#mail-servers")
        server = MailServer.get()
        page.get_by_text("Проверяется").wait_for()

        # The row's address is a real link to the edit page; the test e-mail reports back there.
        page.get_by_role("link", name=f"{peer.host}:{peer.port}").click()
        page.wait_for_url(f"**/mail-servers/{server.id}")
        page.get_by_role("button", name="Отправить тестовое письмо").click()
        page.get_by_text("Тестовое письмо отправлено на anna@example.com.").wait_for()
        assert peer.wait_for(1)[0].rcpt_tos == ["anna@example.com"]
        page.get_by_label("Имя отправителя").fill("Отдел продаж")
        page.get_by_role("button", name="Сохранить").click()
        page.wait_for_url("**/app/personal-data#mail-servers")
    assert MailServer.get().from_name == "Отдел продаж"

    add_servers(live_server.app, anna, ["b.example.com", "c.example.com"])
    page.reload()
    page.get_by_label("Выбрать b.example.com:587").check()
    page.get_by_label("Выбрать c.example.com:587").check()
    page.get_by_role("button", name="Удалить выбранные").click()
    page.get_by_text("Удалить 2 почтовых сервера?").wait_for()  # a confirmation page
    page.get_by_role("button", name="Удалить", exact=True).click()
    page.get_by_text("2 почтовых сервера удалено.").wait_for()
    assert [s.host for s in MailServer.select()] == [server.host]

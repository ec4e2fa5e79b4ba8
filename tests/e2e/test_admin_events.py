"""Profile picture and events log in Chromium (issue 6): upload a picture and see it in the top bar,
comment on an event; JavaScript on and off, English and Russian."""
import pytest

from models import AuditEvent, Avatar, EventComment, Organization
from services.permissions import add_to_group, administrators_group
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page
from tests.test_profile_picture import picture_bytes


@pytest.fixture
def boss(live_server):
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Тест»")
        user = make_user(org, "anna@example.com", full_name="Anna Boss")
        add_to_group(user, administrators_group(org))
        return user


@pytest.fixture
def picture_file(tmp_path):
    path = tmp_path / "me.jpg"
    path.write_bytes(picture_bytes(size=(640, 480), color=(20, 120, 200)))
    return path


def topbar_image(page):
    return page.locator("#topbar-avatar img.avatar")


@pytest.mark.parametrize("javascript, locale, saved", [(True, "en-US", "Picture saved."), (False, "ru-RU", "Фото сохранено.")])
def test_upload_a_picture_and_see_it_in_the_top_bar(browser, live_server, boss, picture_file, tmp_path,
                                                     javascript, locale, saved):
    page = new_page(browser, java_script_enabled=javascript, locale=locale)
    try:
        sign_in_page(page, live_server)
        assert page.locator("#topbar-avatar .initials").inner_text() == "AB"
        if javascript:
            page.evaluate("window.notReloaded = true")
        page.set_input_files("#picture", str(picture_file))
        page.locator("#picture-block form[enctype] button").click()
        page.get_by_text(saved).first.wait_for()  # in the card (htmx) or as the flash after the redirect
        topbar_image(page).wait_for()
        src = topbar_image(page).get_attribute("src")
        assert "/small/" in src
        # The browser really loaded it: a 24-pixel circle drawn from a 64-pixel file.
        assert page.evaluate("document.querySelector('#topbar-avatar img').naturalWidth") == 64
        if javascript:
            assert page.evaluate("window.notReloaded") is True  # swapped in place, top bar out of band
        # A disguised file is refused with a message at the field; the picture stays.
        fake = tmp_path / "shell.png"
        fake.write_bytes(b"<?php system($_GET['c']); ?>")
        page.set_input_files("#picture", str(fake))
        page.locator("#picture-block form[enctype] button").click()
        message = "This file is not a PNG or JPEG picture." if locale == "en-US" else "Этот файл — не изображение PNG или JPEG."
        page.locator("#picture-error").get_by_text(message).wait_for()
        assert topbar_image(page).get_attribute("src") == src
        # Remove it: the initials come back.
        page.locator("#picture-block button.link").click()
        page.locator("#topbar-avatar .initials").wait_for()
        with live_server.app.app_context():
            assert not Avatar.select().exists()
        assert page.csp_violations == []
    finally:
        page.context.close()


@pytest.mark.parametrize("javascript, locale", [(True, "ru-RU"), (False, "en-US")])
def test_comment_on_an_event(browser, live_server, boss, picture_file, javascript, locale):
    page = new_page(browser, java_script_enabled=javascript, locale=locale)
    try:
        sign_in_page(page, live_server)
        page.set_input_files("#picture", str(picture_file))
        page.locator("#picture-block form[enctype] button").click()
        topbar_image(page).wait_for()
        page.goto(f"{live_server.url}/admin/events")
        rows = page.locator("#events-table tbody tr")
        assert rows.count() >= 2  # the sign-in and the picture change
        first = rows.first
        assert first.locator("img.avatar").count() == 1  # the actor's picture beside the entry
        first.locator("td a").first.click()
        page.wait_for_url("**/admin/events/*")
        text = "Проверено, всё в порядке <b>ok</b>" if locale == "ru-RU" else "Checked with the team <b>ok</b>"
        page.fill("#text", text)
        page.locator("#comments button[type=submit]").click()
        page.locator("#comments .comment-text").get_by_text(text).wait_for()
        comment = page.locator("#comments li").first
        assert comment.locator("img.avatar").count() == 1
        assert "Anna Boss" in comment.inner_text()
        added = "Комментарий добавлен." if locale == "ru-RU" else "Comment added."
        page.get_by_text(added).wait_for()
        # An empty comment is refused at the field.
        page.fill("#text", "")
        page.locator("#comments button[type=submit]").click()
        empty = "Напишите комментарий." if locale == "ru-RU" else "Write a comment."
        page.locator("#comments").get_by_text(empty).wait_for()
        with live_server.app.app_context():
            assert EventComment.select().count() == 1
            assert AuditEvent.select().count() >= 2
        assert page.csp_violations == []
    finally:
        page.context.close()


def test_filter_the_events_log_by_action(page, live_server, boss):
    sign_in_page(page, live_server)
    page.goto(f"{live_server.url}/admin/events")
    page.select_option("#action", "signin")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url("**/admin/events?*action=signin*")
    assert page.locator("#events-table tbody tr").count() == 1

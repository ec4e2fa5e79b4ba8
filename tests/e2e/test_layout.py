"""The layout guard (DESIGN.md "What a person sees"): every page the demo owner can open, and the signed-out
ones, at 360×640, 1280×800 and 1920×1080, in English and Russian. It fails when the page is wider than the
window, when an element holding text is squeezed under 40 px (a value printed one letter per line), when a table
cuts columns off with no cue that it scrolls, or when Chromium reports a CSP violation. One browser context per
language; each page is loaded once and measured at the three sizes by one in-page function (layout_check.js),
then once more without JavaScript at 360 px.

With KABINET_SCREENSHOTS=<folder> (`make screenshots`) it also saves every page at 360 and 1280 px there."""
import os
import re
from pathlib import Path

import pytest

from models import User
from services.demo import DEMO_PEOPLE, load_demo
from tests.e2e.conftest import new_page
from tests.e2e.pages import SIGNED_OUT, reachable_pages

CHECK = Path(__file__).with_name("layout_check.js").read_text()
SIZES = ((360, 640), (1280, 800), (1920, 1080))
OWNER_EMAIL, OWNER_PASSWORD, _role = DEMO_PEOPLE[0]
LONG_NAME = "Петров-Водкин Константин Александрович"  # a long ФИО in the top bar and the tables
SCREENSHOTS = os.environ.get("KABINET_SCREENSHOTS")
SCREENSHOT_WIDTHS = (360, 1280)


@pytest.fixture
def demo(live_server):
    with live_server.app.app_context():
        load_demo()
        User.update(full_name=LONG_NAME).where(User.email == OWNER_EMAIL).execute()


def set_language(live_server, language):
    with live_server.app.app_context():
        User.update(language=language).execute()


def sign_in(page, live_server):
    page.goto(f"{live_server.url}/login")
    page.fill("#email", OWNER_EMAIL)
    page.fill("#password", OWNER_PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(re.compile(r"/app/"))


def shot_name(path):
    return re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()).strip("-") or "index"


def measure(page, name, language, sizes=SIZES, js=True):
    """Problems of the loaded page at every size; a screenshot at the screenshot widths when asked."""
    problems = []
    where = language if js else f"{language}, no JS"
    for width, height in sizes:
        page.set_viewport_size({"width": width, "height": height})
        problems += [f"{name} ({where}, {width}px): {problem}" for problem in page.evaluate(CHECK)]
        if SCREENSHOTS and width in SCREENSHOT_WIDTHS and js:
            page.screenshot(path=Path(SCREENSHOTS) / f"{name}-{width}-{language}.png", full_page=True)
    return problems


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_page_fits_every_screen(browser, live_server, demo, language):
    set_language(live_server, language)
    page = new_page(browser, True, locale={"en": "en-US", "ru": "ru-RU"}[language])
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
    problems = []
    for path in SIGNED_OUT:
        page.goto(live_server.url + path)
        problems += measure(page, shot_name(path), language)
    sign_in(page, live_server)
    pages = reachable_pages(page, live_server.url, live_server.app)
    assert len(pages) > 30, pages  # the walk found the app, not a redirect to the sign-in page
    for _endpoint, path in pages:
        page.goto(live_server.url + path)
        problems += measure(page, shot_name(path), language)
    page.context.close()
    violations = page.csp_violations
    # without JavaScript (forms show their Save buttons, nothing is enhanced), on the phone
    page = new_page(browser, False, locale={"en": "en-US", "ru": "ru-RU"}[language])
    sign_in(page, live_server)
    for _endpoint, path in pages:
        page.goto(live_server.url + path)
        problems += measure(page, shot_name(path), language, SIZES[:1], js=False)
    page.context.close()
    assert violations + page.csp_violations == [], "CSP violations (SECURITY.md 21)"
    if problems:
        pytest.fail(f"{len(problems)} layout problems:\n" + "\n".join(problems), pytrace=False)


def test_the_panel_is_a_menu_on_a_phone_and_a_column_on_a_desktop_without_javascript(browser, live_server, demo):
    set_language(live_server, "en")
    page = new_page(browser, False)
    page.set_viewport_size({"width": 360, "height": 640})
    sign_in(page, live_server)
    users = page.locator(".panel nav").get_by_role("link", name="Users")
    assert not users.is_visible()  # folded: the page starts right under the top bar
    page.click(".panel summary")
    users.click()
    page.wait_for_url("**/admin/users")
    assert page.locator(".panel [aria-current=page]").text_content() == "Users"
    assert page.evaluate("document.documentElement.scrollWidth") == 360

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/app/personal-data")
    assert not page.locator(".panel summary").is_visible()
    for name in ("Personal data", "Security", "Settlements", "Integrations", "Users", "Events log"):
        assert page.locator(".panel nav").get_by_role("link", name=name, exact=True).is_visible(), name
    page.context.close()

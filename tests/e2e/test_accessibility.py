"""axe-core on every page in both languages, and keyboard-only use (issue 9).

Pages come from tests/e2e/pages.py (the URL map and the links to pages with parameters), the list the layout
guard and `make screenshots` walk too, so new pages are checked without listing them here.
"""
import re
from pathlib import Path

import pytest

from services.demo import DEMO_PEOPLE, load_demo
from tests.e2e.conftest import new_page
from tests.e2e.pages import SIGNED_OUT, reachable_pages

ROOT = Path(__file__).resolve().parents[2]
AXE = next((ROOT / ".venv").glob("axe-core-*/axe.min.js"), None)
ADMIN_EMAIL, ADMIN_PASSWORD, _role = DEMO_PEOPLE[1]


@pytest.fixture
def demo(live_server):
    with live_server.app.app_context():
        load_demo()


def sign_in(page, live_server, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
    page.goto(f"{live_server.url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.press("#password", "Enter")
    page.wait_for_url(re.compile(r"/app/"))


def serious_violations(page):
    page.evaluate(AXE.read_text())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("locale", ["en-US", "ru-RU"])
def test_every_page_passes_axe(browser, live_server, demo, locale):
    if AXE is None:
        pytest.fail("axe-core missing: `make test` downloads it into .venv/")
    # axe is injected as a script, which the pages' CSP forbids; this context alone bypasses it.
    context = browser.new_context(locale=locale, bypass_csp=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems = []
    for url in SIGNED_OUT:
        page.goto(live_server.url + url)
        problems += [f"{url}: {v}" for v in serious_violations(page)]
    sign_in(page, live_server)
    pages = reachable_pages(page, live_server.url, live_server.app)
    assert len(pages) > 30, pages
    for _endpoint, url in pages:
        page.goto(live_server.url + url)
        problems += [f"{url}: {v}" for v in serious_violations(page)]
    context.close()
    assert problems == []


def test_sign_in_and_out_by_keyboard_alone(browser, live_server, demo):
    page = new_page(browser, True)
    page.goto(f"{live_server.url}/login")
    assert page.evaluate("document.activeElement.id") == "email"  # the first field has focus
    page.keyboard.type(ADMIN_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/personal-data")

    page.focus(".menu summary")
    page.keyboard.press("Enter")  # <details> opens from the keyboard
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") in ("Sign out", "Выйти"):
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**/login")
    assert page.csp_violations == []
    page.context.close()

"""Browser tests: the app served on a free local port in a thread, Playwright driving Debian's Chromium.

In CI (CI=true) a missing Chromium fails the run instead of skipping it.
"""
import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, empty_tables, make_app

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(config, database):
    empty_tables(database)
    app = make_app({**config, "SERVER_NAME": None})
    with LiveServer(app) as server:
        yield server


def new_page(browser, java_script_enabled=True, locale="en-US"):
    """A fresh browser context; CSP violations reported by Chromium are collected on page.csp_violations."""
    context = browser.new_context(java_script_enabled=java_script_enabled, locale=locale)
    page = context.new_page()
    page.csp_violations = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and page.csp_violations.append(msg.text))
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def page(browser, live_server):
    page = new_page(browser, True)
    yield page
    assert page.csp_violations == [], "CSP violations (SECURITY.md 21)"
    page.context.close()


@pytest.fixture
def page_nojs(browser, live_server):
    page = new_page(browser, False)
    yield page
    page.context.close()


def sign_in_page(page, live_server, email="anna@example.com", password=PASSWORD):
    """Sign in through the real form and land on the personal-data page."""
    page.goto(f"{live_server.url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/app/personal-data")

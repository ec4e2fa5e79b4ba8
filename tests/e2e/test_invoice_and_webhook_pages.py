"""The invoice print view and a webhook delivery's page in Chromium, English and Russian, at 360 and
1280 px: nothing scrolls sideways (wide tables scroll inside their card); screenshots go to
test-artifacts/screenshots/."""
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from models import Organization, User, WebhookDelivery
from services import invoices, webhooks
from services.permissions import grant
from tests.conftest import make_user
from tests.e2e.conftest import new_page, sign_in_page
from tests.test_invoice_document import SELLER

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def setup(live_server):
    live_server.app.config.update(SELLER, WEBHOOK_ALLOWED_PRIVATE="127.0.0.1", WEBHOOK_TIMEOUT=2)
    with live_server.app.app_context():
        org = Organization.create(name="ООО «Ромашка Софт»", tin="7704123450", kpp="770401001",
                                  legal_address="119021, г. Москва, ул. Льва Толстого, д. 16")
        user = make_user(org, role="owner", full_name="Anna Test")
        grant(user, "billing.view")
        invoice = invoices.issue_invoice(org, "5900.00", date(2026, 11, 1), date(2026, 11, 30), number="2026-0011",
                                         description="Тариф «Бизнес»: личный кабинет для 25 сотрудников",
                                         vat_rate=Decimal(20))
        hook, _ = webhooks.create_endpoint(org.id, user, "http://127.0.0.1:9/hooks/kabinet", ["sign_in"],
                                           live_server.app.config)
        delivery = webhooks.queue_test(hook)
        webhooks.deliver_now(delivery.id, live_server.app.config)  # nothing listens on port 9: a refused attempt
        return user, [f"/app/account/invoices/{invoice.id}", f"/app/security/webhooks/{hook.id}/deliveries/{delivery.id}"]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_no_sideways_scroll_and_screenshots(browser, live_server, setup, language):
    user, paths = setup
    with live_server.app.app_context():
        User.update(language=language).where(User.id == user.id).execute()
        assert WebhookDelivery.get().attempts == 1
    page = new_page(browser)
    try:
        sign_in_page(page, live_server)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for path, name in zip(paths, ("invoice", "webhook-delivery")):
            for width in (360, 1280):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(live_server.url + path)
                page.screenshot(path=str(SHOTS / f"{name}-{language}-{width}.png"), full_page=True)
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (path, width)
        assert page.csp_violations == []
    finally:
        page.context.close()

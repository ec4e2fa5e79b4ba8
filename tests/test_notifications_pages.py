"""The Notifications section of /app/personal-data (issue 7): the grid, one box per request, the Save button
without JS, unavailable channels, the low-balance threshold; the bell, the feed, the API and operations."""
import re
from decimal import Decimal

import pytest

from models import LowBalanceAlert, NotificationPreference, UserAdminSettings
from services.notifications import preferences
from services.permissions import grant
from tests.conftest import csrf_from, form_post, make_user, sign_in

HX = {"HX-Request": "true"}


def token(client):
    return csrf_from(client.get("/app/personal-data").get_data(as_text=True))


def test_the_grid_shows_every_category_and_channel_with_unavailable_ones_disabled(signed_in, user):
    html = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert 'id="notifications"' in html
    assert 'name="security.email" value="1" id="nt-security-email"' in html
    assert re.search(r'name="security.sms"[^>]* disabled aria-describedby="nt-why-sms"', html)
    assert "Confirm a phone number first." in html and 'href="/app/personal-data#phone-section"' in html
    assert "Telegram is not set up on this server." in html
    # billing and imports need their permissions (seed 002)
    assert 'name="billing.email"' not in html and 'name="imports.email"' not in html
    assert 'id="low-balance"' not in html


def test_one_box_is_saved_by_its_own_request_with_a_small_fragment(signed_in, user):
    csrf = token(signed_in)
    response = signed_in.post("/app/personal-data/notifications/security/email", data={"csrf_token": csrf},
                              headers=HX)
    assert response.status_code == 200 and len(response.data) < 2048
    assert 'id="nt-state"' in response.get_data(as_text=True)
    assert preferences(user)[("security", "email")] is False
    signed_in.post("/app/personal-data/notifications/security/email",
                   data={"csrf_token": csrf, "security.email": "1", "requests.email": ""}, headers=HX)
    assert preferences(user)[("security", "email")] is True
    assert NotificationPreference.select().count() == 1


@pytest.mark.parametrize("url", ["/app/personal-data/notifications/bogus/email",
                                 "/app/personal-data/notifications/security/pigeon",
                                 "/app/personal-data/notifications/billing/email",  # no billing.view
                                 "/app/personal-data/notifications/" + "x" * 300 + "/email"])
def test_forged_category_or_channel_is_404(signed_in, url):
    assert signed_in.post(url, data={"csrf_token": token(signed_in)}, headers=HX).status_code == 404
    assert not NotificationPreference.select().exists()


def test_an_unavailable_channel_cannot_be_ticked(signed_in, user):
    response = signed_in.post("/app/personal-data/notifications/security/sms",
                              data={"csrf_token": token(signed_in), "security.sms": "1"}, headers=HX)
    assert response.status_code == 422 and "cannot be used yet" in response.get_data(as_text=True)
    assert preferences(user)[("security", "sms")] is False


def test_save_button_without_js_saves_the_whole_grid_but_not_disabled_channels(signed_in, user):
    NotificationPreference.create(user=user, category="security", channel="sms", enabled=True)
    response = form_post(signed_in, "/app/personal-data/notifications",
                         {"security.in_app": "1", "requests.sms": "1"}, page="/app/personal-data")
    assert response.status_code == 303 and response.headers["Location"].endswith("/app/personal-data#notifications")
    chosen = preferences(user)
    assert chosen[("security", "in_app")] and not chosen[("security", "email")] and not chosen[("requests", "email")]
    assert chosen[("security", "sms")] and not chosen[("requests", "sms")]  # untouched: not offered
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert "Your notification choices have been saved." in page


def test_reachable_channels_are_enabled(app, client, org):
    person = make_user(org, "tg@example.com", phone="+79123456789", phone_verified=True)
    UserAdminSettings.create(user=person, telegram_chat_id="12345")
    app.config.update(TELEGRAM_BOT_TOKEN="1:x", SLACK_BOT_TOKEN="xoxb")
    sign_in(client, "tg@example.com")
    html = client.get("/app/personal-data").get_data(as_text=True)
    assert re.search(r'name="security.sms"[^>]*hx-post', html)
    assert re.search(r'name="security.telegram"[^>]*hx-post', html)
    assert "No Slack chat ID" in html


@pytest.fixture
def payer(client, org):
    person = make_user(org, "payer@example.com")
    grant(person, "billing.view")
    sign_in(client, "payer@example.com")
    return person


@pytest.mark.parametrize("value", ["-5", "abc", "1e400", "NaN", "10.001", "9" * 30, "Infinity"])
def test_bad_thresholds_are_422_with_a_translated_message_and_nothing_saved(client, payer, value):
    for headers, language in ((HX, "en"), ({}, "en"), (HX, "ru")):
        payer.language = language
        payer.save()
        response = client.post("/app/personal-data/notifications/low-balance",
                               data={"csrf_token": token(client), "threshold": value}, headers=headers)
        text = response.get_data(as_text=True)
        assert response.status_code == 422
        assert ("Enter an amount of zero or more" if language == "en" else "Введите сумму") in text
        assert value[:20] in text  # the input is kept
    assert not LowBalanceAlert.select().exists()


def test_threshold_is_saved_in_the_organizations_currency_and_cleared_by_empty(client, payer, org):
    html = client.get("/app/personal-data").get_data(as_text=True)
    assert "falls below (RUB)" in html
    response = client.post("/app/personal-data/notifications/low-balance",
                           data={"csrf_token": token(client), "threshold": "1 000,5"}, headers=HX)
    assert response.status_code == 200 and "Saved: alert below" in response.get_data(as_text=True)
    assert LowBalanceAlert.get_by_id(payer.id).threshold == Decimal("1000.50")
    response = form_post(client, "/app/personal-data/notifications/low-balance", {"threshold": ""},
                         page="/app/personal-data")
    assert response.status_code == 303 and not LowBalanceAlert.select().exists()


def test_threshold_needs_billing_view(signed_in):
    response = signed_in.post("/app/personal-data/notifications/low-balance",
                              data={"csrf_token": token(signed_in), "threshold": "5"})
    assert response.status_code == 403

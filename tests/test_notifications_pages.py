"""The Notifications section of /app/personal-data (issue 7): the grid, one box per request, the Save button
without JS, unavailable channels, the low-balance threshold; the bell, the feed, the API and operations."""
import json
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
    # each box is named by its row and column headers
    assert 'id="nt-row-security"' in html and 'id="nt-col-email"' in html
    assert 'name="security.email" value="1" aria-labelledby="nt-row-security nt-col-email"' in html
    assert 'aria-labelledby="nt-row-security nt-col-sms" disabled aria-describedby="nt-why-sms"' in html
    assert "Confirm a phone number first." in html and 'href="/app/personal-data#phone-section"' in html
    # a channel this server does not offer (no Telegram or Slack bot) has neither a column nor a note
    assert 'nt-col-telegram' not in html and 'nt-why-slack' not in html and "Telegram" not in html
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
    assert 'aria-labelledby="nt-row-security nt-col-slack" disabled aria-describedby="nt-why-slack"' in html
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


# --- the bell, the feed, the API ----------------------------------------------------------------------------


def add_notes(user, n, category="security"):
    from models import Notification

    return [Notification.create(user=user, category=category,
                                data=json.dumps({"kind": "password", "at": "2026-03-01T10:00:00"})) for _ in range(n)]


def test_the_bell_counts_unread_and_answers_304_when_nothing_changed(signed_in, user):
    from models import Notification

    Notification.delete().execute()  # the sign-in's own notification
    add_notes(user, 3)
    page = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert '<span class="bell-count">3</span>' in page and 'hx-get="/app/notifications/bell"' in page
    first = signed_in.get("/app/notifications/bell", headers=HX)
    assert first.status_code == 200 and len(first.data) < 2048 and 'class="bell-count">3<' in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = signed_in.get("/app/notifications/bell", headers={**HX, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    add_notes(user, 1)
    changed = signed_in.get("/app/notifications/bell", headers={**HX, "If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and 'class="bell-count">4<' in changed.get_data(as_text=True)
    assert signed_in.get("/app/notifications/bell").headers["Location"].endswith("/app/notifications")


def test_the_feed_lists_newest_first_and_marks_one_or_all_read(signed_in, user, org):
    from models import Notification

    Notification.delete().execute()
    notes = add_notes(user, 25)
    other = add_notes(make_user(org, "other@example.com"), 1)[0]
    html = signed_in.get("/app/notifications").get_data(as_text=True)
    assert html.count('class="unread"') == 20 and f'id="notification-{notes[-1].id}"' in html
    assert f"before={notes[5].id}" in html  # keyset link to the next page
    assert f'id="notification-{notes[0].id}"' in signed_in.get(f"/app/notifications?before={notes[5].id}").get_data(as_text=True)
    csrf = token(signed_in)
    response = signed_in.post(f"/app/notifications/{notes[-1].id}/read", data={"csrf_token": csrf}, headers=HX)
    assert response.status_code == 200 and 'id="bell" ' in response.get_data(as_text=True)
    assert 'hx-swap-oob="true"' in response.get_data(as_text=True)
    assert Notification.get_by_id(notes[-1].id).read_at is not None
    # someone else's notification: 404, unchanged
    assert signed_in.post(f"/app/notifications/{other.id}/read", data={"csrf_token": csrf}).status_code == 404
    response = signed_in.post("/app/notifications/read-all", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert Notification.select().where(Notification.read_at.is_null()).count() == 1  # the other person's


def test_the_feed_is_in_the_readers_language(signed_in, user):
    add_notes(user, 1)
    user.language = "ru"
    user.save()
    assert "Пароль изменён" in signed_in.get("/app/notifications").get_data(as_text=True)


def test_api_lists_the_key_owners_notifications_with_a_cursor(app, client, user, org):
    from services import apikeys

    notes = add_notes(user, 5)
    add_notes(make_user(org, "other@example.com"), 2)
    headers = {"Authorization": f"Bearer {apikeys.create_key(user, 'k', ['read'])[0]}"}
    first = client.get("/api/v1/notifications?limit=3", headers=headers).get_json()
    assert [item["id"] for item in first["items"]] == [n.id for n in notes[:1:-1]]
    assert first["items"][0]["title"] == "Password changed" and first["items"][0]["read"] is False
    second = client.get(f"/api/v1/notifications?limit=3&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [item["id"] for item in second["items"]] == [notes[1].id, notes[0].id] and second["next_cursor"] is None
    for bad in ("limit=0", "limit=x", "limit=101", "cursor=abc", "cursor=" + "9" * 40):
        response = client.get(f"/api/v1/notifications?{bad}", headers=headers)
        assert response.status_code == 422 and response.get_json()["code"] == "invalid"
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["paths"]["/notifications"]["get"]["parameters"][0]["name"] == "cursor"


# --- the list of operations -------------------------------------------------------------------------------


def test_operations_list_polls_only_while_a_job_runs(app, signed_in, user, org):
    from services import operations

    html = signed_in.get("/app/operations").get_data(as_text=True)
    assert "No operations yet" in html and "hx-trigger" not in html.split('id="operations"')[1].split(">")[0]
    with app.test_request_context():
        job = operations.start_operation(user, "data_export")
        operations.set_progress(job, 40)
    html = signed_in.get("/app/operations").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in html and "In progress" in html and "40%" in html
    with app.test_request_context():
        operations.finish_operation(job, result="Ready", result_url="/app/account/privacy")
    fragment = signed_in.get("/app/operations", headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in fragment and "Completed" in fragment and 'href="/app/account/privacy"' in fragment
    assert operations.finish_operation(job, result="again") is False  # finishes once


def test_a_data_export_is_its_owners_and_imports_are_shared_with_client_viewers(app, signed_in, user, org):
    from services import operations

    colleague = make_user(org, "col@example.com")
    with app.test_request_context():
        operations.start_operation(colleague, "data_export")
        operations.start_operation(colleague, "client_import")
    assert "Pending" not in signed_in.get("/app/operations").get_data(as_text=True)
    grant(user, "clients.view")
    html = signed_in.get("/app/operations").get_data(as_text=True)
    assert html.count('data-status="pending"') == 1 and "Client import" in html


def test_operations_are_paged_with_links_both_ways(app, signed_in, user):
    from services import operations

    with app.test_request_context():
        for _ in range(31):
            operations.start_operation(user, "data_export")
    html = signed_in.get("/app/operations").get_data(as_text=True)
    older = re.search(r'<a href="(/app/operations\?before=\d+)" rel="next">Older</a>', html)
    assert older and "Newest" not in html and html.count('data-status="pending"') == 30
    html = signed_in.get(older.group(1)).get_data(as_text=True)
    assert html.count('data-status="pending"') == 1 and '<a href="/app/operations">Newest</a>' in html
    assert "Older" not in html

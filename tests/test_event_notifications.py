"""Event notifications (seed 004): the catalog page shows only the events a person may see, in both
languages; each catalog event caused in the app reaches a subscriber by e-mail (a real SMTP server),
Telegram and Slack (HTTP stand-ins) and in the app, many at once summarised in one message a minute."""
import pytest

from models import EventNotice, Group, GroupPermission, Notification, OutboxMessage, User, UserAdminSettings
from services import audit
from services.event_notifications import send_event_digests
from services.notifications import deliver_notifications, set_preference
from services.permissions import EVENT_CATALOG, add_to_group, administrators_group, grant
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in
from tests.http_peers import http_peer


@pytest.fixture
def peers(app, smtp):
    with http_peer(ok_body={"ok": True, "result": {}}) as telegram, http_peer() as slack:
        app.config.update(TELEGRAM_API_URL=telegram.url, TELEGRAM_BOT_TOKEN="123:abc", SLACK_API_URL=slack.url + "/api",
                          SLACK_BOT_TOKEN="xoxb-test", NOTIFY_ALLOW_PRIVATE=True, NOTIFY_HTTP_TIMEOUT=2,
                          NOTIFY_RETRY_SECONDS=0)
        yield {"telegram": telegram, "slack": slack, "email": smtp}


@pytest.fixture
def watcher(org, admin):
    """An administrator subscribed to every catalog event, reachable on every channel."""
    person = make_user(org, "watch@example.com", full_name="Watcher")
    add_to_group(person, administrators_group(org))
    UserAdminSettings.create(user=person, telegram_chat_id="-100200", slack_chat_id="C0123",
                             event_subscriptions=",".join(EVENT_CATALOG))
    for channel in ("telegram", "slack"):
        set_preference(person, "events", channel, True)
    return person


def deliver(app):
    with app.app_context():
        made = send_event_digests()
        deliver_notifications()
    return made


def cause(kind, app, client, org, admin):
    """Make the event `kind` happen through the app as a person would."""
    worker = User.get_or_none(User.email == "w@example.com") or make_user(org, "w@example.com", full_name="Walter")
    if kind == "signin.failed":
        form_post(app.test_client(), "/login", {"email": "w@example.com", "password": "not the password"})
    elif kind == "user.created":
        form_post(client, "/admin/users/new", {"full_name": "Nina", "email": "nina@example.com"})
    elif kind == "user.disabled":
        page = client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
        client.post(f"/admin/users/{worker.id}", data={"csrf_token": csrf_from(page), "status": "disabled"})
    elif kind == "user.two_factor_reset":
        form_post(client, f"/admin/users/{worker.id}/two-factor/off", {}, page=f"/admin/users/{worker.id}")
    elif kind == "group.changed":
        group = Group.create(organization=org, name="Support")
        page = client.get(f"/admin/groups/{group.id}").get_data(as_text=True)
        client.post(f"/admin/groups/{group.id}/permissions", data={"csrf_token": csrf_from(page),
                                                                   "permissions": ["clients.view"]})
    elif kind == "clients.imported":
        audit.record("clients.imported", actor=admin, target="clients.csv", count=3)  # the import's own call
    elif kind == "impersonation.started":
        form_post(client, f"/admin/users/{worker.id}/impersonate", {}, page=f"/admin/users/{worker.id}")
    return worker


@pytest.mark.parametrize("kind", list(EVENT_CATALOG))
def test_each_catalog_event_arrives_by_every_channel(app, admin_client, org, admin, watcher, peers, kind):
    cause(kind, app, admin_client, org, admin)
    assert EventNotice.select().where(EventNotice.action == kind).exists(), kind
    assert deliver(app) >= 1
    label = str(EVENT_CATALOG[kind])
    mails = [m.message for m in peers["email"].wait_for(1) if m.message["To"] == "watch@example.com"]
    assert mails and any(label in m.get_content() for m in mails), label
    assert any(label in text for text in peers["telegram"].texts())
    assert any(label in body["text"] for _path, _headers, body in peers["slack"].requests)
    assert Notification.select().where(Notification.user == watcher.id, Notification.category == "events").exists()


def test_many_events_at_once_are_one_message_per_subscriber(app, org, admin, watcher, smtp):
    for i in range(30):
        audit.record("user.created", actor=admin, target=f"p{i}@example.com")
    assert deliver(app) == 1
    [mail] = [m.message for m in smtp.wait_for(1) if m.message["To"] == "watch@example.com"]
    assert mail["Subject"] == "Events in Kabinet: 30"
    text = mail.get_content()
    assert "p0@example.com" in text and "p19@example.com" in text and "p20@" not in text and "and 10 more" in text
    assert EventNotice.select().count() == 0 and deliver(app) == 0  # nothing twice


def test_only_subscribed_and_allowed_events_go_and_only_in_the_organization(app, org, admin, smtp):
    from models import Organization

    viewer = make_user(org, "v@example.com", language="ru")
    grant(viewer, "users.view")
    UserAdminSettings.create(user=viewer, event_subscriptions="user.created,group.changed")  # group.changed not allowed
    audit.record("group.changed", actor=admin, target="Support")
    audit.record("user.disabled", actor=admin, target="x@example.com")  # not subscribed
    other = Organization.create(name="Other")
    audit.record("user.created", actor=make_user(other, "o@other.com"), target="secret@other.com")
    assert deliver(app) == 0
    audit.record("user.created", actor=admin, target="nina@example.com")
    assert deliver(app) == 1
    [mail] = smtp.wait_for(1)
    assert mail.message["Subject"] == "События в Kabinet: 1"
    assert "Пользователь создан" in mail.message.get_content() or "Создан пользователь" in mail.message.get_content()


def test_the_catalog_page_lists_only_allowed_events_and_saves(client, org, admin):
    person = make_user(org, "p@example.com")
    grant(person, "users.view")
    sign_in(client, "p@example.com")
    page = client.get("/app/notifications/events").get_data(as_text=True)
    assert "Failed sign-in" in page and "User created" in page
    assert "Group permissions changed" not in page and "Clients imported" not in page
    response = client.post("/app/notifications/events", data={"csrf_token": csrf_from(page),
                                                               "events": ["user.created", "signin.failed"]})
    assert response.status_code == 303
    assert UserAdminSettings.get_by_id(person.id).subscription_list == ["signin.failed", "user.created"]
    response = client.post("/app/notifications/events", data={"csrf_token": csrf_from(page), "events": ["group.changed"]})
    assert response.status_code == 422 and "Choose events from the list." in response.get_data(as_text=True)
    assert client.post("/app/notifications/events", data={"events": ["user.created"]}).status_code in (400, 403)
    User.update(language="ru").execute()
    page = client.get("/app/notifications/events").get_data(as_text=True)
    assert "Неудачный вход" in page or "Неуспешный вход" in page
    make_user(org, "n@example.com", language="ru")
    other = client.application.test_client()
    sign_in(other, "n@example.com")
    assert "нет событий" in other.get("/app/notifications/events").get_data(as_text=True).lower()

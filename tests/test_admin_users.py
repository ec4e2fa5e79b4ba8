"""Back-office users: list, search, filters, sorting, keyset pages, create with "Send to email",
details, disable, 2FA resets and roles."""
import re
from datetime import timedelta

import pytest

from models import (
    AuditEvent,
    Client,
    ClientTag,
    Group,
    GroupMember,
    Organization,
    User,
    UserAdminSettings,
    UserAllowedTag,
    UserSession,
    utcnow,
)
from services.permissions import add_to_group, administrators_group, grant
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in
from tests.races import hold_after, run_together

HTMX = {"HX-Request": "true"}


def htmx_post(client, url, data, page):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, data=data, headers={**HTMX, "X-CSRFToken": token})


def many_users(org, n, start=utcnow()):
    for i in range(n):
        User.create(organization=org, email=f"user{i:03d}@example.com", full_name=f"Person {i:03d}",
                    password_hash="x", created_at=start - timedelta(minutes=i))


def ids_on(html):
    return [int(x) for x in re.findall(r'href="/admin/users/(\d+)">Edit<', html)]


def test_list_shows_the_columns_of_seed_004(admin_client, org, admin):
    tag = ClientTag.create(organization=org, caption="VIP")
    worker = make_user(org, "w@example.com", full_name="Walter", created_by=admin, two_factor="totp",
                       ip_allowlist="10.0.0.0/8", status="disabled")
    UserAllowedTag.create(user=worker, tag=tag)
    grant(worker, "users.view")
    html = admin_client.get("/admin/users").get_data(as_text=True)
    for text in ("ID", "Name", "Email", "Allowed client tags", "Status", "2FA", "IP whitelist", "Groups",
                 "Creator", "Created at", "Walter", "w@example.com", "VIP", "Disabled", "TOTP", "10.0.0.0/8",
                 "users.view", f'href="/admin/users/{admin.id}">{admin.id}</a>'):
        assert text in html, text


def test_pages_walk_forward_and_back_without_gaps(admin_client, org, admin):
    many_users(org, 60)
    seen, url = [], "/admin/users?sort=id&dir=asc"
    while url:
        html = admin_client.get(url).get_data(as_text=True)
        seen += ids_on(html)
        match = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
    expected = sorted(u.id for u in User.select())
    assert seen == expected
    last = admin_client.get("/admin/users?sort=id&dir=asc&page=last").get_data(as_text=True)
    assert ids_on(last) == expected[-25:]
    prev = re.search(r'href="([^"]+)"[^>]*rel="prev"', last).group(1).replace("&amp;", "&")
    assert ids_on(admin_client.get(prev).get_data(as_text=True)) == expected[-50:-25]


def test_sorted_by_name_and_by_creation(admin_client, org):
    many_users(org, 30)
    by_name = admin_client.get("/admin/users?sort=name&dir=desc").get_data(as_text=True)
    assert by_name.index("Person 029") < by_name.index("Person 028")
    newest = admin_client.get("/admin/users").get_data(as_text=True)
    assert newest.index("Person 000") < newest.index("Person 001")


def test_search_by_name_or_email_prefix_and_filters(admin_client, org):
    many_users(org, 12)
    make_user(org, "zoe@corp.example", full_name="анна Смирнова", two_factor="email", status="disabled")
    group = Group.create(organization=org, name="Support")
    GroupMember.create(group=group, user=User.get(User.email == "user005@example.com"))
    html = admin_client.get("/admin/users?q=Анна").get_data(as_text=True)
    assert "zoe@corp.example" in html and "user001" not in html
    html = admin_client.get("/admin/users?q=ZOE").get_data(as_text=True)
    assert "zoe@corp.example" in html and "user001" not in html
    html = admin_client.get("/admin/users?q=person 01").get_data(as_text=True)
    assert "user010@" in html and "user011@" in html and "user001@" not in html
    assert "zoe@" in admin_client.get("/admin/users?status=disabled").get_data(as_text=True)
    html = admin_client.get("/admin/users?tfa=email").get_data(as_text=True)
    assert "zoe@" in html and "user001@" not in html
    html = admin_client.get(f"/admin/users?group={group.id}").get_data(as_text=True)
    assert ids_on(html) == [User.get(User.email == "user005@example.com").id]


def test_htmx_search_answers_with_the_table_only(admin_client, org):
    many_users(org, 3)
    response = admin_client.get("/admin/users?q=user001", headers=HTMX)
    body = response.get_data(as_text=True)
    assert 'id="users-table"' in body and "<html" not in body and "user001@" in body and "user002@" not in body


@pytest.mark.parametrize("query", ["after=%%%", "before=bm90IGpzb24", "after=WzEsIDJd&sort=created", "sort=evil&dir=up",
                                   "status=x&tfa=y", "q=" + "x" * 10000, "group=abc", "after=" + "A" * 5000])
def test_bad_list_parameters_never_fail(admin_client, org, admin, query):
    """A broken cursor, sort or filter falls back to the list's first page: the people are still listed."""
    many_users(org, 3)
    response = admin_client.get("/admin/users?" + query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="users-table"' in html
    if not query.startswith("q="):  # a search for 10,000 x's rightly finds nobody
        assert all(f"user{i:03d}@example.com" in html for i in range(3)) and admin.email in html


def test_group_filter_of_another_organization_is_404(admin_client):
    theirs = Group.create(organization=Organization.create(name="Other"), name="X")
    assert admin_client.get(f"/admin/users?group={theirs.id}").status_code == 404


def test_create_user_with_send_to_email_and_sign_in_from_the_link(admin_client, org, smtp, client):
    tag = ClientTag.create(organization=org, caption="VIP")
    support = Group.create(organization=org, name="Support")
    response = form_post(admin_client, "/admin/users/new", {
        "full_name": "Nina New", "email": "Nina@Example.com", "phone": "+7 912 345-67-89",
        "groups": [str(support.id)], "tags": [str(tag.id)], "countries": ["RU", "KZ"], "countries_except": "y",
        # The list is enforced at sign-in (security center): it includes the test client's 127.0.0.1.
        "ip_allowlist": "127.0.0.1\n10.0.0.0/8", "send_to_email": "y"})
    assert response.status_code == 303
    user = User.get(User.email == "nina@example.com")
    assert user.phone == "+79123456789" and user.created_by.email == "boss@example.com"
    assert user.ip_allowlist == "127.0.0.1\n10.0.0.0/8"
    assert [m.group.name for m in user.group_links] == ["Support"]
    settings = UserAdminSettings.get_by_id(user.id)
    assert settings.countries == "KZ,RU" and settings.countries_except
    mail = smtp.wait_for(1)[-1].message
    text = mail.get_content()
    assert mail["To"] == "nina@example.com" and "nina@example.com" in text
    assert "Password" not in text and PASSWORD not in text
    link = re.search(r"http://localhost(/reset-password/\S+)", text).group(1)
    new_password = "violet river quietly hums 2026"
    admin_client.post("/logout", data={"csrf_token": csrf_from(admin_client.get("/admin/users").get_data(as_text=True))})
    response = form_post(admin_client, link, {"password": new_password, "repeat": new_password})
    assert response.status_code == 303
    sign_in(admin_client, "nina@example.com", new_password)


def test_one_address_added_twice_at_once_gives_one_person_and_the_forms_message(admin_client, app, admin, org,
                                                                                monkeypatch):
    """Issue item 5: the address is checked, then the person added; the second request gets the form's
    message (422), not the unique index's error (500)."""
    from blueprints.admin import users as users_view

    second = app.test_client()
    sign_in(second, admin.email)
    tokens = [csrf_from(c.get("/admin/users/new").get_data(as_text=True)) for c in (admin_client, second)]
    hold_after(monkeypatch, users_view.CreateUserForm, "validate_email")

    def add(client, token):
        response = client.post("/admin/users/new", data={"csrf_token": token, "full_name": "Nina New",
                                                         "email": "nina@example.com"})
        return response.status_code, response.get_data(as_text=True)

    answers = run_together(lambda: add(admin_client, tokens[0]), lambda: add(second, tokens[1]))
    assert sorted(status for status, _body in answers) == [303, 422], [a[0] for a in answers]
    assert "A user with this e-mail already exists." in next(body for status, body in answers if status == 422)
    assert User.select().where(User.email == "nina@example.com").count() == 1


def test_create_user_errors_stay_at_the_fields(admin_client, org):
    make_user(org, "taken@example.com")
    other_group = Group.create(organization=Organization.create(name="Other"), name="Theirs")
    cases = [
        ({"full_name": "", "email": ""}, "This field is required."),
        ({"full_name": "x" * 10000, "email": "a@example.com"}, "At most 200 characters."),
        ({"full_name": "A", "email": "TAKEN@example.com"}, "already exists"),
        ({"full_name": "A", "email": "not-an-address"}, "Enter a valid e-mail address"),
        ({"full_name": "A", "email": "a@example.com", "phone": "12"}, "country code"),
        ({"full_name": "A", "email": "a@example.com", "ip_allowlist": "300.1.1.1"}, "is not an IP address"),
        ({"full_name": "A", "email": "a@example.com", "groups": [str(other_group.id)]}, "not a valid choice"),
        ({"full_name": "A", "email": "a@example.com", "groups": ["abc"]}, "Invalid choice"),
        ({"full_name": "A", "email": "a@example.com", "countries": ["XX"]}, "not a valid choice"),
    ]
    for data, message in cases:
        response = form_post(admin_client, "/admin/users/new", data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), (data, message)
    assert User.select().count() == 2
    response = htmx_post(admin_client, "/admin/users/new", {"full_name": "A", "email": ""}, "/admin/users/new")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and body.lstrip().startswith('<form id="user-form"') and 'value="A"' in body


def test_create_user_by_htmx_redirects_to_details(admin_client, smtp):
    response = htmx_post(admin_client, "/admin/users/new", {"full_name": "Hx", "email": "hx@example.com"}, "/admin/users/new")
    user = User.get(User.email == "hx@example.com")
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith(f"/admin/users/{user.id}")
    assert smtp.messages == []  # "Send to email" was not ticked


def save(client, user, **fields):
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    data = {"status": "enabled", **fields}
    return client.post(f"/admin/users/{user.id}", data={"csrf_token": csrf_from(page), **data})


def test_details_save_every_seed_004_setting(admin_client, org):
    worker = make_user(org, "w@example.com")
    tag = ClientTag.create(organization=org, caption="VIP")
    response = save(admin_client, worker, phone="+44 20 7946 0958", telegram_chat_id="-1001234567890",
                    slack_chat_id="C0123456789", subscriptions=["signin.failed", "user.created"], mask_data="y",
                    tags=[str(tag.id)], countries=["DE"], ip_allowlist="2001:db8::/32")
    assert response.status_code == 303
    settings = UserAdminSettings.get_by_id(worker.id)
    assert (settings.telegram_chat_id, settings.slack_chat_id, settings.mask_data) == ("-1001234567890", "C0123456789", True)
    assert settings.subscription_list == ["signin.failed", "user.created"] and settings.countries == "DE"
    worker = User.get_by_id(worker.id)
    assert worker.phone == "+442079460958" and worker.ip_allowlist == "2001:db8::/32"
    page = admin_client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
    assert 'value="-1001234567890"' in page and "••••" in page
    response = save(admin_client, worker, telegram_chat_id="hello world", slack_chat_id="x" * 10000)
    assert response.status_code == 422
    assert "Telegram chat ID is a number" in response.get_data(as_text=True)


def test_countries_filter_lists_the_clients_countries_and_the_rest_a_part_at_a_time(admin_client, org):
    worker = make_user(org, "w@example.com")
    Client.create(organization=org, name="Hans", country="DE")
    Client.create(organization=Organization.create(name="Other"), name="Ivan", country="RU")
    save(admin_client, worker, countries=["KZ"])
    html = admin_client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
    # Their clients' country and the chosen one; not 250 countries (the page's weight budget), nor another organization's.
    assert '<option value="DE">Germany</option>' in html and '<option selected value="KZ">Kazakhstan</option>' in html
    assert '"RU"' not in html and f"/admin/users/{worker.id}?countries=3" in html
    html = admin_client.get(f"/admin/users/{worker.id}?countries=3").get_data(as_text=True)  # L–R
    assert '<option value="RU">Russia</option>' in html and '<option selected value="KZ">Kazakhstan</option>' in html
    assert '"DE"' not in html
    assert save(admin_client, worker, countries=["KZ", "RU"]).status_code == 303
    assert UserAdminSettings.get_by_id(worker.id).countries == "KZ,RU"
    html = admin_client.get("/admin/users/new").get_data(as_text=True)
    assert '<option value="DE">Germany</option>' in html and "/admin/users/new?countries=1" in html


def test_htmx_save_returns_the_details_fragment_on_error(admin_client, org):
    worker = make_user(org, "w@example.com")
    response = htmx_post(admin_client, f"/admin/users/{worker.id}", {"status": "enabled", "phone": "nonsense"},
                         f"/admin/users/{worker.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and body.lstrip().startswith('<div id="user-details">') and "nonsense" in body


def test_disabling_ends_the_persons_sessions_at_once(admin_client, org, app):
    worker = make_user(org, "w@example.com")
    other = app.test_client()
    sign_in(other, "w@example.com")
    assert other.get("/app/personal-data").status_code == 200
    assert save(admin_client, worker, status="disabled").status_code == 303
    assert not UserSession.select().where(UserSession.user == worker, UserSession.ended_at.is_null()).exists()
    response = other.get("/app/personal-data")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    response = form_post(other, "/login", {"email": "w@example.com", "password": PASSWORD})
    assert "This account is disabled" in response.get_data(as_text=True)
    assert save(admin_client, worker, status="enabled").status_code == 303
    assert other.get("/app/personal-data").status_code == 302  # the old session stays ended


def test_disabling_yourself_or_the_last_administrator_is_refused(admin_client, org, admin):
    response = save(admin_client, admin, status="disabled", groups=[str(administrators_group(org).id)])
    assert response.status_code == 409 and "cannot disable your own account" in response.get_data(as_text=True)
    response = save(admin_client, admin, status="enabled")
    assert response.status_code == 409 and "last administrator" in response.get_data(as_text=True)
    assert User.get_by_id(admin.id).status == "enabled"
    assert GroupMember.select().where(GroupMember.user == admin).exists()


def test_two_administrators_disabling_each_other_at_once_leave_one_enabled(app, org, monkeypatch):
    """SECURITY.md 29 under concurrency (issue item 5): each save counts the enabled administrators, then
    writes; the second is refused as the last administrator."""
    from services import user_admin

    admins = administrators_group(org)
    people, clients = [make_user(org, f"admin{n}@example.com", full_name=f"Admin {n}") for n in range(2)], []
    for person in people:
        add_to_group(person, admins)
        clients.append(app.test_client())
        sign_in(clients[-1], person.email)
    tokens = [csrf_from(c.get(f"/admin/users/{people[1 - n].id}").get_data(as_text=True)) for n, c in enumerate(clients)]
    hold_after(monkeypatch, user_admin, "enabled_administrators")

    def disable_the_other(n):
        return clients[n].post(f"/admin/users/{people[1 - n].id}", data={
            "csrf_token": tokens[n], "status": "disabled", "groups": [str(admins.id)]}).status_code

    assert sorted(run_together(lambda: disable_the_other(0), lambda: disable_the_other(1))) == [303, 409]
    assert [u.status for u in User.select().where(User.id.in_([p.id for p in people]))].count("enabled") == 1


def test_two_factor_reset_and_disable_notify_the_person(admin_client, org, smtp):
    worker = make_user(org, "w@example.com", two_factor="totp")
    response = form_post(admin_client, f"/admin/users/{worker.id}/two-factor/email", {}, page=f"/admin/users/{worker.id}")
    assert response.status_code == 303 and User.get_by_id(worker.id).two_factor == "email"
    assert "two-factor" in smtp.wait_for(1)[-1].message["Subject"]
    form_post(admin_client, f"/admin/users/{worker.id}/two-factor/off", {}, page=f"/admin/users/{worker.id}")
    assert User.get_by_id(worker.id).two_factor == "off"
    assert admin_client.get(f"/admin/users/{worker.id}").get_data(as_text=True).count("Disabled") >= 1


def test_reset_link_is_mailed_never_a_password(admin_client, org, smtp):
    worker = make_user(org, "w@example.com")
    response = form_post(admin_client, f"/admin/users/{worker.id}/reset-link", {}, page=f"/admin/users/{worker.id}")
    assert response.status_code == 303
    assert "/reset-password/" in smtp.wait_for(1)[-1].message.get_content()


def test_only_the_owner_changes_roles(client, org, admin):
    worker = make_user(org, "w@example.com")
    deputy = make_user(org, "d@example.com", role="admin")
    add_to_group(deputy, administrators_group(org))
    sign_in(client, "d@example.com")
    assert 'name="role"' not in client.get(f"/admin/users/{worker.id}").get_data(as_text=True)
    response = save(client, worker, role="admin")
    assert response.status_code == 409 and "Only the organization&#39;s owner" in response.get_data(as_text=True)
    assert User.get_by_id(worker.id).role == "employee"
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/admin/users").get_data(as_text=True))})
    sign_in(client, "boss@example.com")
    assert save(client, worker, role="admin").status_code == 303
    assert User.get_by_id(worker.id).role == "admin"
    response = save(client, worker, role="owner")
    assert response.status_code == 422 and User.get_by_id(worker.id).role == "admin"


def test_a_non_administrator_cannot_touch_administrators(client, org, admin):
    editor = make_user(org, "e@example.com")
    grant(editor, "users.view", "users.edit")
    sign_in(client, "e@example.com")
    assert save(client, admin, status="disabled").status_code == 403
    worker = make_user(org, "w@example.com")
    response = save(client, worker, groups=[str(administrators_group(org).id)])
    assert response.status_code == 403
    assert not GroupMember.select().where(GroupMember.user == worker).exists()


def test_users_of_another_organization_are_404(admin_client):
    stranger = make_user(Organization.create(name="Other"), "x@other.com")
    assert admin_client.get(f"/admin/users/{stranger.id}").status_code == 404
    assert save(admin_client, stranger, status="disabled").status_code == 404
    assert User.get_by_id(stranger.id).status == "enabled"


@pytest.mark.parametrize("limit", [0, 3, 1000])
def test_narrow_and_broad_filters_give_the_same_pages(admin_client, org, monkeypatch, limit):
    """A filter is applied as an id list when it leaves few people, as a condition otherwise
    (bench/admin_users.py): both must list the same people in the same order."""
    from blueprints.admin import userlist

    many_users(org, 40)
    make_user(org, "anna.k@example.com", full_name="Анна Каренина", two_factor="totp")
    group = Group.create(organization=org, name="Support")
    for user in User.select().where(User.email.startswith("user01")):
        GroupMember.create(group=group, user=user)
    User.update(status="disabled").where(User.email.in_(["user012@example.com", "user030@example.com"])).execute()
    monkeypatch.setattr(userlist, "CANDIDATES_MAX", limit)
    queries = ["q=person 0", "q=user01", "q=анна", "q=zzz", "status=disabled", f"group={group.id}",
               f"group={group.id}&status=disabled", "q=Person&tfa=totp", "q=user0&sort=name&dir=desc&page=last"]
    pages = {query: ids_on(admin_client.get("/admin/users?" + query).get_data(as_text=True)) for query in queries}
    by_email = {u.email: u.id for u in User.select()}
    assert pages["q=person 0"] == [by_email[f"user{i:03d}@example.com"] for i in range(25)]
    assert pages["q=user01"] == [by_email[f"user{i:03d}@example.com"] for i in range(10, 20)]
    assert pages["q=анна"] == [by_email["anna.k@example.com"]] and pages["q=zzz"] == []
    assert pages["status=disabled"] == [by_email["user012@example.com"], by_email["user030@example.com"]]
    assert pages[f"group={group.id}"] == [by_email[f"user{i:03d}@example.com"] for i in range(10, 20)]
    assert pages[f"group={group.id}&status=disabled"] == [by_email["user012@example.com"]]
    assert pages["q=Person&tfa=totp"] == []
    assert pages["q=user0&sort=name&dir=desc&page=last"] == [by_email[f"user{i:03d}@example.com"] for i in range(24, -1, -1)][-25:]


def test_two_factor_actions_forget_the_old_secrets(admin_client, org, smtp):
    from models import RecoveryCode, TotpSecret
    from services import otp

    worker = make_user(org, "w@example.com", two_factor="totp")
    TotpSecret.create(user=worker, secret=otp.new_totp_secret())
    otp.new_recovery_codes(worker)
    form_post(admin_client, f"/admin/users/{worker.id}/two-factor/email", {}, page=f"/admin/users/{worker.id}")
    assert not TotpSecret.select().where(TotpSecret.user == worker).exists()  # the app no longer opens it
    assert RecoveryCode.select().where(RecoveryCode.user == worker).count() == 10
    form_post(admin_client, f"/admin/users/{worker.id}/two-factor/off", {}, page=f"/admin/users/{worker.id}")
    assert not RecoveryCode.select().where(RecoveryCode.user == worker).exists()
    event = AuditEvent.select().where(AuditEvent.action == "user.two_factor_reset").order_by(AuditEvent.id.desc()).get()
    assert event.actor.email == "boss@example.com" and event.target == "w@example.com" and '"off"' in event.details


def test_your_own_two_factor_is_not_reset_from_the_back_office(admin_client, admin):
    User.update(two_factor="totp").where(User.id == admin.id).execute()
    response = form_post(admin_client, f"/admin/users/{admin.id}/two-factor/off", {}, page=f"/admin/users/{admin.id}")
    assert response.status_code == 409 and "on the Security page" in response.get_data(as_text=True)
    assert User.get_by_id(admin.id).two_factor == "totp"

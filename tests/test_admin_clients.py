"""Client tags, client visibility by tags and countries, masking (page and JSON), CSV import."""
import io
import re

import pytest

from models import Client, ClientTag, ClientTagLink, Organization, UserAdminSettings, UserAllowedTag
from services.clients import mask_email, mask_phone, mask_text
from services.permissions import grant
from tests.conftest import csrf_from, form_post, make_user, sign_in
from tests.races import hold_after, run_together

HTMX = {"HX-Request": "true"}


def test_tags_added_renamed_and_deleted(admin_client, org):
    response = form_post(admin_client, "/admin/client-tags", {"caption": "VIP"})
    assert response.status_code == 303
    tag = ClientTag.get(ClientTag.caption == "VIP")
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tag “VIP” added." in page and f"<td>{tag.id}</td>" in page
    edit = admin_client.get(f"/admin/client-tags?edit={tag.id}", headers=HTMX).get_data(as_text=True)
    assert 'value="VIP"' in edit and "<html" not in edit
    token = csrf_from(edit)
    response = admin_client.post(f"/admin/client-tags/{tag.id}", data={"caption": "Gold"},
                                 headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 204 and ClientTag.get_by_id(tag.id).caption == "Gold"
    response = form_post(admin_client, f"/admin/client-tags/{tag.id}/delete", {}, page="/admin/client-tags")
    assert response.status_code == 303 and not ClientTag.select().exists()


def test_the_only_allowed_tag_of_someone_is_kept_so_they_never_see_every_client(admin_client, org):
    """No allowed tags means no limit: deleting someone's only allowed tag would show them every client.
    The page refuses (409 with the people named, with and without htmx) until their tags change."""
    vip, retail = (ClientTag.create(organization=org, caption=c) for c in ("VIP", "Retail"))
    limited = make_user(org, "limited@example.com")
    UserAllowedTag.create(user=limited, tag=vip)
    both = make_user(org, "both@example.com")
    UserAllowedTag.create(user=both, tag=vip)
    UserAllowedTag.create(user=both, tag=retail)
    response = form_post(admin_client, f"/admin/client-tags/{vip.id}/delete", {}, page="/admin/client-tags")
    assert response.status_code == 409
    assert "only allowed tag of limited@example.com" in response.get_data(as_text=True)
    token = csrf_from(admin_client.get("/admin/client-tags").get_data(as_text=True))
    fragment = admin_client.post(f"/admin/client-tags/{vip.id}/delete", headers={**HTMX, "X-CSRFToken": token})
    assert fragment.status_code == 409 and 'id="tags-card"' in fragment.get_data(as_text=True)
    assert ClientTag.get_or_none(ClientTag.id == vip.id) is not None
    assert [t.tag_id for t in UserAllowedTag.select().where(UserAllowedTag.user == limited.id)] == [vip.id]
    # Retail is not anyone's only tag: it goes, and "both" keeps VIP as their limit
    assert form_post(admin_client, f"/admin/client-tags/{retail.id}/delete", {}, page="/admin/client-tags").status_code == 303
    assert [t.tag_id for t in UserAllowedTag.select().where(UserAllowedTag.user == both.id)] == [vip.id]


def test_two_tags_of_one_caption_added_at_once_give_one_tag_and_the_forms_message(admin_client, app, admin, org,
                                                                                   monkeypatch):
    """Issue item 5: the caption is checked, then the tag added; the second request gets the form's
    message (422), not the unique index's error (500)."""
    from blueprints.admin import clients as clients_view

    second = app.test_client()
    sign_in(second, admin.email)
    tokens = [csrf_from(c.get("/admin/client-tags").get_data(as_text=True)) for c in (admin_client, second)]
    hold_after(monkeypatch, clients_view.TagForm, "validate_caption")

    def add(client, token):
        response = client.post("/admin/client-tags", data={"csrf_token": token, "caption": "VIP"})
        return response.status_code, response.get_data(as_text=True)

    answers = run_together(lambda: add(admin_client, tokens[0]), lambda: add(second, tokens[1]))
    assert sorted(status for status, _body in answers) == [303, 422], [a[0] for a in answers]
    assert "A tag with this caption already exists." in next(body for status, body in answers if status == 422)
    assert ClientTag.select().where(ClientTag.caption == "VIP").count() == 1


def test_tag_errors(admin_client, org):
    ClientTag.create(organization=org, caption="VIP")
    for caption, message in (("", "This field is required."), ("x" * 10000, "At most 60 characters."), ("VIP", "already exists")):
        response = form_post(admin_client, "/admin/client-tags", {"caption": caption})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    theirs = ClientTag.create(organization=Organization.create(name="Other"), caption="Theirs")
    assert form_post(admin_client, f"/admin/client-tags/{theirs.id}", {"caption": "Mine"}, page="/admin/client-tags").status_code == 404
    assert form_post(admin_client, f"/admin/client-tags/{theirs.id}/delete", {}, page="/admin/client-tags").status_code == 404
    assert admin_client.get(f"/admin/client-tags?edit={theirs.id}").status_code == 404
    assert ClientTag.get_by_id(theirs.id).caption == "Theirs"


@pytest.fixture
def registry(org):
    vip, retail = ClientTag.create(organization=org, caption="VIP"), ClientTag.create(organization=org, caption="Retail")
    clients = {}
    for name, country, tags in (("Anna Smirnova", "RU", [vip]), ("Hans Gruber", "DE", [retail]),
                                ("Aigerim Nur", "KZ", [vip, retail]), ("No Tags", "RU", [])):
        clients[name] = Client.create(organization=org, name=name, email=f"{name.split()[0].lower()}@mail.example",
                                      phone="+79123456789", country=country)
        for tag in tags:
            ClientTagLink.create(client=clients[name], tag=tag)
    Client.create(organization=Organization.create(name="Other"), name="Foreign Secret", country="RU")
    return vip, retail


def viewer(client, org, tags=(), countries="", except_=False, mask=False):
    user = make_user(org, "viewer@example.com")
    grant(user, "clients.view")
    for tag in tags:
        UserAllowedTag.create(user=user, tag=tag)
    UserAdminSettings.create(user=user, countries=countries, countries_except=except_, mask_data=mask)
    sign_in(client, "viewer@example.com")
    return {c["name"] for c in client.get("/admin/clients.json").get_json()["clients"]}


def test_without_tags_or_countries_everyone_of_the_organization_is_seen(client, org, registry):
    assert viewer(client, org) == {"Anna Smirnova", "Hans Gruber", "Aigerim Nur", "No Tags"}


def test_allowed_tags_limit_the_clients(client, org, registry):
    vip, _retail = registry
    assert viewer(client, org, tags=[vip]) == {"Anna Smirnova", "Aigerim Nur"}


def test_countries_only_these(client, org, registry):
    assert viewer(client, org, countries="DE,KZ") == {"Hans Gruber", "Aigerim Nur"}


def test_countries_all_except(client, org, registry):
    assert viewer(client, org, countries="RU", except_=True) == {"Hans Gruber", "Aigerim Nur"}


def test_tags_and_countries_together(client, org, registry):
    _vip, retail = registry
    assert viewer(client, org, tags=[retail], countries="DE", except_=True) == {"Aigerim Nur"}


def test_page_shows_the_same_clients_as_json(client, org, registry):
    vip, _retail = registry
    viewer(client, org, tags=[vip])
    page = client.get("/admin/clients").get_data(as_text=True)
    assert "Anna Smirnova" in page and "Hans Gruber" not in page and "Foreign Secret" not in page


def test_masking_on_page_and_json(client, org, registry):
    names = viewer(client, org, mask=True)
    assert "A*** S*******" in names and "Anna Smirnova" not in names
    data = client.get("/admin/clients.json").get_json()["clients"]
    anna = next(c for c in data if c["name"] == "A*** S*******")
    assert anna["email"] == "a***@m***.example" and anna["phone"] == "+7********89"
    page = client.get("/admin/clients").get_data(as_text=True)
    assert "Smirnova" not in page and "anna@mail.example" not in page and "+79123456789" not in page
    assert "A*** S*******" in page


def test_mask_helpers():
    assert mask_text("Анна Смирнова") == "А*** С*******"
    assert mask_email("x@y") == "x*@y"
    assert mask_phone("+442079460958") == "+44********58"


def csv_post(client, content):
    token = csrf_from(client.get("/admin/clients").get_data(as_text=True))
    return client.post("/admin/clients/import", data={"csrf_token": token, "file": (io.BytesIO(content), "c.csv")},
                       content_type="multipart/form-data")


def test_csv_import_creates_clients_with_tags(admin_client, org):
    ClientTag.create(organization=org, caption="VIP")
    content = "name;email;phone;country;tags\nИван Петров;Ivan@Example.com;+7 912 345 67 89;ru;vip\nJo;;;;\n".encode()
    response = csv_post(admin_client, content)
    assert response.status_code == 303
    ivan = Client.get(Client.name == "Иван Петров")
    assert (ivan.email, ivan.phone, ivan.country) == ("ivan@example.com", "+79123456789", "RU")
    assert [link.tag.caption for link in ivan.tag_links] == ["VIP"]
    assert "2 clients imported." in admin_client.get("/admin/clients").get_data(as_text=True)


def test_a_tag_deleted_between_the_check_and_the_import_gives_a_message_and_imports_nothing(admin_client, org,
                                                                                             monkeypatch):
    """Issue item 5: the rows are checked against the tags, then imported. A tag deleted in between (another
    administrator) is found again under the import's lock: a 422 with a message, not the foreign key's 500."""
    from blueprints.admin import clients as clients_view
    from models import Operation

    vip = ClientTag.create(organization=org, caption="VIP")
    real_parse = clients_view.parse_clients_csv

    def parse_then_tag_deleted(*args):
        rows = real_parse(*args)
        vip.delete_instance()
        return rows

    monkeypatch.setattr(clients_view, "parse_clients_csv", parse_then_tag_deleted)
    response = csv_post(admin_client, b"name;tags\nAnna;vip\nJo;\n")
    assert response.status_code == 422
    assert "A tag named in the file was deleted meanwhile" in response.get_data(as_text=True)
    assert Client.select().count() == 0 and Operation.get().status == "failed"


@pytest.mark.parametrize("content, message", [
    (b"name,email\nGood,good@example.com\nBad,not-an-email\n", "Line 3:"),
    (b"email\nx@example.com\n", "must name the columns"),
    (b"name,country\nA,XX\n", "not a two-letter country code"),
    (b"name,tags\nA,Unknown\n", "There is no client tag"),
    (b"name,phone\nA,12\n", "not a phone number"),
    (b"\xff\xfe\x00\x01", "not UTF-8"),
    (b"name\n" + b"x" * 300 + b"\n", "A name of 1 to 200 characters"),
    (b"<?php echo 1; ?>", "must name the columns"),
])
def test_bad_csv_is_refused_whole(admin_client, org, content, message):
    response = csv_post(admin_client, content)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert not Client.select().exists()


def test_import_needs_its_own_permission(client, org):
    user = make_user(org, "v@example.com")
    grant(user, "clients.view")
    sign_in(client, "v@example.com")
    assert "Import from CSV" not in client.get("/admin/clients").get_data(as_text=True)
    token = csrf_from(client.get("/admin/clients").get_data(as_text=True))
    response = client.post("/admin/clients/import", data={"csrf_token": token, "file": (io.BytesIO(b"name\nA\n"), "c.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 403 and not Client.select().exists()


# --- visibility on every way out: pages, htmx fragments, JSON pages (issue 6) ----------------------


def page_names(client, url="/admin/clients", headers=None):
    html = client.get(url, headers=headers or {}).get_data(as_text=True)
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return {re.sub(r"<[^>]+>", "", cells[1]) for cells in
            (re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)) if len(cells) > 1}


@pytest.mark.parametrize("countries, except_, seen", [
    ("DE,KZ", False, {"Hans Gruber", "Aigerim Nur"}),
    ("RU", True, {"Hans Gruber", "Aigerim Nur"}),
    ("", False, {"Anna Smirnova", "Hans Gruber", "Aigerim Nur", "No Tags"}),
])
def test_country_rules_on_the_page_and_its_fragment(client, org, registry, countries, except_, seen):
    assert viewer(client, org, countries=countries, except_=except_) == seen
    assert page_names(client) == seen
    assert page_names(client, headers=HTMX) == seen


def test_tags_and_masking_on_the_htmx_fragment(client, org, registry):
    vip, _retail = registry
    viewer(client, org, tags=[vip], mask=True)
    fragment = client.get("/admin/clients", headers=HTMX).get_data(as_text=True)
    assert "<html" not in fragment
    assert page_names(client, headers=HTMX) == {"A*** S*******", "A****** N**"}
    assert "Smirnova" not in fragment and "anna@mail.example" not in fragment and "Hans" not in fragment


def test_every_json_and_html_page_keeps_the_rules(client, org, registry, monkeypatch):
    """Walking the pages (after=) never shows a client the person may not see, unmasked or foreign."""
    from blueprints.admin import clients as clients_view

    monkeypatch.setattr(clients_view, "PAGE_SIZE", 1)
    vip, _retail = registry
    for n in range(3):
        extra = Client.create(organization=org, name=f"Vip Extra{n}", email=f"x{n}@mail.example", country="RU")
        ClientTagLink.create(client=extra, tag=vip)
    viewer(client, org, tags=[vip], countries="KZ", except_=True, mask=True)
    seen, after = [], None
    while True:
        data = client.get("/admin/clients.json" + (f"?after={after}" if after else "")).get_json()
        seen += data["clients"]
        html_names = page_names(client, "/admin/clients" + (f"?after={after}" if after else ""))
        assert html_names == {c["name"] for c in data["clients"]}
        after = data["next_after"]
        if after is None:
            break
    assert [c["name"] for c in seen] == ["A*** S*******"] + ["V** E*****"] * 3
    assert len({c["id"] for c in seen}) == 4
    assert all("@m***." in c["email"] and c["phone"] in ("", "+7********89") for c in seen)


def test_a_foreign_client_id_as_cursor_shows_nothing_foreign(client, org, registry):
    foreign = Client.get(Client.name == "Foreign Secret")
    viewer(client, org)
    data = client.get(f"/admin/clients.json?after={foreign.id - 1}").get_json()
    assert "Foreign Secret" not in {c["name"] for c in data["clients"]}
    for junk in ("-1", "x", "9" * 40):
        assert client.get(f"/admin/clients.json?after={junk}").status_code == 200


def test_without_clients_view_neither_page_nor_json(client, org, registry):
    user = make_user(org, "nobody@example.com")
    grant(user, "tags.manage")
    sign_in(client, "nobody@example.com")
    assert client.get("/admin/clients").status_code == 403
    assert client.get("/admin/clients.json").status_code == 403

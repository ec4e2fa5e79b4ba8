"""The personal-data page: profile and company cards, inline autosave, language and region."""
import re
import threading
from decimal import Decimal

import pytest

from models import AuditEvent, Organization, User
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in

HX = {"HX-Request": "true"}


def hx(client, page="/app/personal-data"):
    """Headers of an htmx request from `page` (the CSRF token travels as a header)."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return {**HX, "X-CSRFToken": token}


def page(client, path="/app/personal-data", **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_signed_out_goes_to_sign_in(client, user):
    assert client.get("/app/personal-data").status_code == 302
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/app/personal-data/field/full_name", headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 401 and "/login" in response.headers["HX-Redirect"]


def test_profile_card_shows_name_phone_company_role_and_balance(signed_in, user):
    User.update(phone="+79123456789", phone_verified=True, role="admin").where(User.id == user.id).execute()
    html = page(signed_in)
    assert '<h2 id="profile-title">Anna Test</h2>' in html
    assert "+7 912 345-67-89" in html
    assert "anna@example.com" in html and "ООО «Тест»" in html
    assert "Administrator" in html
    assert "RUB\u00a01,234.50" in html


def test_balance_in_russian_format(signed_in, user):
    User.update(language="ru").where(User.id == user.id).execute()
    html = page(signed_in)
    assert "1\u00a0234,50\u00a0₽" in html
    assert "Личные данные" in html


def test_card_title_is_the_email_while_no_name(client, org):
    make_user(org, full_name="")
    sign_in(client)
    assert '<h2 id="profile-title">anna@example.com</h2>' in page(client)


@pytest.mark.parametrize(
    "tariff,balance,reason",
    [
        ("corporate", "10", "corporate tariff"),
        ("prepaid", "10", "prepaid plan"),
        ("standard", None, "not configured"),
    ],
)
def test_no_balance_says_why(signed_in, org, tariff, balance, reason):
    Organization.update(tariff=tariff, balance=balance).where(Organization.id == org.id).execute()
    html = page(signed_in)
    balance_dd = re.search(r'<dd id="balance">(.*?)</dd>', html, re.S).group(1)
    assert reason in balance_dd and "RUB" not in balance_dd


def test_company_card_for_a_company_and_an_entrepreneur(signed_in, org):
    Organization.update(okved="62.01", legal_address="Москва").where(Organization.id == org.id).execute()
    html = page(signed_in)
    for text in ("7704123450", "770401001", "1027704123457", "62.01", "Москва", "account manager"):
        assert text in html
    assert "OGRNIP" not in html
    Organization.update(legal_form="ie", tin="500100732259", ogrnip="304500116000157", kpp=None, ogrn=None).where(
        Organization.id == org.id
    ).execute()
    html = page(signed_in)
    assert "OGRNIP" in html and "304500116000157" in html and "KPP" not in html and "Individual entrepreneur" in html


def test_html_in_the_name_is_escaped_everywhere(signed_in, user):
    User.update(full_name='<img src=x onerror="alert(1)">').where(User.id == user.id).execute()
    html = page(signed_in)
    assert "<img src=x" not in html and "&lt;img src=x" in html


# --- autosave -----------------------------------------------------------------------------------


def test_autosave_htmx_writes_the_column_and_swaps_the_top_bar(signed_in, user):
    response = signed_in.post("/app/personal-data/field/full_name", data={"full_name": "  Анна Иванова "}, headers=hx(signed_in))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="full_name-state"' in html and "Saved" in html
    assert '<span id="topbar-label" hx-swap-oob="true">Анна Иванова</span>' in html
    assert '<h2 id="profile-title" hx-swap-oob="true">Анна Иванова</h2>' in html
    assert "<html" not in html and len(response.data) < 2048
    assert User.get_by_id(user.id).full_name == "Анна Иванова"


def test_autosave_without_js_redirects_with_a_flash(signed_in, user):
    response = form_post(signed_in, "/app/personal-data/field/short_info", {"short_info": "Team lead"}, page="/app/personal-data")
    assert response.status_code == 303
    assert "Saved." in page(signed_in)
    assert User.get_by_id(user.id).short_info == "Team lead"


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("full_name", "x" * 10000, "At most 200 characters."),
        ("full_name", "", "Enter your name."),
        ("full_name", "Anna\x00Test", "control characters"),
        ("short_info", "y" * 201, "At most 200 characters."),
    ],
)
def test_autosave_bad_input_changes_nothing(signed_in, user, field, value, message):
    response = signed_in.post(f"/app/personal-data/field/{field}", data={field: value}, headers=hx(signed_in))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    fresh = User.get_by_id(user.id)
    assert (fresh.full_name, fresh.short_info) == ("Anna Test", "")
    # Without JS: the whole page, the input kept and the message at the field.
    response = form_post(signed_in, f"/app/personal-data/field/{field}", {field: value}, page="/app/personal-data")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "<html" in html


def test_autosave_unknown_field_and_missing_csrf(signed_in, user):
    assert signed_in.post("/app/personal-data/field/email", data={"email": "x@y.z"}, headers=hx(signed_in)).status_code == 404
    assert signed_in.post("/app/personal-data/field/full_name", data={"full_name": "Evil"}).status_code == 403
    assert User.get_by_id(user.id).full_name == "Anna Test"


def test_autosave_reads_the_session_once_writes_one_column_and_sets_no_cookie(signed_in, user, org):
    """DESIGN.md: an autosave is one small write. The session lookup brings the person and their
    organization in one query (the 2FA policy and the top bar need no more), and the session cookie
    is not re-signed and re-sent on every keystroke's save."""
    import logging

    headers = hx(signed_in)
    statements = []

    class Collect(logging.Handler):
        def emit(self, record):
            if isinstance(record.msg, tuple):
                statements.append(record.msg[0])

    logger, handler = logging.getLogger("peewee"), Collect()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        response = signed_in.post("/app/personal-data/field/full_name", data={"full_name": "Anna Quick"}, headers=headers)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    writes = [sql for sql in statements if not sql.lstrip().upper().startswith("SELECT")]
    reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(writes) == 1 and '"full_name"' in writes[0] and '"short_info"' not in writes[0]
    # One read for the session, the person and the organization; no separate look-ups of the person, the
    # organization (2FA policy) or their groups (the back-office menu). Other reads (the webhook
    # subscriptions a change is reported to) are the features' own.
    session_reads = [sql for sql in reads if '"user_session"' in sql]
    assert len(session_reads) == 1 and '"organization"' in session_reads[0]
    assert not [sql for sql in reads if sql not in session_reads and ('FROM "user"' in sql or 'FROM "organization"' in sql
                                                                      or 'FROM "group"' in sql)]
    assert User.get_by_id(user.id).full_name == "Anna Quick"
    # The joined session row is a full organization: the 2FA policy still holds on the next request.
    Organization.update(require_2fa=True).where(Organization.id == org.id).execute()
    blocked = signed_in.post("/app/personal-data/field/full_name", data={"full_name": "Nope"}, headers=headers)
    assert "/security/" in blocked.headers.get("HX-Redirect", "") and User.get_by_id(user.id).full_name == "Anna Quick"


def test_two_tabs_saving_different_fields_keep_both(app, org, user):
    """Each save writes only its own column, so parallel saves of two fields never undo each other."""
    tabs = [app.test_client(), app.test_client()]
    for tab in tabs:
        sign_in(tab)
    headers = [hx(tab) for tab in tabs]
    errors = []

    def save(i, field, n):
        for k in range(n):
            r = tabs[i].post(f"/app/personal-data/field/{field}", data={field: f"{field} {k}"}, headers=headers[i])
            if r.status_code != 200:
                errors.append(r.status_code)

    threads = [threading.Thread(target=save, args=(0, "full_name", 15)), threading.Thread(target=save, args=(1, "short_info", 15))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    fresh = User.get_by_id(user.id)
    assert (fresh.full_name, fresh.short_info) == ("full_name 14", "short_info 14")


# --- language, country, time zone -------------------------------------------------------------------


def test_region_form_saves_language_country_and_zone(signed_in, user):
    html = page(signed_in, "/app/personal-data/region")
    # Nobody in the organization has a country yet: every country; no zone yet: the areas to pick zones from.
    assert '<option value="RU">Russia</option>' in html and "?zones=Europe" in html
    assert "Europe/Moscow" in page(signed_in, "/app/personal-data/region?zones=Europe")
    response = form_post(
        signed_in, "/app/personal-data/region", {"language": "ru", "country": "RU", "time_zone": "Asia/Vladivostok"}
    )
    assert response.status_code == 303
    fresh = User.get_by_id(user.id)
    assert (fresh.language, fresh.country, fresh.time_zone) == ("ru", "RU", "Asia/Vladivostok")
    html = page(signed_in)
    assert "Язык и регион сохранены." in html and "Россия" in html and "(UTC+10:00) Владивосток" in html


def test_time_zone_list_is_the_countrys_until_every_zone_is_asked_for(signed_in, user):
    User.update(country="RU", time_zone="Europe/Moscow").where(User.id == user.id).execute()
    html = page(signed_in, "/app/personal-data/region")
    assert "Asia/Vladivostok" in html and "America/New_York" not in html and "Show every time zone" in html
    # Every zone, one area at a time (all 490 in one page were over the page-weight budget): ?zones=all opens
    # the chosen zone's area, with links to the others.
    html = page(signed_in, "/app/personal-data/region?zones=all")
    assert "Europe/Berlin" in html and "America/New_York" not in html and "?zones=America" in html
    assert "America/New_York" in page(signed_in, "/app/personal-data/region?zones=America")
    # htmx asks for the list of a newly picked country: shown, not saved.
    preview = signed_in.get("/app/personal-data/region?language=&country=DE&time_zone=", headers=HX)
    assert "Europe/Berlin" in preview.get_data(as_text=True) and "Asia/Vladivostok" not in preview.get_data(as_text=True)
    # Only the zone field comes back, so a language picked while the list loads is not swapped away.
    assert preview.get_data(as_text=True).lstrip().startswith('<div id="region-zone">')
    assert 'name="language"' not in preview.get_data(as_text=True)
    assert User.get_by_id(user.id).country == "RU"
    # A zone outside the country's list is still accepted (picked from the full list).
    response = form_post(signed_in, "/app/personal-data/region", {"language": "", "country": "RU", "time_zone": "America/New_York"})
    assert response.status_code == 303 and User.get_by_id(user.id).time_zone == "America/New_York"


def test_region_country_list_is_the_organizations_until_a_part_of_the_whole_is_asked_for(signed_in, user):
    User.update(country="RU").where(User.id == user.id).execute()
    User.create(organization=user.organization, email="kz@example.com", full_name="K", password_hash="x", country="KZ")
    html = page(signed_in, "/app/personal-data/region")
    assert '<option selected value="RU">Russia</option>' in html and '<option value="KZ">Kazakhstan</option>' in html
    assert '"DE"' not in html and "?countries=2" in html
    html = page(signed_in, "/app/personal-data/region?countries=2")  # E–M
    assert '<option value="DE">Germany</option>' in html and '<option selected value="RU">Russia</option>' in html
    assert '"FR"' in html and '"US"' not in html
    # Any country stays valid, whichever list it was picked from.
    response = form_post(signed_in, "/app/personal-data/region", {"language": "", "country": "US", "time_zone": ""})
    assert response.status_code == 303 and User.get_by_id(user.id).country == "US"


def test_region_country_list_is_localized(signed_in, user):
    User.update(language="ru").where(User.id == user.id).execute()
    html = page(signed_in, "/app/personal-data/region")
    assert '<option value="DE">Германия</option>' in html


def test_region_htmx_get_is_a_fragment_and_errors_stay_at_the_field(signed_in, user):
    response = signed_in.get("/app/personal-data/region", headers=HX)
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    for data, message in [
        ({"language": "de", "country": "", "time_zone": ""}, "Choose a language"),
        ({"language": "en", "country": "XX", "time_zone": ""}, "Choose a country"),
        ({"language": "en", "country": "", "time_zone": "Mars/Olympus"}, "Choose a time zone"),
        ({"language": "en", "country": "", "time_zone": "z" * 10000}, "Choose a time zone"),
    ]:
        response = signed_in.post("/app/personal-data/region", data=data, headers=hx(signed_in))
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    fresh = User.get_by_id(user.id)
    assert (fresh.language, fresh.country, fresh.time_zone) == (None, None, None)


def test_zone_from_country_when_none_chosen(signed_in, user):
    form_post(signed_in, "/app/personal-data/region", {"language": "", "country": "FR", "time_zone": ""})
    assert User.get_by_id(user.id).time_zone == "Europe/Paris"


def test_browser_zone_is_taken_on_first_visit_only(signed_in, user):
    html = page(signed_in)
    assert "data-detect-time-zone" in html
    headers = hx(signed_in)
    assert signed_in.post("/app/personal-data/time-zone", data={"time_zone": "Mars/Base"}, headers=headers).status_code == 422
    assert signed_in.post("/app/personal-data/time-zone", data={"time_zone": "Asia/Tokyo"}, headers=headers).status_code == 204
    assert signed_in.post("/app/personal-data/time-zone", data={"time_zone": "Europe/Oslo"}, headers=headers).status_code == 204
    fresh = User.get_by_id(user.id)
    assert (fresh.time_zone, fresh.country) == ("Asia/Tokyo", "JP")  # the detected region is the default country
    assert "data-detect-time-zone" not in page(signed_in)


def test_detected_zone_keeps_a_chosen_country(signed_in, user):
    User.update(country="RU").where(User.id == user.id).execute()
    signed_in.post("/app/personal-data/time-zone", data={"time_zone": "Asia/Tokyo"}, headers=hx(signed_in))
    assert User.get_by_id(user.id).country == "RU"


def test_times_show_in_the_persons_zone(signed_in, user):
    from datetime import datetime

    User.update(password_changed_at=datetime(2026, 1, 15, 12, 0), time_zone="Asia/Vladivostok").where(User.id == user.id).execute()
    assert "1/15/26, 10:00\u202fPM" in page(signed_in)
    # No zone chosen: derived from the country.
    User.update(time_zone=None, country="RU").where(User.id == user.id).execute()
    assert "1/15/26, 3:00\u202fPM" in page(signed_in)


def balance_cell(html):
    return re.search(r'<dd id="balance">(.*?)</dd>', html, re.S).group(1)


def test_the_balance_links_to_the_settlements_for_those_who_may_see_them(signed_in, user, org):
    from services.permissions import grant

    Organization.update(tariff="standard", balance="1234.50").where(Organization.id == org.id).execute()
    assert "<a " not in balance_cell(page(signed_in))  # no billing.view: the balance, no link to a closed page
    grant(user, "billing.view")
    cell = balance_cell(page(signed_in))
    assert '<a href="/app/account/balance">RUB\u00a01,234.50</a>' in cell
    assert signed_in.get("/app/account/balance").status_code == 200
    Organization.update(tariff="corporate").where(Organization.id == org.id).execute()
    cell = balance_cell(page(signed_in))
    assert "corporate tariff" in cell and "<a " not in cell  # no figure to follow


@pytest.mark.parametrize(
    "language,tariff,label",
    [("en", "standard", "Standard"), ("en", "corporate", "Corporate"), ("ru", "prepaid", "Предоплатный"),
     ("ru", "corporate", "Корпоративный"), ("ru", "standard", "Стандартный")],
)
def test_the_tariff_is_shown_translated(signed_in, user, org, language, tariff, label):
    from services.permissions import grant

    grant(user, "billing.view")
    User.update(language=language).where(User.id == user.id).execute()
    Organization.update(tariff=tariff).where(Organization.id == org.id).execute()
    assert re.search(r'id="tariff">[^<]*' + label, page(signed_in, "/app/account/balance"))

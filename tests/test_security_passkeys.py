"""Passkeys (WebAuthn) as a second factor: registering, listing, renaming, removing, signing in, and the
bad input around them — forged, replayed and expired challenges, a wrong origin or RP ID, a reused counter,
another person's credential or passkey id (SECURITY.md 6-8, 11, 13, 19)."""
from datetime import timedelta

import pytest

from models import AuditEvent, Challenge, Passkey, User, UserSession, utcnow
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in
from tests.security_helpers import outbox, setup_totp
from tests.webauthn_authenticator import SoftKey

PAGE = "/app/security/passkeys/"


def actions(user):
    return [e.action for e in AuditEvent.select().where(AuditEvent.actor == user).order_by(AuditEvent.id)]


def json_post(client, url, body, page=PAGE):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def add_passkey(client, key, name="YubiKey", page=PAGE):
    options = json_post(client, PAGE + "options", {"name": name}, page)
    assert options.status_code == 200, options.get_data(as_text=True)
    return json_post(client, PAGE, {"name": name, "credential": key.register(options.get_json())}, page)


@pytest.fixture
def anna(client, user):
    """Anna, signed in, with TOTP on (a passkey is an extra second factor); returns her recovery codes."""
    sign_in(client)
    _secret, codes = setup_totp(client)
    user.codes = codes
    return user


def password_step(client, email="anna@example.com"):
    response = form_post(client, "/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"].endswith("/login/code")


def sign_out(client):
    form_post(client, "/logout", {}, page=PAGE)


def passkey_sign_in(client, key, **sign_options):
    options = json_post(client, "/login/passkey/options", {}, page="/login/code")
    assert options.status_code == 200, options.get_data(as_text=True)
    return json_post(client, "/login/passkey", {"credential": key.sign(options.get_json(), **sign_options)},
                     page="/login/code")


def signed_in(client):
    return client.get("/app/personal-data").status_code == 200


# --- registering, listing, renaming, removing ------------------------------------------------------


def test_add_list_rename_and_remove_a_passkey_with_audit_and_mail(app, client, anna):
    mails = len(outbox(app))
    response = add_passkey(client, SoftKey(), "YubiKey 5")
    assert response.status_code == 200 and response.get_json() == {"redirect": "/app/security/passkeys/"}
    passkey = Passkey.get()
    assert (passkey.user_id, passkey.name, passkey.transports, passkey.last_used_at) == (anna.id, "YubiKey 5", "usb", None)
    page = client.get(PAGE).get_data(as_text=True)
    assert "The passkey “YubiKey 5” is added" in page and 'value="YubiKey 5"' in page and "Never" in page
    assert "passkey.added" in actions(anna)
    assert outbox(app)[-1]["Subject"] == "A passkey was added" and len(outbox(app)) == mails + 1
    assert "Passkeys: 1." in client.get("/app/security/").get_data(as_text=True)

    response = form_post(client, f"{PAGE}{passkey.id}/rename", {f"rename-{passkey.id}-name": "  Keyring  "}, page=PAGE)
    assert response.status_code == 303 and Passkey.get().name == "Keyring"
    response = form_post(client, f"{PAGE}{passkey.id}/rename", {f"rename-{passkey.id}-name": "x" * 61}, page=PAGE)
    assert response.status_code == 422 and "At most 60 characters." in response.get_data(as_text=True)
    assert Passkey.get().name == "Keyring"

    response = form_post(client, f"{PAGE}{passkey.id}/remove", {}, page=PAGE)
    assert response.status_code == 303 and Passkey.select().count() == 0
    assert {"passkey.renamed", "passkey.removed"} <= set(actions(anna))
    assert outbox(app)[-1]["Subject"] == "A passkey was removed"


def test_several_passkeys_each_named_and_the_same_key_only_once(app, client, anna):
    first, second = SoftKey(), SoftKey()
    assert add_passkey(client, first, "Keyring").status_code == 200
    assert add_passkey(client, second, "Laptop").status_code == 200
    options = json_post(client, PAGE + "options", {"name": "Again"}).get_json()
    excluded = [c["id"] for c in options["publicKey"]["excludeCredentials"]]
    assert sorted(excluded) == sorted([first.id, second.id])
    response = json_post(client, PAGE, {"name": "Again", "credential": first.register(options)})
    assert response.status_code == 409 and response.get_json()["error"] == "This security key is already registered."
    assert [p.name for p in Passkey.select().order_by(Passkey.id)] == ["Keyring", "Laptop"]


def test_a_name_is_required_and_limited(app, client, anna):
    for name, message in (("", "This field is required."), ("x" * 61, "At most 60 characters."), (5, "This field is required.")):
        response = json_post(client, PAGE + "options", {"name": name})
        assert response.status_code == 422 and response.get_json()["error"] == message
    assert Challenge.select().where(Challenge.purpose == "passkey-add").count() == 0


def test_adding_needs_two_factor_on_first(app, client, user):
    sign_in(client)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Turn on two-factor authentication first" in page and 'id="add-passkey"' not in page
    response = json_post(client, PAGE + "options", {"name": "Key"})
    assert response.status_code == 409 and "Turn on two-factor authentication first" in response.get_json()["error"]


def test_without_javascript_the_form_says_a_passkey_needs_it(app, client, anna):
    page = client.get(PAGE).get_data(as_text=True)
    assert '<noscript><p class="error" id="passkey-nojs">Adding a passkey needs JavaScript.' in page
    response = form_post(client, PAGE, {"name": "Key"})
    assert response.status_code == 422 and "Adding a passkey needs JavaScript." in response.get_data(as_text=True)
    assert Passkey.select().count() == 0


def test_passkey_pages_ask_for_the_password_again(app, client, anna):
    UserSession.update(reauth_at=utcnow() - timedelta(minutes=16)).execute()
    assert "/app/security/reauth" in client.get(PAGE).headers["Location"]
    token = csrf_from(client.get("/app/security/reauth").get_data(as_text=True))
    response = client.post(PAGE + "options", json={"name": "Key"}, headers={"X-CSRFToken": token})
    assert response.status_code == 303 and "/app/security/reauth" in response.headers["Location"]
    assert Challenge.select().where(Challenge.purpose == "passkey-add").count() == 0


def test_russian_messages(app, client, anna):
    User.update(language="ru").where(User.id == anna.id).execute()
    response = json_post(client, PAGE + "options", {"name": ""})
    assert response.status_code == 422 and response.get_json()["error"] == "Это поле обязательно."
    assert "Ключи доступа" in client.get(PAGE).get_data(as_text=True)


# --- bad input when registering -------------------------------------------------------------------


def test_a_forged_challenge_is_refused_and_nothing_saved(app, client, anna):
    key = SoftKey()
    options = json_post(client, PAGE + "options", {"name": "Key"}).get_json()
    options["publicKey"]["challenge"] = "Zm9yZ2VkLWNoYWxsZW5nZS1ieS10aGUtY2xpZW50"
    response = json_post(client, PAGE, {"name": "Key", "credential": key.register(options)})
    assert response.status_code == 400 and "could not be checked" in response.get_json()["error"]
    assert Passkey.select().count() == 0 and "passkey.add_failed" in actions(anna)


@pytest.mark.parametrize("where", ["origin", "rp_id"])
def test_a_wrong_origin_or_rp_id_is_refused(app, client, anna, where):
    options = json_post(client, PAGE + "options", {"name": "Key"}).get_json()
    other = {"origin": "https://evil.example"} if where == "origin" else {"rp_id": "evil.example"}
    response = json_post(client, PAGE, {"name": "Key", "credential": SoftKey().register(options, **other)})
    assert response.status_code == 400 and Passkey.select().count() == 0


def test_a_challenge_is_single_use_even_with_an_old_cookie_and_expires(app, client, anna):
    options = json_post(client, PAGE + "options", {"name": "Key"}).get_json()
    old_cookie = client.get_cookie("kabinet_session").value
    assert json_post(client, PAGE, {"name": "Key", "credential": SoftKey().register(options)}).status_code == 200
    client.set_cookie("kabinet_session", old_cookie)  # the session as it was before the challenge was used
    response = json_post(client, PAGE, {"name": "Other", "credential": SoftKey().register(options)})
    assert response.status_code == 400 and "expired" in response.get_json()["error"]

    options = json_post(client, PAGE + "options", {"name": "Late"}).get_json()
    Challenge.update(expires_at=utcnow() - timedelta(seconds=1)).where(Challenge.purpose == "passkey-add").execute()
    response = json_post(client, PAGE, {"name": "Late", "credential": SoftKey().register(options)})
    assert response.status_code == 400
    assert [p.name for p in Passkey.select()] == ["Key"]


def test_a_failed_check_uses_up_the_challenge(app, client, anna):
    options = json_post(client, PAGE + "options", {"name": "Key"}).get_json()
    bad = SoftKey().register(options, origin="https://evil.example")
    assert json_post(client, PAGE, {"name": "Key", "credential": bad}).status_code == 400
    good = SoftKey().register(options)
    assert json_post(client, PAGE, {"name": "Key", "credential": good}).status_code == 400
    assert Passkey.select().count() == 0


@pytest.mark.parametrize("body", [
    [1, 2], "text", {"name": "Key"}, {"name": "Key", "credential": "x"}, {"name": "Key", "credential": [1]},
    {"name": "Key", "credential": {"id": "x" * 20_000}},
    {"name": "Key", "credential": {"id": "!!", "rawId": "!!", "type": "public-key", "response": {"clientDataJSON": "!!", "attestationObject": "AAAA"}}},
])
def test_malformed_registrations_get_4xx(app, client, anna, body):
    json_post(client, PAGE + "options", {"name": "Key"})
    response = json_post(client, PAGE, body)
    assert 400 <= response.status_code < 500 and Passkey.select().count() == 0


def test_someone_elses_passkey_cannot_be_renamed_or_removed(app, client, anna, org):
    bob = make_user(org, email="bob@example.com", full_name="Bob")
    other = Passkey.create(user=bob, name="Bob's key", credential_id="Ym9i", public_key="AA")
    for url, data in ((f"{PAGE}{other.id}/rename", {f"rename-{other.id}-name": "Mine"}), (f"{PAGE}{other.id}/remove", {}),
                      (f"{PAGE}99999999999999999999/remove", {})):
        assert form_post(client, url, data, page=PAGE).status_code == 404
    assert Passkey.get_by_id(other.id).name == "Bob's key"
    assert not any(a.startswith("passkey.") for a in actions(anna))


def test_switching_two_factor_off_removes_the_passkeys(app, client, anna):
    add_passkey(client, SoftKey())
    response = form_post(client, "/app/security/2fa/disable", {"password": PASSWORD, "code": anna.codes[0]},
                         page="/app/security/")
    assert response.status_code == 303 and Passkey.select().count() == 0


# --- the second sign-in step ----------------------------------------------------------------------


@pytest.fixture
def anna_with_key(client, anna):
    key = SoftKey()
    assert add_passkey(client, key).status_code == 200
    sign_out(client)
    password_step(client)
    return key


def test_sign_in_with_a_passkey_after_the_password(app, client, anna, anna_with_key):
    page = client.get("/login/code").get_data(as_text=True)
    assert "Use a security key" in page and 'id="code-form"' in page, "the codes stay available"
    assert "Signing in with a security key needs JavaScript" in page
    assert not signed_in(client)
    response = passkey_sign_in(client, anna_with_key)
    assert response.status_code == 200 and response.get_json() == {"redirect": "/app/personal-data"}
    assert signed_in(client)
    passkey = Passkey.get()
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    event = AuditEvent.select().where(AuditEvent.action == "signin").order_by(AuditEvent.id.desc()).get()
    assert '"method": "passkey"' in event.details


def test_codes_still_work_for_a_person_with_a_passkey(app, client, anna, anna_with_key):
    response = form_post(client, "/login/code", {"code": anna.codes[0]})
    assert response.status_code == 303 and signed_in(client)


def test_a_person_without_a_passkey_is_not_offered_one(app, client, anna):
    sign_out(client)
    password_step(client)
    assert "Use a security key" not in client.get("/login/code").get_data(as_text=True)
    response = json_post(client, "/login/passkey/options", {}, page="/login/code")
    assert response.status_code == 404


def test_a_replayed_assertion_or_an_old_counter_is_refused(app, client, anna, anna_with_key):
    key = anna_with_key
    options = json_post(client, "/login/passkey/options", {}, page="/login/code").get_json()
    old_cookie = client.get_cookie("kabinet_session").value
    signed = key.sign(options)
    # The signed answer, replayed against a newer challenge: the challenge does not match.
    json_post(client, "/login/passkey/options", {}, page="/login/code")
    assert json_post(client, "/login/passkey", {"credential": signed}, page="/login/code").status_code == 400
    assert passkey_sign_in(client, key).status_code == 200 and Passkey.get().sign_count == 2
    sign_out(client)
    password_step(client)
    # A clone of the key whose counter did not move on since the last use.
    response = passkey_sign_in(client, key, bump=False)
    assert response.status_code == 400 and not signed_in(client)
    # The first challenge again, with the session cookie from before: it was used up.
    client.set_cookie("kabinet_session", old_cookie)
    assert json_post(client, "/login/passkey", {"credential": signed}, page="/login").status_code == 401
    assert not signed_in(client) and Passkey.get().sign_count == 2
    assert actions(anna).count("signin.failed") == 2


def test_wrong_origin_at_sign_in_is_refused(app, client, anna, anna_with_key):
    response = passkey_sign_in(client, anna_with_key, origin="https://evil.example")
    assert response.status_code == 400 and not signed_in(client)
    response = passkey_sign_in(client, anna_with_key, rp_id="evil.example")
    assert response.status_code == 400 and not signed_in(client)


def test_another_persons_credential_does_not_sign_anna_in(app, client, anna, anna_with_key, org):
    bob = make_user(org, email="bob@example.com", full_name="Bob")
    bobs_key = SoftKey()
    Passkey.create(user=bob, name="Bob's key", credential_id=bobs_key.id, public_key="AA")
    response = passkey_sign_in(client, bobs_key)
    assert response.status_code == 400 and not signed_in(client)
    assert Passkey.get(Passkey.user == bob).sign_count == 0


def test_five_failures_end_the_sign_in(app, client, anna, anna_with_key):
    for _ in range(4):
        assert passkey_sign_in(client, anna_with_key, origin="https://evil.example").status_code == 400
    response = passkey_sign_in(client, anna_with_key, origin="https://evil.example")
    assert response.status_code == 401 and response.get_json()["redirect"] == "/login"
    assert json_post(client, "/login/passkey/options", {}, page="/login").status_code == 401


def test_passkey_routes_without_a_pending_sign_in(app, client, user):
    for url in ("/login/passkey/options", "/login/passkey"):
        response = json_post(client, url, {}, page="/login")
        assert response.status_code == 401 and response.get_json()["redirect"] == "/login"


def test_rp_id_and_origin_from_config(app, client, anna):
    app.config.update(PASSKEY_RP_ID="kabinet.example.com", PASSKEY_ORIGIN="https://kabinet.example.com")
    options = json_post(client, PAGE + "options", {"name": "Key"}).get_json()
    assert options["publicKey"]["rp"] == {"id": "kabinet.example.com", "name": "Kabinet"}
    key = SoftKey(rp_id="kabinet.example.com", origin="https://kabinet.example.com")
    assert json_post(client, PAGE, {"name": "Key", "credential": key.register(options)}).status_code == 200
    options = json_post(client, PAGE + "options", {"name": "Key 2"}).get_json()
    request_derived = SoftKey()  # rp localhost, origin http://localhost: what the request alone would say
    assert json_post(client, PAGE, {"name": "Key 2", "credential": request_derived.register(options)}).status_code == 400


def test_an_administrator_switching_someones_2fa_off_removes_their_passkeys(app, client, anna, org):
    from services.permissions import administrators_group, add_to_group

    add_passkey(client, SoftKey())
    admin = make_user(org, email="boss@example.com", full_name="Boss", role="admin")
    add_to_group(admin, administrators_group(org))
    boss = app.test_client()
    sign_in(boss, "boss@example.com")
    response = form_post(boss, f"/admin/users/{anna.id}/two-factor/off", {}, page=f"/admin/users/{anna.id}")
    assert response.status_code == 303
    assert User.get_by_id(anna.id).two_factor == "off" and Passkey.select().count() == 0

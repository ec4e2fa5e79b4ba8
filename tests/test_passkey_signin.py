"""Signing in with a passkey alone ("Sign in with a passkey" on the sign-in page): a discoverable
credential with user verification stands for the password and the second factor. The checks: the
user handle is the person's, the person was verified, the challenge is single use and expires, the
counter moves on, disabled accounts and IP allowlists still hold, failures are throttled per IP."""
import pytest

from models import AuditEvent, Passkey, User, UserSession
from tests.conftest import csrf_from, make_user
from tests.test_security_passkeys import PAGE, actions, add_passkey, anna, json_post, sign_out, signed_in  # noqa: F401
from tests.webauthn_authenticator import SoftKey

OPTIONS, SIGN_IN = "/login/passkey/discover/options", "/login/passkey/discover"


@pytest.fixture
def key(client, anna):  # noqa: F811
    key = SoftKey()
    assert add_passkey(client, key).status_code == 200
    sign_out(client)
    return key


def discover(client, key, next_url="", **sign_options):
    options = json_post(client, OPTIONS, {}, page="/login")
    assert options.status_code == 200, options.get_data(as_text=True)
    body = options.get_json()
    sign_options.setdefault("user_handle", key.user_handle)
    return json_post(client, SIGN_IN + next_url, {"credential": key.sign(body, **sign_options)}, page="/login"), body


def test_the_sign_in_page_offers_a_passkey_and_new_keys_are_discoverable(client, anna):  # noqa: F811
    options = json_post(client, PAGE + "options", {"name": "Phone"}).get_json()["publicKey"]
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    sign_out(client)
    html = client.get("/login").get_data(as_text=True)
    assert 'id="passkey-signin-form"' in html and 'class="js-only passkey-form"' in html
    assert "Sign in with a passkey" in html and "app-pages-passkeys" in html


def test_a_passkey_alone_signs_in(app, client, anna, key):  # noqa: F811
    response, options = discover(client, key, "?next=/app/security/")
    assert options["publicKey"]["allowCredentials"] == [] and options["publicKey"]["userVerification"] == "required"
    assert response.status_code == 200 and response.get_json() == {"redirect": "/app/security/"}
    assert signed_in(client)
    event = AuditEvent.select().where(AuditEvent.action == "signin").order_by(AuditEvent.id.desc()).get()
    assert '"method": "passkey-only"' in event.details and event.actor_id == anna.id
    assert Passkey.get().sign_count == 1


@pytest.mark.parametrize("change,reason", [
    ({"verified": False}, "assertion"),  # no PIN or biometric: only a second factor, never a sign-in alone
    ({"user_handle": "AAAA"}, "user handle"),
    ({"user_handle": None}, "user handle"),
    ({"origin": "https://evil.example"}, "assertion"),
    ({"rp_id": "evil.example"}, "assertion"),
])
def test_what_is_refused(app, client, anna, key, change, reason):  # noqa: F811
    sign_options = {"user_handle": key.user_handle, **change}
    options = json_post(client, OPTIONS, {}, page="/login").get_json()
    response = json_post(client, SIGN_IN, {"credential": key.sign(options, **sign_options)}, page="/login")
    assert response.status_code == 400 and "could not be checked" in response.get_json()["error"]
    assert not signed_in(client)
    failed = AuditEvent.select().where(AuditEvent.action == "signin.failed").order_by(AuditEvent.id.desc()).get()
    assert reason in failed.details


def test_an_unknown_key_and_malformed_answers_get_4xx(app, client, anna, key):  # noqa: F811
    response, _ = discover(client, SoftKey(), user_handle="AAAA")
    assert response.status_code == 400 and not signed_in(client)
    for body in ({}, {"credential": "x"}, {"credential": {"id": 5}}, {"credential": {"id": "a" * 20000}}):
        json_post(client, OPTIONS, {}, page="/login")
        assert json_post(client, SIGN_IN, body, page="/login").status_code == 400
    assert client.post(SIGN_IN, data="not json", headers={"X-CSRFToken": csrf_from(client.get("/login").get_data(
        as_text=True))}).status_code == 303  # a plain form post (JavaScript off) goes back to the password form


def test_a_challenge_is_single_use_even_with_an_old_cookie(app, client, anna, key):  # noqa: F811
    options = json_post(client, OPTIONS, {}, page="/login").get_json()
    old_cookie = client.get_cookie("kabinet_session").value
    signed = key.sign(options, user_handle=key.user_handle)
    assert json_post(client, SIGN_IN, {"credential": signed}, page="/login").status_code == 200
    sign_out(client)
    # The same answer again, with the session cookie that still held the challenge.
    client.set_cookie("kabinet_session", old_cookie)
    replay = key.sign(options, user_handle=key.user_handle)  # a fresh counter, the same challenge
    assert json_post(client, SIGN_IN, {"credential": replay}, page="/login").status_code == 400
    assert not signed_in(client)
    # Without asking for options first there is no challenge at all.
    assert json_post(client, SIGN_IN, {"credential": replay}, page="/login").status_code == 400


def test_an_expired_challenge_is_refused(app, client, anna, key, monkeypatch):  # noqa: F811
    from services import passkeys

    monkeypatch.setattr(passkeys, "CHALLENGE_LIFETIME", passkeys.CHALLENGE_LIFETIME * -1)
    response, _ = discover(client, key)
    assert response.status_code == 400 and "expired" in response.get_json()["error"]


def test_disabled_accounts_and_ip_allowlists_still_hold(app, client, anna, key):  # noqa: F811
    User.update(status="disabled").where(User.id == anna.id).execute()
    response, _ = discover(client, key)
    assert response.status_code == 403 and not signed_in(client)
    User.update(status="enabled", ip_allowlist="10.0.0.0/8").where(User.id == anna.id).execute()
    response, _ = discover(client, key)
    assert response.status_code == 403 and "not allowed" in response.get_json()["error"]
    assert UserSession.select().where(UserSession.ended_at.is_null()).count() == 0


def test_failures_are_throttled_per_ip(app, client, anna, key):  # noqa: F811
    app.config["LOGIN_LIMIT_PER_IP"] = "3 per minute"
    for _ in range(3):
        response, _ = discover(client, key, verified=False)
        assert response.status_code == 400
    assert json_post(client, OPTIONS, {}, page="/login").status_code == 429


def test_russian(app, client, anna, key):  # noqa: F811
    User.update(language="ru").where(User.id == anna.id).execute()
    client.post("/language", data={"lang": "ru", "csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    assert "Войти с ключом доступа" in client.get("/login").get_data(as_text=True)


def test_someone_elses_handle_with_my_key_is_refused(app, client, anna, key, org):  # noqa: F811
    from services.passkeys import user_handle
    from webauthn.helpers import bytes_to_base64url

    bob = make_user(org, email="bob@example.com", full_name="Bob")
    response, _ = discover(client, key, user_handle=bytes_to_base64url(user_handle(bob, app.config["SECRET_KEY"])))
    assert response.status_code == 400 and not signed_in(client)

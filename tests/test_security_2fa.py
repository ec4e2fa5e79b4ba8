"""Two-factor authentication: TOTP, e-mailed codes, recovery codes, the second sign-in step,
re-authentication and the organization's "require 2FA" policy (SECURITY.md 6-11, 13, 14)."""
import re
import time
from datetime import timedelta

import pyotp
import pytest

from models import AuditEvent, Challenge, RecoveryCode, User, UserSession, utcnow
from services import otp
from tests.conftest import PASSWORD, csrf_from, form_post, make_user, sign_in
from tests.security_helpers import HTMX, htmx_post, last_code, outbox, setup_totp


def reload(user):
    return User.get_by_id(user.id)


def actions(user):
    return [e.action for e in AuditEvent.select().where(AuditEvent.actor == user).order_by(AuditEvent.id)]


def password_step(client, email="anna@example.com", password=PASSWORD):
    response = form_post(client, "/login", {"email": email, "password": password})
    assert response.status_code == 303
    return response


def code_step(client, code):
    return form_post(client, "/login/code", {"code": code})


# --- TOTP rules (SECURITY.md 8) -------------------------------------------------------------------


def test_totp_accepts_one_step_either_side_and_never_twice(app, user):
    secret = otp.new_totp_secret()
    now = time.time()
    step = int(now // 30)
    otp.enable_totp(user, secret, step - 5)
    totp = pyotp.TOTP(secret)
    assert not otp.verify_totp(user, totp.at(now - 60), now)  # two steps old
    assert not otp.verify_totp(user, totp.at(now + 60), now)  # two steps ahead
    assert otp.verify_totp(user, totp.at(now - 30), now)
    assert not otp.verify_totp(user, totp.at(now - 30), now), "a used code is refused (replay)"
    assert otp.verify_totp(user, totp.at(now), now)
    assert not otp.verify_totp(user, totp.at(now - 30), now), "an older step after a newer one is refused"
    assert otp.verify_totp(user, totp.at(now + 30), now)
    assert not otp.verify_totp(user, "abcdef", now)


def test_recovery_codes_are_hashed_single_use_and_voided_by_a_new_set(app, user):
    codes = otp.new_recovery_codes(user)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = [r.code_hash for r in RecoveryCode.select()]
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)
    assert otp.use_recovery_code(user, codes[0].upper())
    assert not otp.use_recovery_code(user, codes[0]), "each code works once"
    assert otp.recovery_codes_left(user) == 9
    otp.new_recovery_codes(user)
    assert not otp.use_recovery_code(user, codes[1]), "a new set voids the old one"


def test_mailed_codes_are_bound_to_their_challenge_and_stored_hashed(app, user):
    _secret, challenge = otp.start_challenge(user, "signin", target=user.email)
    code = otp.new_mailed_code(challenge)
    assert re.fullmatch(r"\d{6}", code)
    assert code not in Challenge.get_by_id(challenge.id).code_hash
    _other_secret, other = otp.start_challenge(user, "manage", target=user.email)
    assert not otp.check_mailed_code(other, code)
    assert otp.check_mailed_code(challenge, code)
    assert not otp.check_mailed_code(challenge, code), "single use"


# --- enabling TOTP on the page ------------------------------------------------------------------


def test_totp_set_up_shows_a_qr_code_and_key_and_needs_a_current_code(app, signed_in, user):
    page = signed_in.get("/app/security/2fa/totp")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and 'class="qr"' in html
    assert "style=" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # the CSP forbids inline styles
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', html).group(1)
    wrong = signed_in.post("/app/security/2fa/totp", data={"csrf_token": csrf_from(html), "code": "000000"})
    assert wrong.status_code == 422 and "This code is not right" in wrong.get_data(as_text=True)
    letters = signed_in.post("/app/security/2fa/totp", data={"csrf_token": csrf_from(html), "code": "12ab56"})
    assert letters.status_code == 422 and "Enter the 6 digits" in letters.get_data(as_text=True)
    assert reload(user).two_factor == "off"
    good = signed_in.post(
        "/app/security/2fa/totp", data={"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret).now()}
    )
    assert good.status_code == 303 and good.headers["Location"].endswith("/app/security/recovery-codes")
    assert reload(user).two_factor == "totp"
    assert "2fa.enabled" in actions(user)
    assert "Two-factor authentication is on" in outbox(app)[-1]["Subject"]


def test_recovery_codes_are_shown_once_and_download_as_text(app, signed_in, user):
    _secret, codes = setup_totp(signed_in)
    assert len(codes) == 10
    again = signed_in.get("/app/security/recovery-codes").get_data(as_text=True)
    assert codes[0] not in again and "10 unused codes" in again
    html = signed_in.get("/app/security/").get_data(as_text=True)
    download = signed_in.post(
        "/app/security/recovery-codes/download",
        data={"csrf_token": csrf_from(html), "code": codes},
    )
    assert download.status_code == 200 and download.mimetype == "text/plain"
    assert "attachment" in download.headers["Content-Disposition"]
    assert all(code in download.get_data(as_text=True) for code in codes)


def test_totp_set_up_by_htmx_answers_with_the_form_fragment(app, signed_in, user):
    response = htmx_post(signed_in, "/app/security/2fa/totp", {"code": "123"}, "/app/security/2fa/totp")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html and 'id="totp-form"' in html


def test_top_bar_offers_security_and_enable_2fa(app, signed_in, user):
    html = signed_in.get("/app/personal-data").get_data(as_text=True)
    assert 'href="/app/security/"' in html and "Enable 2FA" in html
    setup_totp(signed_in)
    assert "Enable 2FA" not in signed_in.get("/app/personal-data").get_data(as_text=True)


# --- signing in with TOTP -----------------------------------------------------------------------


def test_sign_in_with_totp_needs_the_code_and_refuses_a_replayed_one(app, client, user):
    sign_in(client)
    secret, _codes = setup_totp(client)
    form_post(client, "/logout", {}, page="/app/personal-data")
    response = password_step(client)
    assert response.headers["Location"].endswith("/login/code")
    assert client.get("/app/personal-data").status_code == 302, "not signed in before the second step"
    code = pyotp.TOTP(secret).now()
    # The code used to switch TOTP on is the same step's code: wait for the app's next one if needed.
    if otp.matching_step(secret, code) <= otp.TotpSecret.get().last_step:
        code = pyotp.TOTP(secret).at(time.time() + 30)
    assert code_step(client, code).status_code == 303
    assert client.get("/app/personal-data").status_code == 200
    assert actions(user)[-1] == "signin"
    form_post(client, "/logout", {}, page="/app/personal-data")
    password_step(client)
    replay = code_step(client, code)
    assert replay.status_code == 422 and "already used" in replay.get_data(as_text=True)
    assert client.get("/app/personal-data").status_code == 302


def test_a_code_with_letters_gets_a_translated_message(app, client, user):
    otp.enable_totp(user, otp.new_totp_secret(), 0)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    password_step(client)
    response = code_step(client, "12345x")
    assert response.status_code == 422
    assert "Введите 6 цифр кода или один из кодов восстановления" in response.get_data(as_text=True)


def test_a_recovery_code_signs_in_once_and_tells_the_person(app, client, user):
    sign_in(client)
    _secret, codes = setup_totp(client)
    form_post(client, "/logout", {}, page="/app/personal-data")
    password_step(client)
    response = code_step(client, codes[3].upper())
    assert response.status_code == 303
    assert "recovery code was used" in outbox(app)[-1]["Subject"]
    form_post(client, "/logout", {}, page="/app/personal-data")
    password_step(client)
    assert code_step(client, codes[3]).status_code == 422


def test_five_wrong_codes_send_the_person_back_to_the_password_step(app, client, user):
    otp.enable_totp(user, otp.new_totp_secret(), 0)
    password_step(client)
    for _ in range(4):
        assert code_step(client, "000000").status_code == 422
    fifth = code_step(client, "000000")
    assert fifth.status_code == 303 and fifth.headers["Location"].endswith("/login")
    assert client.get("/login/code").headers["Location"].endswith("/login")
    assert actions(user).count("signin.failed") == 5


def test_second_step_by_htmx_answers_with_the_form_fragment(app, client, user):
    otp.enable_totp(user, otp.new_totp_secret(), 0)
    password_step(client)
    response = htmx_post(client, "/login/code", {"code": "111111"}, "/login/code")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html and 'id="code-form"' in html


# --- e-mailed codes (SECURITY.md 6, 7) ----------------------------------------------------------


def test_email_2fa_set_up_and_sign_in_with_a_mailed_code(app, signed_in, user):
    form_post(signed_in, "/app/security/2fa/email/start", {}, page="/app/security/")
    code = last_code(app)
    wrong = form_post(signed_in, "/app/security/2fa/email", {"code": "999999" if code != "999999" else "111111"})
    assert wrong.status_code == 422 and reload(user).two_factor == "off"
    ok = form_post(signed_in, "/app/security/2fa/email", {"code": code})
    assert ok.status_code == 303 and reload(user).two_factor == "email"
    signed_in.get("/app/security/recovery-codes")
    form_post(signed_in, "/logout", {}, page="/app/personal-data")

    password_step(signed_in)
    first = last_code(app)
    assert "sign-in code" in outbox(app)[-1].get_body().get_content()
    form_post(signed_in, "/login/code/resend", {}, page="/login/code")
    second = last_code(app)
    if first != second:
        assert code_step(signed_in, first).status_code == 422, "a resend replaces the old code"
    assert code_step(signed_in, second).status_code == 303
    assert signed_in.get("/app/personal-data").status_code == 200


def test_a_mailed_code_expires_after_ten_minutes(app, client, user):
    otp.enable_email(user)
    password_step(client)
    code = last_code(app)
    Challenge.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    response = form_post(client, "/login/code", {"code": code}, page="/login")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert client.get("/app/personal-data").status_code == 302


# --- switching off, new codes, re-authentication --------------------------------------------------


def test_switching_off_needs_the_password_and_a_current_code(app, signed_in, user):
    _secret, codes = setup_totp(signed_in)
    bad_password = form_post(signed_in, "/app/security/2fa/disable", {"password": "wrong one", "code": codes[0]},
                             page="/app/security/")
    assert bad_password.status_code == 422 and "password is not right" in bad_password.get_data(as_text=True)
    bad_code = form_post(signed_in, "/app/security/2fa/disable", {"password": PASSWORD, "code": "000000"},
                         page="/app/security/")
    assert bad_code.status_code == 422 and reload(user).two_factor == "totp"
    ok = form_post(signed_in, "/app/security/2fa/disable", {"password": PASSWORD, "code": codes[0]},
                   page="/app/security/")
    assert ok.status_code == 303 and reload(user).two_factor == "off"
    assert "2fa.disabled" in actions(user)
    assert "switched off" in outbox(app)[-1]["Subject"]
    assert RecoveryCode.select().count() == 0


def test_switching_off_by_htmx_shows_errors_in_the_fragment(app, signed_in, user):
    setup_totp(signed_in)
    response = htmx_post(signed_in, "/app/security/2fa/disable", {"password": "", "code": "x"}, "/app/security/")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html and 'id="manage-2fa"' in html


def test_new_recovery_codes_void_the_old_set_and_notify(app, signed_in, user):
    _secret, codes = setup_totp(signed_in)
    response = form_post(signed_in, "/app/security/recovery-codes/new", {"password": PASSWORD, "code": codes[0]},
                         page="/app/security/")
    assert response.status_code == 303
    fresh = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", signed_in.get("/app/security/recovery-codes").get_data(as_text=True))
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    assert not otp.use_recovery_code(user, codes[1])
    assert "New recovery codes" in outbox(app)[-1]["Subject"]


def test_email_2fa_switch_off_with_a_mailed_code(app, signed_in, user):
    otp.enable_email(user)
    form_post(signed_in, "/app/security/2fa/code", {}, page="/app/security/")
    response = form_post(signed_in, "/app/security/2fa/disable", {"password": PASSWORD, "code": last_code(app)},
                         page="/app/security/")
    assert response.status_code == 303 and reload(user).two_factor == "off"


def test_security_pages_ask_for_the_password_again_after_reauth_minutes(app, signed_in, user):
    UserSession.update(reauth_at=utcnow() - timedelta(minutes=16)).execute()
    response = signed_in.get("/app/security/")
    assert response.status_code == 302 and "/app/security/reauth" in response.headers["Location"]
    token = csrf_from(signed_in.get("/app/personal-data").get_data(as_text=True))
    htmx = signed_in.post("/app/security/2fa/disable", headers={**HTMX, "X-CSRFToken": token})
    assert "/app/security/reauth" in htmx.headers["HX-Redirect"]
    old_hash = UserSession.get().token_hash
    wrong = form_post(signed_in, "/app/security/reauth?next=/app/security/", {"password": "nope nope"})
    assert wrong.status_code == 422
    right = form_post(signed_in, "/app/security/reauth?next=/app/security/", {"password": PASSWORD})
    assert right.status_code == 303 and right.headers["Location"].endswith("/app/security/")
    assert UserSession.get().token_hash != old_hash, "a re-authentication gets a new session id"
    assert signed_in.get("/app/security/").status_code == 200


def test_a_password_reset_never_switches_2fa_off(app, client, user):
    from services import tokens

    otp.enable_totp(user, otp.new_totp_secret(), 0)
    secret = tokens.issue_token(user, "reset", tokens.RESET_LIFETIME)
    response = form_post(client, f"/reset-password/{secret}",
                         {"password": "a brand new passphrase 42", "repeat": "a brand new passphrase 42"})
    assert response.status_code == 303
    assert reload(user).two_factor == "totp"


# --- organization policy -------------------------------------------------------------------------


def test_require_2fa_takes_members_to_the_set_up_page_until_it_is_on(app, client, org, user):
    user.role = "owner"
    user.save()
    sign_in(client)
    refused = form_post(client, "/app/security/organization/policy", {"require_2fa": "y"}, page="/app/security/")
    assert refused.status_code == 422 and "for yourself first" in refused.get_data(as_text=True)
    setup_totp(client)
    response = form_post(client, "/app/security/organization/policy", {"require_2fa": "y"}, page="/app/security/")
    assert response.status_code == 303
    member = make_user(org, email="boris@example.com", full_name="Boris")
    other = app.test_client()
    sign_in(other, "boris@example.com")
    blocked = other.get("/app/personal-data")
    assert blocked.status_code == 302 and blocked.headers["Location"].endswith("/app/security/2fa/totp")
    assert other.get("/app/personal-data", headers=HTMX).headers["HX-Redirect"].endswith("/app/security/2fa/totp")
    setup_totp(other)
    assert other.get("/app/personal-data").status_code == 200
    assert reload(member).two_factor == "totp"


def test_only_owners_and_admins_change_the_policy(app, signed_in, org, user):
    response = form_post(signed_in, "/app/security/organization/policy", {"require_2fa": "y"}, page="/app/security/")
    assert response.status_code == 403
    assert not type(org).get_by_id(org.id).require_2fa

"""Passkeys (WebAuthn security keys and platform authenticators): a second factor, and with a
discoverable credential and user verification a sign-in of its own ("Sign in with a passkey").

Plain functions around the `webauthn` library: the options a browser needs for
navigator.credentials.create()/get(), the checks of what it sends back, and the stored credentials.
The blueprint hands in the relying party (id, origin, name) and the challenge it kept server-side.
"""
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

import peewee
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from models import Passkey, utcnow, write_transaction

NAME_MAX = 60
MAX_PER_PERSON = 10
CHALLENGE_LIFETIME = timedelta(minutes=5)  # a challenge is also single use (services.otp challenges)
TIMEOUT_MS = 120_000  # how long the browser waits for the key
CREDENTIAL_MAX_CHARS = 16_000  # a credential's JSON; real ones are well under 2,000 characters
TRANSPORTS = {t.value for t in AuthenticatorTransport}
# Anything a hostile or broken client can make the library trip over while parsing what it sent.
BAD_INPUT = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


@dataclass(frozen=True)
class RelyingParty:
    id: str  # a registrable domain, no scheme or port: "kabinet.example.com"
    origin: str  # exactly what the browser reports: "https://kabinet.example.com"
    name: str


class PasskeyError(Exception):
    """What the browser sent does not check out; `reason` says which rule failed (for the log and tests)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def user_handle(user, key):
    """A stable, opaque WebAuthn user id for `user` (no e-mail or database id in the authenticator)."""
    return hmac.new(key.encode(), f"webauthn-user:{user.id}".encode(), hashlib.sha256).digest()


def descriptor(passkey):
    transports = [AuthenticatorTransport(t) for t in passkey.transports.split() if t in TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id), transports=transports or None)


def registration_options(rp, user, existing, handle_key):
    """(options as JSON text for navigator.credentials.create, the challenge as base64url)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.email,
        user_id=user_handle(user, handle_key),
        user_display_name=user.full_name or user.email,
        timeout=TIMEOUT_MS,
        # A second factor after the password, and where the authenticator can keep it (a discoverable
        # credential, with a PIN or biometric) also a way to sign in without the password.
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[descriptor(p) for p in existing],  # the same key is not registered twice
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def check_credential_shape(credential):
    if not isinstance(credential, dict) or len(str(credential)) > CREDENTIAL_MAX_CHARS:
        raise PasskeyError("malformed")


def verify_new_passkey(rp, challenge, credential):
    """Check a navigator.credentials.create() answer against `challenge` (base64url); returns the
    fields to store, or raises PasskeyError."""
    check_credential_shape(credential)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=False,
        )
    except BAD_INPUT as exc:
        raise PasskeyError(f"registration: {exc}") from None
    response = credential.get("response") if isinstance(credential.get("response"), dict) else {}
    transports = response.get("transports") if isinstance(response.get("transports"), list) else []
    return {
        "credential_id": bytes_to_base64url(verified.credential_id),
        "public_key": bytes_to_base64url(verified.credential_public_key),
        "sign_count": verified.sign_count,
        "aaguid": str(verified.aaguid)[:36],
        "transports": " ".join(sorted({t for t in transports if t in TRANSPORTS})),
    }


def add_passkey(user, name, fields):
    """Store a checked credential under `name`; PasskeyError("registered") when the key is known already."""
    try:
        with write_transaction():
            if Passkey.select().where(Passkey.credential_id == fields["credential_id"]).exists():
                raise PasskeyError("registered")
            return Passkey.create(user=user, name=name, **fields)
    except peewee.IntegrityError:  # two requests racing with the same key
        raise PasskeyError("registered") from None


def authentication_options(rp, passkeys):
    """(options as JSON text for navigator.credentials.get, the challenge as base64url)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=[descriptor(p) for p in passkeys],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def verify_assertion(rp, challenge, credential, passkeys):
    """Check a navigator.credentials.get() answer: one of `passkeys` (the person's own), signed over
    `challenge`, from our origin, with a counter that moved on. Returns the Passkey, its use recorded."""
    check_credential_shape(credential)
    credential_id = credential.get("id")
    passkey = next((p for p in passkeys if isinstance(credential_id, str) and p.credential_id == credential_id), None)
    if passkey is None:
        raise PasskeyError("unknown credential")
    return verified_use(rp, challenge, credential, passkey, require_user_verification=False)


def verified_use(rp, challenge, credential, passkey, require_user_verification):
    """The assertion checked against `passkey` (signed over `challenge`, from our origin, the counter moved
    on) and its use recorded; returns the Passkey."""
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=require_user_verification,
        )
    except BAD_INPUT as exc:
        raise PasskeyError(f"assertion: {exc}") from None
    # Guarded on the counter we checked against: of two racing uses of one signature only one counts.
    updated = (
        Passkey.update(sign_count=verified.new_sign_count, last_used_at=utcnow())
        .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
        .execute()
    )
    if updated != 1:
        raise PasskeyError("counter moved")
    return passkey


def passkeys_of(user):
    return list(Passkey.select().where(Passkey.user == user).order_by(Passkey.created_at, Passkey.id))


def remove_all(user):
    Passkey.delete().where(Passkey.user == user).execute()


def discovery_options(rp):
    """For "Sign in with a passkey": no e-mail yet, so no list of keys — the authenticator offers the
    discoverable credentials it holds for us, and must verify the person (PIN or biometric)."""
    options = generate_authentication_options(
        rp_id=rp.id, timeout=TIMEOUT_MS, allow_credentials=[], user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def verify_discovered(rp, challenge, credential, handle_key):
    """Check a discoverable assertion: a known credential, its user handle the person's own, signed over
    `challenge` with the person verified by the authenticator. Returns the Passkey (its use recorded)."""
    check_credential_shape(credential)
    credential_id = credential.get("id")
    passkey = Passkey.get_or_none(Passkey.credential_id == credential_id) if isinstance(credential_id, str) else None
    if passkey is None:
        raise PasskeyError("unknown credential")
    response = credential.get("response") if isinstance(credential.get("response"), dict) else {}
    handle = response.get("userHandle")
    expected = bytes_to_base64url(user_handle(passkey.user, handle_key))
    if not isinstance(handle, str) or not hmac.compare_digest(handle.rstrip("="), expected):
        raise PasskeyError("user handle")
    return verified_use(rp, challenge, credential, passkey, require_user_verification=True)

"""Second factors: TOTP with replay protection, mailed codes, recovery codes, and the challenges that
hold a pending step (SECURITY.md 6-9)."""
import hashlib
import hmac
import re
import secrets
import time
from datetime import timedelta

import peewee
import pyotp
import segno

from models import Challenge, Passkey, RecoveryCode, TotpSecret, User, db, utcnow

from .tokens import digest, new_secret

ISSUER = "Kabinet"
CODE_LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
RECOVERY_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: easy to copy by hand
OTP_RE = re.compile(r"\d{6}")
RECOVERY_RE = re.compile(r"[a-z0-9]{5}-?[a-z0-9]{5}")


def normalize_code(value):
    """The code as typed, without spaces, lower-cased (recovery codes are case-insensitive)."""
    return re.sub(r"\s+", "", value or "").lower()


def is_otp(code):
    return bool(OTP_RE.fullmatch(code))


def is_recovery_code(code):
    return bool(RECOVERY_RE.fullmatch(code))


# --- TOTP -------------------------------------------------------------------------------------


def new_totp_secret():
    return pyotp.random_base32()


def totp_uri(secret, account):
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri):
    """The provisioning URI as an inline SVG QR code (no style attributes: the CSP holds)."""
    return segno.make(uri, error="m").svg_inline(scale=4, svgclass="qr", lineclass=None, omitsize=False)


def matching_step(secret, code, now=None):
    """The time step (one either side of now) whose code is `code`, or None."""
    if not is_otp(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // totp.interval)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(user, code, now=None):
    """True once per time step: a code already used (or an older one) is refused (SECURITY.md 8)."""
    record = TotpSecret.get_or_none(TotpSecret.user == user)
    if record is None:
        return False
    step = matching_step(record.secret, code, now)
    if step is None:
        return False
    # The guarded update makes two requests racing with the same code accept it only once.
    updated = (
        TotpSecret.update(last_step=step)
        .where(TotpSecret.id == record.id, TotpSecret.last_step < step)
        .execute()
    )
    return updated == 1


def enable_totp(user, secret, step):
    """Switch TOTP on with the secret the person just confirmed at `step`."""
    with db.atomic():
        TotpSecret.delete().where(TotpSecret.user == user).execute()
        TotpSecret.create(user=user, secret=secret, last_step=step)
        User.update(two_factor="totp").where(User.id == user.id).execute()
    user.two_factor = "totp"


def enable_email(user):
    with db.atomic():
        TotpSecret.delete().where(TotpSecret.user == user).execute()
        User.update(two_factor="email").where(User.id == user.id).execute()
    user.two_factor = "email"


def disable(user):
    """Switch 2FA off and forget its secrets, passkeys and recovery codes."""
    with db.atomic():
        TotpSecret.delete().where(TotpSecret.user == user).execute()
        Passkey.delete().where(Passkey.user == user).execute()
        RecoveryCode.delete().where(RecoveryCode.user == user).execute()
        Challenge.delete().where(Challenge.user == user).execute()
        User.update(two_factor="off").where(User.id == user.id).execute()
    user.two_factor = "off"


# --- recovery codes ---------------------------------------------------------------------------


def recovery_digest(code):
    return digest(normalize_code(code).replace("-", ""))


def new_recovery_codes(user):
    """Make 10 new codes (about 49 bits each), voiding the old set; returns them for showing once."""
    codes = []
    for _ in range(RECOVERY_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    with db.atomic():
        RecoveryCode.delete().where(RecoveryCode.user == user).execute()
        RecoveryCode.insert_many([{"user": user.id, "code_hash": recovery_digest(c)} for c in codes]).execute()
    return codes


def use_recovery_code(user, code):
    """True when `code` is one of the person's unused codes; it is then used up."""
    code = normalize_code(code)
    if not is_recovery_code(code):
        return False
    now = utcnow()
    updated = (
        RecoveryCode.update(used_at=now)
        .where(
            RecoveryCode.user == user,
            RecoveryCode.code_hash == recovery_digest(code),
            RecoveryCode.used_at.is_null(),
        )
        .execute()
    )
    return updated == 1


def recovery_codes_left(user):
    return RecoveryCode.select().where(RecoveryCode.user == user, RecoveryCode.used_at.is_null()).count()


# --- challenges and mailed codes --------------------------------------------------------------


def start_challenge(user, purpose, data="", target="", lifetime=CODE_LIFETIME):
    """A new pending step for `user`; earlier open ones of the same purpose are voided. Returns
    (secret for the session, Challenge)."""
    secret = new_secret()
    now = utcnow()
    with db.atomic():
        Challenge.update(used_at=now).where(
            Challenge.user == user, Challenge.purpose == purpose, Challenge.used_at.is_null()
        ).execute()
        challenge = Challenge.create(
            user=user, purpose=purpose, token_hash=digest(secret), data=data[:500], target=target[:254],
            expires_at=now + lifetime,
        )
    return secret, challenge


def find_challenge(secret, purpose):
    """The open challenge for this session secret, or None (unknown, used, void or expired)."""
    if not secret or not isinstance(secret, str) or len(secret) > 100:
        return None
    challenge = Challenge.get_or_none(Challenge.token_hash == digest(secret), Challenge.purpose == purpose)
    if challenge is None or challenge.used_at is not None or challenge.expires_at < utcnow():
        return None
    return challenge


def code_digest(challenge, code):
    """Bound to this challenge, its purpose and its target address (SECURITY.md 6)."""
    return hashlib.sha256(f"{challenge.id}:{challenge.purpose}:{challenge.target}:{code}".encode()).hexdigest()


def new_mailed_code(challenge):
    """A fresh random 6-digit code for `challenge`, replacing any earlier one; 10 minutes from now."""
    code = f"{secrets.randbelow(10**6):06d}"
    now = utcnow()
    challenge.code_hash = code_digest(challenge, code)
    challenge.sent_at = now
    challenge.expires_at = now + CODE_LIFETIME
    Challenge.update(code_hash=challenge.code_hash, sent_at=now, expires_at=challenge.expires_at).where(
        Challenge.id == challenge.id
    ).execute()
    return code


def check_mailed_code(challenge, code):
    """True when `code` is the challenge's current code; it is then used up."""
    if not challenge.code_hash or not is_otp(code):
        return False
    if not hmac.compare_digest(challenge.code_hash, code_digest(challenge, code)):
        return False
    return Challenge.update(used_at=utcnow()).where(Challenge.id == challenge.id, Challenge.used_at.is_null()).execute() == 1


def count_wrong_code(challenge):
    """Count a wrong code; True when that was the last try and the challenge is now void (SECURITY.md 7)."""
    Challenge.update(tries=Challenge.tries + 1).where(Challenge.id == challenge.id).execute()
    challenge.tries += 1
    if challenge.tries >= MAX_TRIES:
        finish_challenge(challenge)
        return True
    return False


def finish_challenge(challenge):
    claim_challenge(challenge)


def claim_challenge(challenge):
    """Use up `challenge`; False when another request used it first (single use under races)."""
    return Challenge.update(used_at=utcnow()).where(Challenge.id == challenge.id, Challenge.used_at.is_null()).execute() == 1


def check_second_factor(user, code, challenge=None):
    """Check `code` against the person's method: "totp"/"email" when accepted, "recovery" when a
    recovery code was used up, None when wrong."""
    if is_otp(code):
        if user.two_factor == "totp" and verify_totp(user, code):
            return "totp"
        if user.two_factor == "email" and challenge is not None and check_mailed_code(challenge, code):
            return "email"
        return None
    if use_recovery_code(user, code):
        return "recovery"
    return None


def use_once(user, purpose, value):
    """Record `value` (e.g. a WebAuthn challenge kept in the session) as used by `user`; False when it was
    used before — the unique token hash decides, also between racing requests."""
    now = utcnow()
    try:
        with db.atomic():
            Challenge.create(user=user, purpose=purpose, token_hash=digest(f"{purpose}:{value}"), used_at=now,
                             expires_at=now)
    except peewee.IntegrityError:
        return False
    return True

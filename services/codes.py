"""One-time 6-digit codes (SECURITY.md 6-7): from `secrets`, stored as an HMAC, bound to purpose and
target, valid 10 minutes, 5 tries, resent after 60 seconds, at most 5 sends an hour per person and per target."""
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from models import OneTimeCode, Prepared, User, db, utcnow, write_transaction

LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
RESEND_AFTER = timedelta(seconds=60)
SENDS_PER_HOUR = 5
HOUR = timedelta(hours=1)


class CodeThrottled(Exception):
    """No code may be sent now: `reason` is "resend", "person" or "target"; `seconds` until one may."""

    def __init__(self, reason, seconds):
        super().__init__(reason)
        self.reason = reason
        self.seconds = max(1, int(seconds))


@dataclass(frozen=True)
class Check:
    status: str  # ok | wrong | expired | locked | missing | other_target
    tries_left: int = 0


def code_digest(user_id, purpose, target, code):
    """Keyed with the app's secret: a leaked table of 6-digit hashes cannot be reversed by brute force alone."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{user_id}|{purpose}|{target}|{code}".encode(), hashlib.sha256).hexdigest()


def throttle(user, purpose, target):
    """Raise CodeThrottled when the resend wait or an hourly limit forbids another send."""
    now = utcnow()
    mine = list(
        OneTimeCode.select(OneTimeCode.created_at)
        .where(OneTimeCode.user == user, OneTimeCode.purpose == purpose, OneTimeCode.created_at > now - HOUR)
        .order_by(OneTimeCode.created_at.desc())
    )
    if mine and now - mine[0].created_at < RESEND_AFTER:
        raise CodeThrottled("resend", (mine[0].created_at + RESEND_AFTER - now).total_seconds())
    if len(mine) >= SENDS_PER_HOUR:
        raise CodeThrottled("person", (mine[SENDS_PER_HOUR - 1].created_at + HOUR - now).total_seconds())
    theirs = list(
        OneTimeCode.select(OneTimeCode.created_at)
        .where(OneTimeCode.target == target, OneTimeCode.purpose == purpose, OneTimeCode.created_at > now - HOUR)
        .order_by(OneTimeCode.created_at.desc())
        .limit(SENDS_PER_HOUR)
    )
    if len(theirs) >= SENDS_PER_HOUR:
        raise CodeThrottled("target", (theirs[-1].created_at + HOUR - now).total_seconds())


def issue_code(user, purpose, target, send):
    """Make a code for `target` and hand it to `send(code)`; only when that succeeds do earlier codes stop working.

    When `send` raises, the new code is forgotten and the exception goes to the caller.
    """
    code = f"{secrets.randbelow(10**6):06d}"
    # Counted and added in one transaction, the person's row and the target locked: requests sent at once, by
    # one person or by several to one number, cannot pass the resend wait or an hourly limit together
    # (models.write_transaction). The send itself comes after.
    with write_transaction((User, user.id), name=f"code-target:{purpose}:{target}"):
        throttle(user, purpose, target)
        now = utcnow()
        row = OneTimeCode.create(
            user=user,
            purpose=purpose,
            target=target,
            code_hash=code_digest(user.id, purpose, target, code),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    try:
        send(code)
    except Exception:
        row.delete_instance()
        raise
    OneTimeCode.update(closed_at=now).where(
        OneTimeCode.user == user,
        OneTimeCode.purpose == purpose,
        OneTimeCode.closed_at.is_null(),
        OneTimeCode.id != row.id,
    ).execute()
    return row


PENDING_CODE = Prepared(  # asked by the personal-data page on every visit
    lambda user_id, purpose, now: OneTimeCode.select()
    .where(OneTimeCode.user == user_id, OneTimeCode.purpose == purpose, OneTimeCode.closed_at.is_null(),
           OneTimeCode.expires_at > now)
    .order_by(OneTimeCode.created_at.desc())
)


def pending_code(user, purpose):
    """The open, unexpired challenge of `user` for `purpose`, or None."""
    return PENDING_CODE.first(user.id, purpose, utcnow())


def close_codes(user, purpose):
    """Cancel every open code of `user` for `purpose`."""
    OneTimeCode.update(closed_at=utcnow()).where(
        OneTimeCode.user == user, OneTimeCode.purpose == purpose, OneTimeCode.closed_at.is_null()
    ).execute()


def check_code(user, purpose, target, code):
    """Spend one try on `code` for `target`; the challenge closes when it is right or out of tries."""
    row = (
        OneTimeCode.select()
        .where(OneTimeCode.user == user, OneTimeCode.purpose == purpose, OneTimeCode.closed_at.is_null())
        .order_by(OneTimeCode.created_at.desc())
        .first()
    )
    if row is None:
        return Check("missing")
    now = utcnow()
    if row.expires_at <= now:
        OneTimeCode.update(closed_at=now).where(OneTimeCode.id == row.id).execute()
        return Check("expired")
    if row.target != target:
        return Check("other_target")
    with db.atomic():
        # The try is counted in the database first, so parallel guesses cannot exceed the limit.
        counted = (
            OneTimeCode.update(attempts=OneTimeCode.attempts + 1)
            .where(OneTimeCode.id == row.id, OneTimeCode.closed_at.is_null(), OneTimeCode.attempts < MAX_TRIES)
            .execute()
        )
        if not counted:
            return Check("locked")
        attempts = row.attempts + 1
        right = hmac.compare_digest(row.code_hash, code_digest(user.id, purpose, target, code))
        if right or attempts >= MAX_TRIES:
            closed = (
                OneTimeCode.update(closed_at=now)
                .where(OneTimeCode.id == row.id, OneTimeCode.closed_at.is_null())
                .execute()
            )
            if right:
                return Check("ok") if closed else Check("missing")
            return Check("locked")
    return Check("wrong", MAX_TRIES - attempts)


def purge_old_codes():
    """Scheduler job: forget codes older than a day (the hourly limits only look back one hour)."""
    return OneTimeCode.delete().where(OneTimeCode.created_at < utcnow() - timedelta(days=1)).execute()

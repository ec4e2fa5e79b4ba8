"""Server-side session records: started at sign-in, checked on every request, ended on the server."""
from datetime import timedelta

from models import Organization, Prepared, User, UserSession, utcnow

from . import ipallow
from .tokens import digest, new_secret

TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most once a minute, not on every request


def start_session(user, ip="", user_agent=""):
    """Record a new session for `user` and return the secret that goes into the signed cookie."""
    secret = new_secret()
    UserSession.create(user=user, token_hash=digest(secret), ip=ip[:45], user_agent=user_agent[:300])
    return secret


def live_session(secret, user_id, idle, absolute, touch=True):
    """The open session for this cookie, or None (unknown, ended, idle too long or too old).

    touch=False (background polling) checks the session without counting the request as activity.
    """
    if not secret:
        return None
    record = session_with_user(digest(secret), user_id)
    if record is None or record.ended_at is not None:
        return None
    now = utcnow()
    if now - record.last_seen_at > idle or now - record.created_at > absolute:
        end_session(record)
        return None
    if touch and now - record.last_seen_at > TOUCH_EVERY:
        UserSession.update(last_seen_at=now).where(UserSession.id == record.id).execute()
    return record


SESSION_WITH_USER = Prepared(
    lambda token_hash, user_id: UserSession.select(UserSession, User, Organization)
    .join(User)
    .join(Organization)
    .where(UserSession.token_hash == token_hash, UserSession.user == user_id)
)


def session_with_user(token_hash, user_id):
    """The session row for this token with its person and their organization joined: one query, since
    pages and hooks read `current_user.organization` (2FA policy, company card) without asking again."""
    return SESSION_WITH_USER.first(token_hash, user_id)


def end_session(record):
    UserSession.update(ended_at=utcnow()).where(UserSession.id == record.id, UserSession.ended_at.is_null()).execute()


def end_session_by_secret(secret):
    if secret:
        UserSession.update(ended_at=utcnow()).where(
            UserSession.token_hash == digest(secret), UserSession.ended_at.is_null()
        ).execute()


def end_sessions(user, keep=None):
    """End all of `user`'s open sessions except `keep` (e.g. after a password change)."""
    query = UserSession.update(ended_at=utcnow()).where(UserSession.user == user, UserSession.ended_at.is_null())
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return query.execute()


def end_sessions_outside(people):
    """End every open session of `people` whose address their lists no longer allow; returns the ids."""
    ended = []
    for person in people:
        for record in UserSession.select().where(UserSession.user == person.id, UserSession.ended_at.is_null()):
            if not ipallow.sign_in_allowed(person, record.ip):
                end_session(record)
                ended.append(record.id)
    return ended


def mark_reauthenticated(record):
    UserSession.update(reauth_at=utcnow()).where(UserSession.id == record.id).execute()


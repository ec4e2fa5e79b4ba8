"""Random secrets and single-use links; only SHA-256 hashes are stored."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from models import Token, db, utcnow


def new_secret():
    return secrets.token_urlsafe(32)


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a, b):
    return hmac.compare_digest(a, b)


def issue_token(user, purpose, lifetime, data=""):
    """Create a single-use token for `user`; earlier unused ones of the same purpose stop working."""
    secret = new_secret()
    with db.atomic():
        Token.update(used_at=utcnow()).where(
            Token.user == user, Token.purpose == purpose, Token.used_at.is_null()
        ).execute()
        Token.create(user=user, purpose=purpose, token_hash=digest(secret), data=data, expires_at=utcnow() + lifetime)
    return secret


def find_token(secret, purpose):
    """The live Token for `secret`, or None when it is unknown, used or expired."""
    if not secret or len(secret) > 100:
        return None
    token = Token.get_or_none(Token.token_hash == digest(secret), Token.purpose == purpose)
    if token is None or token.used_at is not None or token.expires_at < utcnow():
        return None
    return token


def use_token(token):
    """Mark `token` used; False when another request used it first."""
    return Token.update(used_at=utcnow()).where(Token.id == token.id, Token.used_at.is_null()).execute() == 1


RESET_LIFETIME = timedelta(hours=1)
EMAIL_CHANGE_LIFETIME = timedelta(hours=24)

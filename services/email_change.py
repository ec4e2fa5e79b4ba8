"""Changing the sign-in address: a single-use link to the new address (24 hours); the change happens when it is followed."""
from peewee import IntegrityError

from models import Prepared, Token, User, db, utcnow

from . import tokens

PURPOSE = "email_change"


class AddressTaken(Exception):
    """Another account signed up with the new address in the meantime."""


def start(user, new_email):
    """Issue the link secret for `new_email`; an earlier pending change stops working."""
    return tokens.issue_token(user, PURPOSE, tokens.EMAIL_CHANGE_LIFETIME, data=new_email)


PENDING = Prepared(  # asked by the personal-data page on every visit
    lambda user_id, purpose, now: Token.select()
    .where(Token.user == user_id, Token.purpose == purpose, Token.used_at.is_null(), Token.expires_at > now)
    .order_by(Token.created_at.desc())
)


def pending(user):
    """The live pending change (its `data` is the new address), or None."""
    return PENDING.first(user.id, PURPOSE, utcnow())


def cancel(user):
    return Token.update(used_at=utcnow()).where(Token.user == user, Token.purpose == PURPOSE, Token.used_at.is_null()).execute()


def find(secret):
    return tokens.find_token(secret, PURPOSE)


def confirm(token):
    """Apply the change once; returns the old address, None when the link was used meanwhile, raises AddressTaken."""
    user = token.user
    old_email = user.email
    if User.select().where(User.email == token.data, User.id != user.id).exists():
        raise AddressTaken(token.data)
    try:
        with db.atomic():
            if not tokens.use_token(token):
                return None
            User.update(email=token.data, email_verified=True).where(User.id == user.id).execute()
    except IntegrityError:  # taken between the check and the update
        raise AddressTaken(token.data) from None
    return old_email

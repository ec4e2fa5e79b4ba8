"""Third-party secrets at rest (SMTP passwords, webhook secrets): Fernet with keys derived from config.

ENCRYPTION_KEY holds one or more comma-separated secrets; the first encrypts, every one of them
decrypts, and so does a key derived from SECRET_KEY (the default when ENCRYPTION_KEY is unset).
`flask rotate-key` re-encrypts every stored token with the first key (see the README).
"""
import base64
from functools import cache

from cryptography.fernet import InvalidToken, MultiFernet, Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DecryptError(Exception):
    """A token that none of the configured keys opens (wrong key, or not a token at all)."""


def derive_key(secret):
    """A Fernet key from any secret string (HKDF-SHA256; a fixed salt, since the input is already a secret)."""
    material = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kabinet-fernet", info=b"kabinet secrets at rest")
    return base64.urlsafe_b64encode(material.derive(secret.encode()))


def secrets_from(config):
    """The configured secrets, the encrypting one first, without repeats."""
    found = [part.strip() for part in (config.get("ENCRYPTION_KEY") or "").split(",") if part.strip()]
    if config.get("SECRET_KEY"):
        found.append(config["SECRET_KEY"])
    if not found:
        raise RuntimeError("Neither ENCRYPTION_KEY nor SECRET_KEY is set")
    return tuple(dict.fromkeys(found))


@cache
def _fernet(secrets):
    return MultiFernet([Fernet(derive_key(secret)) for secret in secrets])


def fernet(config=None):
    if config is None:
        from flask import current_app

        config = current_app.config
    return _fernet(secrets_from(config))


def encrypt(text, config=None):
    """The token (str) for `text`; an empty text stays empty, so "no password" needs no token."""
    return fernet(config).encrypt(text.encode()).decode() if text else ""


def decrypt(token, config=None):
    if not token:
        return ""
    try:
        return fernet(config).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError):
        raise DecryptError("the token does not open with any configured key") from None


def rotate(token, config=None):
    """The same secret encrypted with the first (current) key."""
    if not token:
        return ""
    try:
        return fernet(config).rotate(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError):
        raise DecryptError("the token does not open with any configured key") from None


def rotate_columns(columns, config=None):
    """Re-encrypt every token stored in these (model, field) columns with the current key.

    Returns (rotated, unreadable) where unreadable lists "table:id" of tokens no key opens (left as they are).
    """
    rotated, unreadable = 0, []
    for model, field in columns:
        rows = model.select(model._meta.primary_key, field).where(field != "").tuples()
        for pk, token in rows.iterator():
            try:
                new = rotate(token, config)
            except DecryptError:
                unreadable.append(f"{model._meta.table_name}:{pk}")
                continue
            model.update({field: new}).where(model._meta.primary_key == pk, field == token).execute()
            rotated += 1
    return rotated, unreadable

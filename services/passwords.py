"""Password hashing (argon2id) and the password policy (length, zxcvbn, context words)."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn

MIN_LENGTH = 8
MAX_LENGTH = 128

_hasher = PasswordHasher()
# Verifying against this keeps "unknown e-mail" as slow as "wrong password" (SECURITY.md 4).
_dummy_hash = None


def configure(memory_kib, time_cost):
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(memory_cost=max(memory_kib, 19456), time_cost=max(time_cost, 2))
    _dummy_hash = _hasher.hash("not a real password, only for timing")


def hash_password(password):
    return _hasher.hash(password)


def verify_password(password_hash, password):
    """True when `password` matches; a missing hash still costs one verification."""
    try:
        return _hasher.verify(password_hash or _dummy_hash, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return _hasher.check_needs_rehash(password_hash)


# zxcvbn's English feedback mapped to translated texts; unknown ones fall back to a general hint.
_FEEDBACK = {
    "Add another word or two. Uncommon words are better.": _l("Add another word or two. Uncommon words are better."),
    "Avoid repeated words and characters.": _l("Avoid repeated words and characters."),
    "Avoid sequences.": _l("Avoid sequences like abc or 6543."),
    "Avoid recent years.": _l("Avoid recent years and dates."),
    "Avoid dates and years that are associated with you.": _l("Avoid recent years and dates."),
    "Capitalization doesn't help very much.": _l("Capital letters alone do not make a password stronger."),
    "Predictable substitutions like '@' instead of 'a' don't help very much.": _l(
        "Predictable substitutions like @ for a do not help much."
    ),
    "This is a top-10 common password.": _l("This is one of the most common passwords."),
    "This is a top-100 common password.": _l("This is one of the most common passwords."),
    "This is a very common password.": _l("This is a very common password."),
    "This is similar to a commonly used password.": _l("This is similar to a commonly used password."),
    "A word by itself is easy to guess.": _l("A single word is easy to guess."),
    "Names and surnames by themselves are easy to guess.": _l("Names and surnames alone are easy to guess."),
    "Straight rows of keys are easy to guess.": _l("Rows of keys on the keyboard are easy to guess."),
    "Short keyboard patterns are easy to guess.": _l("Keyboard patterns are easy to guess."),
    'Repeats like "aaa" are easy to guess.': _l("Repeated characters are easy to guess."),
}


def password_problem(password, context=()):
    """A translated reason why `password` is not acceptable, or None when it is."""
    if len(password) < MIN_LENGTH:
        return _l("Use at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l("Use at most %(n)d characters.", n=MAX_LENGTH)
    lowered = password.casefold()
    words = ["kabinet", "кабинет"]
    for item in context:
        if item:
            words.append(item.casefold())
            words.extend(part for part in item.casefold().replace("@", " ").replace(".", " ").split() if len(part) >= 4)
    if any(word and word in lowered for word in words):
        return _l("Do not use your name, e-mail or the site's name in the password.")
    result = zxcvbn(password[:72], user_inputs=words)  # zxcvbn refuses longer input
    if result["score"] < 3:
        hints = [result["feedback"].get("warning") or ""] + result["feedback"].get("suggestions", [])
        for hint in hints:
            if hint in _FEEDBACK:
                return _l("This password is too easy to guess: %(hint)s", hint=_FEEDBACK[hint])
        return _l("This password is too easy to guess: add more words or characters.")
    return None

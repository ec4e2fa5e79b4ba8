"""Check-digit rules for Russian company identifiers: ИНН (TIN), ОГРН, ОГРНИП and the КПП format."""
import re

_TIN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_TIN12_A = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_TIN12_B = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _weighted(digits, weights):
    return sum(int(d) * w for d, w in zip(digits, weights)) % 11 % 10


def valid_tin(value):
    """A 10-digit (company) or 12-digit (person) ИНН with correct check digits."""
    if not re.fullmatch(r"\d{10}|\d{12}", value or ""):
        return False
    if len(value) == 10:
        return _weighted(value, _TIN10) == int(value[9])
    return _weighted(value, _TIN12_A) == int(value[10]) and _weighted(value, _TIN12_B) == int(value[11])


def valid_ogrn(value):
    """13-digit ОГРН: the last digit is the first twelve mod 11 (mod 10)."""
    return bool(re.fullmatch(r"\d{13}", value or "")) and int(value[:12]) % 11 % 10 == int(value[12])


def valid_ogrnip(value):
    """15-digit ОГРНИП: the last digit is the first fourteen mod 13 (mod 10)."""
    return bool(re.fullmatch(r"\d{15}", value or "")) and int(value[:14]) % 13 % 10 == int(value[14])


def valid_kpp(value):
    """9-character КПП: four digits, two digits or capital letters, three digits (no check digit exists)."""
    return bool(re.fullmatch(r"\d{4}[\dA-Z]{2}\d{3}", value or ""))


_ACCOUNT_WEIGHTS = (7, 1, 3) * 8


def _account_key_ok(digits23):
    return sum(int(d) * w % 10 for d, w in zip(digits23, _ACCOUNT_WEIGHTS)) % 10 == 0


def valid_bik(value):
    """9-digit БИК of a Russian bank (starts with 04)."""
    return bool(re.fullmatch(r"04\d{7}", value or ""))


def valid_bank_account(bik, account):
    """20-digit расчётный счёт whose control key matches the bank's БИК (last three digits)."""
    return valid_bik(bik) and bool(re.fullmatch(r"\d{20}", account or "")) and _account_key_ok(bik[-3:] + account)


def valid_correspondent_account(bik, account):
    """20-digit корреспондентский счёт, keyed with "0" and the БИК's fifth and sixth digits."""
    return (
        valid_bik(bik) and bool(re.fullmatch(r"301\d{17}", account or ""))
        and _account_key_ok("0" + bik[4:6] + account)
    )

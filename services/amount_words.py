"""A sum of money in words for invoices: «Одна тысяча двести рублей 00 копеек», "One thousand two
hundred roubles 00 kopecks". num2words spells the whole roubles (it gets the feminine «одна тысяча»,
«две тысячи» right); the currency's word agrees with the number here."""
from decimal import ROUND_HALF_UP, Decimal

from num2words import num2words

RUB_RU = (("рубль", "рубля", "рублей"), ("копейка", "копейки", "копеек"))
RUB_EN = (("rouble", "roubles"), ("kopeck", "kopecks"))


def russian_plural(n, forms):
    """The form of a Russian noun after the number n: 1 рубль, 2 рубля, 5 рублей, 11 рублей, 21 рубль."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


def split(amount):
    """(whole units, hundredths) of a non-negative amount, rounded half up to kopecks."""
    value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if value < 0:
        raise ValueError("a negative amount has no words on an invoice")
    whole = int(value)
    return whole, int((value - whole) * 100)


def amount_in_words(amount, currency="RUB", language="ru"):
    whole, cents = split(amount)
    if language == "ru":
        words = num2words(whole, lang="ru")
        if currency == "RUB":
            units, subunits = RUB_RU
            text = f"{words} {russian_plural(whole, units)} {cents:02d} {russian_plural(cents, subunits)}"
        else:
            text = f"{words} {currency} {cents:02d}/100"
    else:
        words = num2words(whole, lang="en").replace(",", "")
        if currency == "RUB":
            units, subunits = RUB_EN
            text = f"{words} {units[whole != 1]} {cents:02d} {subunits[cents != 1]}"
        else:
            text = f"{words} {currency} {cents:02d}/100"
    return text[0].upper() + text[1:]

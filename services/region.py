"""Countries, time zones, phone numbers and money in the person's locale (babel, zoneinfo, phonenumbers)."""
import unicodedata
import zoneinfo
from functools import lru_cache
from importlib import resources

import phonenumbers
from babel import Locale
from babel.core import get_global
from babel.numbers import format_currency

ZONE_AREAS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
# Countries spanning several zones: the one most of their people live in (zone.tab's order is by longitude).
MAIN_ZONES = {
    "RU": "Europe/Moscow", "US": "America/New_York", "CA": "America/Toronto", "BR": "America/Sao_Paulo",
    "AU": "Australia/Sydney", "MX": "America/Mexico_City", "ID": "Asia/Jakarta", "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago", "UA": "Europe/Kyiv", "PT": "Europe/Lisbon", "CN": "Asia/Shanghai",
    "KZ": "Asia/Almaty", "MN": "Asia/Ulaanbaatar", "DE": "Europe/Berlin", "CD": "Africa/Kinshasa",
    "NZ": "Pacific/Auckland", "UZ": "Asia/Tashkent", "ES": "Europe/Madrid", "EC": "America/Guayaquil",
}


@lru_cache(maxsize=1)
def time_zones():
    """IANA zone names a person can pick (Area/Location and UTC), sorted."""
    zones = {z for z in zoneinfo.available_timezones() if z.split("/", 1)[0] in ZONE_AREAS}
    return sorted(zones | {"UTC"})


def valid_time_zone(name):
    return name in time_zones()


@lru_cache(maxsize=1)
def _zone_tab():
    zones = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            zones.setdefault(parts[0], []).append(parts[2])
    return zones


def zone_for_country(country):
    """A sensible default zone for an ISO country code, or None."""
    if not country:
        return None
    zone = MAIN_ZONES.get(country) or (_zone_tab().get(country) or [None])[0]
    return zone if zone and valid_time_zone(zone) else None


def zones_of_area(area):
    """The zones of one area (Europe/...), for a list of every zone shown an area at a time."""
    return [z for z in time_zones() if z.startswith(f"{area}/")] if area else []


def country_of_zone(zone):
    """The country a zone belongs to (Asia/Tokyo -> JP), or None for UTC and shared zones."""
    return get_global("zone_territories").get(zone) if zone != "UTC" else None


def zones_of_country(country):
    return sorted(z for z in _zone_tab().get(country or "", []) if valid_time_zone(z))


@lru_cache(maxsize=8)
def countries(locale):
    """[(code, name)] of the world's countries, named and sorted for `locale`."""
    names = Locale.parse(locale).territories
    codes = get_global("territory_zones").keys()
    # Decomposed, so that accented names sort with their letter (Åland Islands under A).
    return sorted(((c, names[c]) for c in codes if len(c) == 2 and c in names),
                  key=lambda item: unicodedata.normalize("NFKD", item[1]).casefold())


def country_name(code, locale):
    return Locale.parse(locale).territories.get(code or "", "")


def format_money(amount, currency, locale):
    """Babel's currency format, with CLDR's currency spacing that babel leaves out: RUB 1,234.50, not RUB1,234.50."""
    text = format_currency(amount, currency, locale=locale)
    for i in range(1, len(text)):
        before, after = text[i - 1], text[i]
        if before.isalpha() and after.isdigit() or before.isdigit() and after.isalpha():
            return text[:i] + "\u00a0" + text[i:]
    return text


class PhoneProblem(ValueError):
    """Why a phone number was refused: "unparsable" or "impossible"."""


def parse_phone(raw, country=None):
    """The number in E.164; without a leading + the person's country is the default region."""
    try:
        number = phonenumbers.parse(raw, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        raise PhoneProblem("unparsable") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneProblem("impossible")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164):
    """+7 912 345-67-89: the international format for display."""
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164

"""Countries, time zones, phone numbers and money in the person's locale (babel, zoneinfo, phonenumbers)."""
import unicodedata
import zoneinfo
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources

import phonenumbers
from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location
from babel.numbers import format_currency, get_currency_symbol
from flask_babel import lazy_gettext as _l

ZONE_AREAS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
# Countries spanning several zones: the one most of their people live in (zone.tab's order is by longitude).
MAIN_ZONES = {
    "RU": "Europe/Moscow", "US": "America/New_York", "CA": "America/Toronto", "BR": "America/Sao_Paulo",
    "AU": "Australia/Sydney", "MX": "America/Mexico_City", "ID": "Asia/Jakarta", "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago", "UA": "Europe/Kyiv", "PT": "Europe/Lisbon", "CN": "Asia/Shanghai",
    "KZ": "Asia/Almaty", "MN": "Asia/Ulaanbaatar", "DE": "Europe/Berlin", "CD": "Africa/Kinshasa",
    "NZ": "Pacific/Auckland", "UZ": "Asia/Tashkent", "ES": "Europe/Madrid", "EC": "America/Guayaquil",
}


# The areas a list of every zone is shown by, as the reader names them.
AREA_LABELS = {
    "Africa": _l("Africa"), "America": _l("America"), "Antarctica": _l("Antarctica"), "Arctic": _l("Arctic"),
    "Asia": _l("Asia"), "Atlantic": _l("Atlantic Ocean"), "Australia": _l("Australia"), "Europe": _l("Europe"),
    "Indian": _l("Indian Ocean"), "Pacific": _l("Pacific Ocean"),
}
UTC_LABEL = _l("Coordinated Universal Time")


def zone_offset(zone, now=None):
    """The zone's offset from UTC now, in minutes."""
    now = now or datetime.now(timezone.utc)
    return int(now.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset().total_seconds() // 60)


def zone_label(zone, locale, now=None):
    """«(UTC+03:00) Москва»: the zone as people know it, its offset now and its city in the reader's language."""
    try:
        minutes = zone_offset(zone, now)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zone
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    city = str(UTC_LABEL) if zone == "UTC" else get_timezone_location(zone, locale=locale, return_city=True)
    return f"(UTC{sign}{hours:02d}:{rest:02d}) {city}"


def zone_choices(zones, locale, now=None):
    """[(zone, label)] sorted by offset, then by the label, as a list of time zones is read."""
    now = now or datetime.now(timezone.utc)
    labelled = [(zone_offset(z, now), zone_label(z, locale, now), z) for z in zones]
    return [(z, label) for _offset, label, z in sorted(labelled, key=lambda t: (t[0], t[1].casefold()))]


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


def currency_symbol(currency, locale):
    """The currency as the reader writes it next to an amount: ₽ for roubles in Russian, RUB in English."""
    return get_currency_symbol(currency, locale=locale)


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

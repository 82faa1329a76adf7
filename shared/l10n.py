"""Dates, times and country names as a person reads them, in English, French or
German, from CLDR's data through Babel: one place for the pages and the mails,
so an RSVP page and its invitation mail say the same thing the same way.

Times are stored in UTC. They are shown in the event's time zone, named and
with their offset ("samedi 20 février 2027 à 23:59 (heure normale d'Europe de
l'Est, UTC+02:00)"): the name reads well, the offset is unambiguous where a
name is not (CLDR names some zones after a country only, or not at all).
Dates of a day (``starts_on``, ``ends_on``) are dates, never moments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import (
    format_date,
    format_time,
    get_timezone_gmt,
    get_timezone_name,
    parse_pattern,
)
from babel.lists import format_list

LANGUAGES = ("en", "fr", "de")
DEFAULT_LANGUAGE = "en"
# The CLDR locale of each language: British English for a European programme
# (day before month, a 24-hour clock).
LOCALES = {"en": "en_GB", "fr": "fr_FR", "de": "de_DE"}
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch"}

# CLDR has no "date at time" pattern in Babel's data: these are CLDR's atTime ones.
_AT_TIME = {"en": "{date} at {time}", "fr": "{date} à {time}", "de": "{date} um {time}"}
_ONLINE = {"en": "online", "fr": "en ligne", "de": "online"}
# Zones CLDR has no generic name for (it says "Unknown Region (UTC) Time").
_WIDE_MONTH = re.compile(r"(?<![ML])([ML])\1\1(?![ML])")  # MMM, not MM or MMMM
_UNIVERSAL = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/GMT", "GMT", "UCT", "Universal", "Zulu"})


def supported(requested: str | None) -> str | None:
    """The language of ``requested`` (``fr``, ``fr-BE``, ``de_AT``) when we speak it."""
    code = (requested or "").strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def language_for(requested: str | None) -> str:
    """The reader's language when we have texts in it, English otherwise."""
    return supported(requested) or DEFAULT_LANGUAGE


def zone(name: str | None) -> ZoneInfo:
    """The IANA time zone ``name``; UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def as_date(value: date | str | None) -> date | None:
    """A date of a day from a date or its ISO text; None when there is none."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def as_moment(value: datetime | str | None) -> datetime | None:
    """An aware datetime from a datetime or its ISO text (naive means UTC, as
    MongoDB keeps it); None when there is none."""
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(LOCALES[language])


@dataclass(frozen=True)
class Formatter:
    """Formats for one reader's language (unknown languages read English)."""

    language: str = DEFAULT_LANGUAGE

    def __post_init__(self) -> None:
        object.__setattr__(self, "language", language_for(self.language))

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    def day(self, value: date | str | None, width: str = "long") -> str:
        """``10 mars 2027``; ``full`` adds the weekday."""
        day = as_date(value)
        return format_date(day, width, locale=self.locale) if day else ""

    def days(self, starts: date | str | None, ends: date | str | None = None) -> str:
        """An event's days: ``10-11 mars 2027``, ``30 mars - 1 avr. 2027``, or one day."""
        first, last = as_date(starts), as_date(ends)
        if first is None:
            return self.day(last)
        if last is None or last <= first:
            return self.day(first)
        # CLDR's interval of day, abbreviated month and year, its months widened
        # (the adjustment CLDR allows; Babel matches "yMMMMd" to it but keeps "MMM").
        patterns = self.locale.interval_formats["yMMMd"]
        field = "y" if first.year != last.year else "M" if first.month != last.month else "d"
        return "".join(
            parse_pattern(_WIDE_MONTH.sub(r"\1\1\1\1", pattern)).apply(day, self.locale)
            for pattern, day in zip(patterns[field], (first, last), strict=True)
        )

    def moment(self, value: datetime | str | None, timezone: str | None) -> str:
        """A moment in the event's zone: ``Saturday, 20 February 2027 at 23:59
        (Eastern European Standard Time, GMT+02:00)``."""
        moment = as_moment(value)
        if moment is None:
            return ""
        local = moment.astimezone(zone(timezone))
        text = _AT_TIME[self.language].format(
            date=format_date(local.date(), "full", locale=self.locale),
            time=format_time(local, "short", locale=self.locale),
        )
        return f"{text} ({self.zone_at(local)})"

    def moment_day(self, value: datetime | str | None, timezone: str | None) -> str:
        """The day of a moment in the event's zone (a short subject line): ``20 février 2027``."""
        moment = as_moment(value)
        return self.day(moment.astimezone(zone(timezone)).date()) if moment else ""

    def zone_at(self, local: datetime) -> str:
        """The zone at a moment, named and with its offset: ``heure normale d'Europe
        de l'Est, UTC+02:00``; the offset alone where CLDR has no name."""
        offset = get_timezone_gmt(local, "long", locale=self.locale)
        name = get_timezone_name(local, "long", locale=self.locale)
        return offset if name == offset else f"{name}, {offset}"

    def zone(self, timezone: str | None) -> str:
        """The zone of an event's days, named as in a calendar: ``heure d'Europe de l'Est``."""
        tz = zone(timezone)
        if tz.key in _UNIVERSAL or tz.key.startswith("Etc/"):
            return get_timezone_name(datetime.now(tz), "long", locale=self.locale)
        return get_timezone_name(tz, "long", locale=self.locale, zone_variant="generic")

    def country(self, code: str | None) -> str:
        """``EE`` → ``Estonie``; the code itself when CLDR does not know it."""
        code = (code or "").strip().upper()
        return self.locale.territories.get(code, code)

    def countries(self, codes: Iterable[str] | None) -> str:
        """``Estonie, Lettonie et Finlande``."""
        names = [self.country(code) for code in codes or ()]
        return format_list(names, locale=self.locale) if names else ""

    def place(self, venue: Mapping[str, Any] | None) -> str:
        """``Tallinn, Estonie``, ``Tallinn, Estonie + en ligne`` or ``en ligne``."""
        venue = venue or {}
        where = ", ".join(p for p in (venue.get("city"), self.country(venue.get("country"))) if p)
        online = _ONLINE[self.language]
        if venue.get("online"):
            return f"{where} + {online}" if where else online
        return where or online

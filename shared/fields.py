"""marshmallow fields for values every service validates the same way."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import available_timezones

import pycountry
from marshmallow import ValidationError, fields

_TIMEZONES = frozenset(available_timezones())


class CountryCode(fields.String):
    """An ISO 3166-1 alpha-2 country code, normalised to upper case."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update(
            {"description": "ISO 3166-1 alpha-2 code", "example": "EE"}
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code = str(super()._deserialize(value, attr, data, **kwargs)).strip().upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")
        return code


class LanguageCode(fields.String):
    """An ISO 639-1 language code, normalised to lower case."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"description": "ISO 639-1 code", "example": "en"})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code = str(super()._deserialize(value, attr, data, **kwargs)).strip().lower()
        if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None:
            raise ValidationError(f"{value!r} is not an ISO 639-1 language code.")
        return code


class TimeZone(fields.String):
    """An IANA time zone name such as ``Europe/Tallinn``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        if name not in _TIMEZONES:
            raise ValidationError(f"{value!r} is not a known IANA time zone.")
        return name


# Characters no person's name holds, as code point ranges: C0 and C1 controls
# (CR, LF, tab, form feed, U+0085 ...), the soft hyphen, the Arabic, Syriac and
# Mongolian format marks, zero-width space, the directional marks, embeddings,
# overrides and isolates, the line and paragraph separators, word joiner and
# invisible operators, the byte order mark and the interlinear annotation
# marks: Unicode's Cc, Zl, Zp and the Cf of the Basic Multilingual Plane, less
# ZERO WIDTH NON-JOINER and JOINER (U+200C, U+200D), which Persian and Indic
# spellings need. They break mail headers or disguise what a reader sees; a
# lone surrogate (Cs, only possible through a JSON escape) is refused as well.
_NAME_REFUSED = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0xD800, 0xDFFF),
)
_NAME_CLASS = "".join(
    f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}"
    for low, high in _NAME_REFUSED
    if low != 0xD800  # lone surrogates: not expressible in a client's pattern
)
NAME_PATTERN = f"^[^{_NAME_CLASS}]*$"
"""The JSON Schema ``pattern`` of :class:`PersonName` (what clients see)."""
_NAME_REFUSED_RE = re.compile(f"[{_NAME_CLASS}\\ud800-\\udfff]")


def refused_name_characters(text: str) -> list[str]:
    """The characters of ``text`` that :class:`PersonName` refuses, in order, once each."""
    return list(dict.fromkeys(_NAME_REFUSED_RE.findall(text)))


def display_name(text: str) -> str:
    """``text`` with every refused character replaced by a space and runs of
    white space collapsed: what a mail header or calendar entry may show of a
    name that came from elsewhere than our own API."""
    return " ".join(_NAME_REFUSED_RE.sub(" ", text).split())


class PersonName(fields.String):
    """A person's name: any script, apostrophes, hyphens and commas, but no
    control, format or line-separator characters (see ``_NAME_REFUSED``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"pattern": NAME_PATTERN})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = str(super()._deserialize(value, attr, data, **kwargs))
        refused = refused_name_characters(name)
        if refused:
            codes = ", ".join(f"U+{ord(c):04X}" for c in refused)
            raise ValidationError(
                f"A name cannot hold control, invisible formatting or line-separator "
                f"characters ({codes})."
            )
        return name

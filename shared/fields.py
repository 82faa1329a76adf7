"""marshmallow fields for values every service validates the same way, and
what the OpenAPI documents say of them (:func:`openapi_attributes`)."""

from __future__ import annotations

import importlib.resources
import re
from typing import Any, ClassVar

import pycountry
from marshmallow import ValidationError, fields

# The IANA time zones of the pinned tzdata package: the same list on every machine
# (the system's zoneinfo may hold more, or fewer, and "localtime"), so the OpenAPI
# documents generated anywhere agree, and with what is accepted.
_TZDATA_ZONES = importlib.resources.files("tzdata").joinpath("zones").read_text()


class CodeField(fields.String):
    """A code of a closed list (:attr:`choices`), normalised before it is checked.
    The OpenAPI documents name the list as the string's ``format`` (hundreds of
    choices would make every generated client carry them as an enum)."""

    choices: ClassVar[tuple[str, ...]]
    what: ClassVar[str]
    openapi_format: ClassVar[str]
    _accepted: ClassVar[frozenset[str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._accepted = frozenset(cls.choices)

    def normalise(self, text: str) -> str:
        return text.strip()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code = self.normalise(str(super()._deserialize(value, attr, data, **kwargs)))
        if code not in self._accepted:
            raise ValidationError(f"{value!r} is not {self.what}.")
        return code


class CountryCode(CodeField):
    """An ISO 3166-1 alpha-2 country code, normalised to upper case."""

    choices = tuple(sorted(country.alpha_2 for country in pycountry.countries))
    what = "an ISO 3166-1 alpha-2 country code"
    openapi_format = "iso3166-alpha2"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update(
            {"description": "ISO 3166-1 alpha-2 code", "example": "EE"}
        )
        super().__init__(**kwargs)

    def normalise(self, text: str) -> str:
        return text.strip().upper()


class LanguageCode(CodeField):
    """An ISO 639-1 language code, normalised to lower case."""

    choices = tuple(
        sorted(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
    )
    what = "an ISO 639-1 language code"
    openapi_format = "iso639-1"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"description": "ISO 639-1 code", "example": "en"})
        super().__init__(**kwargs)

    def normalise(self, text: str) -> str:
        return text.strip().lower()


class TimeZone(CodeField):
    """An IANA time zone name such as ``Europe/Tallinn``."""

    choices = tuple(sorted(_TZDATA_ZONES.split()))
    what = "a known IANA time zone"
    openapi_format = "iana-time-zone"


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false``, as the documents say: marshmallow's Boolean also
    takes 1, "yes" and "on"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictInteger(fields.Integer):
    """A JSON integer, as JSON Schema's ``integer`` means it: 3 or 3.0, never "3",
    true, or 3.5 cut down to 3 (marshmallow's Integer takes those)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


def openapi_attributes(field: fields.Field) -> dict[str, Any]:
    """What an OpenAPI document says of ``field`` beyond marshmallow's own: the
    ``format`` of a :class:`CodeField`. An apispec attribute function."""
    if isinstance(field, CodeField):
        return {"format": field.openapi_format}
    return {}


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

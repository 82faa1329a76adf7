"""marshmallow fields for values every service validates the same way."""

from __future__ import annotations

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

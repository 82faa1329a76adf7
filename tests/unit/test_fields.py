"""The marshmallow fields every service validates the same way (``shared/fields.py``)."""

from __future__ import annotations

import re

import pytest
from marshmallow import Schema, ValidationError

from shared.fields import NAME_PATTERN, PersonName, display_name


class _Named(Schema):
    name = PersonName(required=True)


NAMES = [
    "Zoë",
    "O'Brien",
    "José María Pérez-Núñez",
    "Ζωή Παπαδοπούλου",
    "Анна Каренина",
    "\u0645\u062d\u0645\u062f \u0639\u0628\u062f",
    "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",  # Persian, with ZERO WIDTH NON-JOINER
    "क्षितिज\u200d",  # Devanagari: ZERO WIDTH JOINER
    "李小龍",
    "Smith, John <john@evil.example>",  # odd, but a name: the mail quotes it
    "Anne\u00a0Marie",
]
REFUSED = [
    "Ana\u2028Bcc: x@evil.example",  # LINE SEPARATOR
    "Ana\u2029",  # PARAGRAPH SEPARATOR
    "Ana\r\nBcc: x@evil.example",
    "Ana\nB",
    "Ana\x85",  # NEXT LINE (C1)
    "A\x0cB",  # form feed
    "A\tB",
    "A\x00B",
    "Ana \u202egnp.exe",  # RIGHT-TO-LEFT OVERRIDE
    "A\u2066B\u2069",  # isolates
    "A\u200bB",  # ZERO WIDTH SPACE
    "\ufeffAna",  # byte order mark
    "Ana\u00ad",  # soft hyphen
    "Ana\ud800",  # a lone surrogate, from a JSON escape
]


@pytest.mark.parametrize("name", NAMES)
def test_names_of_every_script_load_unchanged_and_match_the_documented_pattern(name):
    assert _Named().load({"name": name}) == {"name": name}
    assert re.fullmatch(NAME_PATTERN, name)
    assert display_name(name) == " ".join(name.split())


@pytest.mark.parametrize("name", REFUSED)
def test_control_format_and_line_separator_characters_are_refused(name):
    with pytest.raises(ValidationError) as caught:
        _Named().load({"name": name})
    assert "U+" in caught.value.messages["name"][0]
    if "\ud800" not in name:
        assert re.fullmatch(NAME_PATTERN, name) is None  # the OpenAPI document says so too


def test_display_name_turns_refused_characters_into_spaces():
    assert display_name("Ana\u2028Bcc: x@evil.example") == "Ana Bcc: x@evil.example"
    assert display_name("Ana\r\n\x85 Lee\x0c") == "Ana Lee"
    assert display_name("\u202e\u200b") == ""

from datetime import UTC, date, datetime

import pytest
from marshmallow import ValidationError

from services.events.domain import (
    next_status,
    query_terms,
    search_terms,
    validate_event,
    visibility_filter,
)
from services.events.schemas import EventCreateSchema
from shared.auth import ANONYMOUS, Principal
from shared.lifecycle import IllegalTransition


def _event(**overrides):
    base = {
        "title": "Skills forecasting: the OSKA system",
        "format": "peer_review",
        "programme": "employment",
        "host_country": "EE",
        "guest_countries": ["LV", "FI"],
        "starts_on": "2027-03-01",
        "ends_on": "2027-03-02",
    }
    base.update(overrides)
    return base


def test_a_valid_event_loads_with_defaults():
    event = EventCreateSchema().load(_event(host_country="ee"))
    assert event["host_country"] == "EE"
    assert event["starts_on"] == date(2027, 3, 1)
    assert event["visibility"] == "invitation_only"
    assert event["languages"] == ["en"]
    assert event["timezone"] == "Europe/Brussels"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"guest_countries": ["LV", "EE"]}, "guest_countries", "cannot also be a guest"),
        (
            {"guest_countries": ["LV", "LT", "FI", "SE", "DK", "NO", "PL", "DE", "FR", "BE", "NL"]},
            "guest_countries",
            "at most 10",
        ),
        ({"guest_countries": ["LV", "LV"]}, "guest_countries", "twice"),
        ({"ends_on": "2027-02-28"}, "ends_on", "end before it starts"),
        (
            {"registration_deadline": "2027-03-01T09:00:00+01:00"},
            "registration_deadline",
            "before the event starts",
        ),
        ({"host_country": "XX"}, "host_country", "ISO 3166-1"),
        ({"guest_countries": ["Latvia"]}, "guest_countries", "ISO 3166-1"),
        ({"timezone": "Mars/Olympus"}, "timezone", "time zone"),
        ({"languages": ["english"]}, "languages", "ISO 639-1"),
        ({"format": "webinar"}, "format", "Must be one of"),
        ({"registration_deadline": "2027-02-01T12:00:00"}, "registration_deadline", "time zone"),
        ({"unexpected": True}, "unexpected", "Unknown field"),
    ],
)
def test_invalid_events_name_the_field(overrides, field, message):
    with pytest.raises(ValidationError) as caught:
        EventCreateSchema().load(_event(**overrides))
    assert message.lower() in str(caught.value.messages[field]).lower()


def test_ten_guests_are_fine_for_a_peer_review_and_more_for_a_conference():
    ten = ["LV", "LT", "FI", "SE", "DK", "NO", "PL", "DE", "FR", "BE"]
    assert EventCreateSchema().load(_event(guest_countries=ten))
    eleven = [*ten, "NL"]
    assert EventCreateSchema().load(_event(format="conference", guest_countries=eleven))


def test_validate_event_accepts_a_consistent_event():
    event = _event(registration_deadline=datetime(2027, 2, 1, tzinfo=UTC))
    assert validate_event(event) == {}


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        ("publish", "draft", "published"),
        ("cancel", "draft", "cancelled"),
        ("cancel", "published", "cancelled"),
        ("complete", "published", "completed"),
    ],
)
def test_legal_transitions(action, status, expected):
    assert next_status(action, status)[0] == expected
    assert next_status(action, status)[1] == f"event.{expected}"


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("publish", "published"),
        ("publish", "cancelled"),
        ("publish", "completed"),
        ("complete", "draft"),
        ("complete", "cancelled"),
        ("cancel", "completed"),
        ("cancel", "cancelled"),
    ],
)
def test_illegal_transitions(action, status):
    with pytest.raises(IllegalTransition, match=f"Cannot {action}"):
        next_status(action, status)


def test_visibility_of_the_catalogue():
    assert visibility_filter(Principal(sub="s", roles=frozenset({"secretariat"}))) == {}
    assert visibility_filter(ANONYMOUS) == {
        "status": {"$in": ["published", "completed"]},
        "visibility": "public",
    }
    official = visibility_filter(Principal(sub="p", roles=frozenset({"participant"}), country="LV"))
    assert {"guest_countries": "LV"} in official["$or"]
    assert official["status"] == {"$in": ["published", "completed"]}


def test_search_terms_match_prefixes_of_title_words_and_whole_summary_words():
    terms = search_terms({"title": "Skills forecasting", "summary": "Estonia's OSKA", "tags": []})
    for q in ("forecast", "FORE", "skill", "oska", "estonia"):
        assert set(query_terms(q)) <= set(terms), q
    assert "est" not in terms  # summary words match whole only


def test_only_a_public_event_may_be_open_to_registration():
    assert "registration" in validate_event(
        _event(registration="open", visibility="invitation_only")
    )
    assert validate_event(_event(registration="open", visibility="public")) == {}


def test_only_a_nomination_event_has_a_nomination_deadline():
    deadline = datetime(2027, 2, 1, 12, tzinfo=UTC)
    errors = validate_event(_event(registration="invitation", nomination_deadline=deadline))
    assert "nomination_deadline" in errors
    assert validate_event(_event(registration="nomination", nomination_deadline=deadline)) == {}

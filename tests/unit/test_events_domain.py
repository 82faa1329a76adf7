from datetime import UTC, date, datetime

import pytest
from marshmallow import ValidationError

from services.events.domain import (
    PROPOSAL_LIFECYCLE,
    complete_draft,
    decision_recipients,
    draft_from_proposal,
    next_status,
    proposal_filter,
    query_terms,
    refused_changes,
    search_terms,
    validate_event,
    validate_proposal,
    visibility_filter,
)
from services.events.schemas import EventCreateSchema, ProposalCreateSchema
from shared.auth import ANONYMOUS, Principal
from shared.lifecycle import IllegalTransition
from shared.payloads import load_payload, model_fields
from shared.payloads.events import (
    Period,
    ProposalDecidedPayloadSchema,
    ProposalPayload,
    ProposalPayloadSchema,
)


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


def test_nominations_close_before_the_event_starts():
    on_the_day = datetime(2027, 3, 1, 8, tzinfo=UTC)
    errors = validate_event(_event(registration="nomination", nomination_deadline=on_the_day))
    assert errors == {"nomination_deadline": ["Nominations must close before the event starts."]}


def test_a_published_event_keeps_its_way_in_but_a_draft_may_change_it():
    assert refused_changes("draft", ["registration", "title"]) == []
    assert refused_changes("published", ["registration", "title"]) == ["registration"]
    assert refused_changes("published", ["registration_moderated"]) == []


# --- hosting proposals -------------------------------------------------------


def _proposal(**overrides):
    base = {
        "id": "p-1",
        "country": "LT",
        "title": "Youth Guarantee outreach",
        "policy_summary": "Municipal youth centres reach young people NEET.",
        "format": "peer_review",
        "preferred_period": {"from_": date(2027, 5, 1), "to": date(2027, 6, 30)},
        "languages": ["en", "lt"],
        "themes": ["youth"],
        "contact": None,
        "language": "de",
        "submitted_by": {"sub": "u-1", "email": "coordinator@example.lt"},
    }
    base.update(overrides)
    return base


def test_a_proposal_period_must_be_in_order_and_not_over():
    today = date(2027, 1, 1)
    period = {"from_": date(2027, 5, 1), "to": date(2027, 6, 30)}
    assert validate_proposal({"preferred_period": period}, today) == {}
    backwards = {"from_": date(2027, 6, 30), "to": date(2027, 5, 1)}
    assert "preferred_period" in validate_proposal({"preferred_period": backwards}, today)
    assert "preferred_period" in validate_proposal({"preferred_period": period}, date(2027, 7, 1))


def test_a_proposal_body_loads_with_its_defaults():
    proposal = ProposalCreateSchema().load(
        {
            "title": "Youth outreach",
            "policy_summary": "Youth centres.",
            "format": "learning_exchange",
            "preferred_period": {"from": "2099-05-01", "to": "2099-05-31"},
        }
    )
    assert proposal["preferred_period"] == {"from_": date(2099, 5, 1), "to": date(2099, 5, 31)}
    assert (proposal["languages"], proposal["themes"]) == (["en"], [])
    assert (proposal["country"], proposal["contact"], proposal["language"]) == (None, None, "en")


def test_accept_and_decline_apply_to_submitted_proposals_only():
    assert PROPOSAL_LIFECYCLE.next_status("accept", "submitted") == (
        "accepted",
        "proposal.accepted",
    )
    assert PROPOSAL_LIFECYCLE.next_status("decline", "submitted") == (
        "declined",
        "proposal.declined",
    )
    for status in ("accepted", "declined"):
        for action in ("accept", "decline"):
            with pytest.raises(IllegalTransition):
                PROPOSAL_LIFECYCLE.next_status(action, status)


def test_coordinators_see_their_country_and_the_secretariat_every_proposal():
    assert proposal_filter(Principal(sub="s", roles=frozenset({"secretariat"})), None) == {}
    coordinator = Principal(sub="c", roles=frozenset({"coordinator"}), country="LT")
    assert proposal_filter(coordinator, "LT") == {"country": "LT"}


def test_the_draft_takes_the_proposal_fields_and_the_secretariats_choices_on_top():
    draft = draft_from_proposal(_proposal(), {"programme": "employment"})
    assert draft == {
        "title": "Youth Guarantee outreach",
        "summary": "Municipal youth centres reach young people NEET.",
        "format": "peer_review",
        "host_country": "LT",
        "languages": ["en", "lt"],
        "tags": ["youth"],
        "starts_on": date(2027, 5, 1),
        "ends_on": date(2027, 5, 1),
        "programme": "employment",
    }
    later = draft_from_proposal(_proposal(), {"starts_on": date(2027, 5, 20)})
    assert (later["starts_on"], later["ends_on"]) == (date(2027, 5, 20), date(2027, 5, 20))
    event, errors = complete_draft(draft)
    assert errors == {}
    assert event["registration"] == "invitation" and event["guest_countries"] == []
    assert event["timezone"] == "Europe/Brussels" and event["capacity"] is None


def test_a_draft_without_a_programme_or_breaking_a_rule_is_refused():
    _, errors = complete_draft(draft_from_proposal(_proposal(), {}))
    assert list(errors) == ["programme"]
    _, errors = complete_draft(
        draft_from_proposal(_proposal(), {"programme": "employment", "guest_countries": ["LT"]})
    )
    assert list(errors) == ["guest_countries"]


def test_the_decision_goes_to_the_coordinator_and_the_contact_once_each():
    contact = {"name": "Rūta K", "email": "Coordinator@Example.lt"}
    assert decision_recipients(_proposal(contact=contact)) == [
        {"email": "coordinator@example.lt", "name": "Rūta K", "language": "de"}
    ]
    other = {"name": "Jonas P", "email": "jonas@example.lt"}
    assert [p["email"] for p in decision_recipients(_proposal(contact=other))] == [
        "coordinator@example.lt",
        "jonas@example.lt",
    ]
    unverified = _proposal(submitted_by={"sub": "u", "email": None}, contact=None)
    assert decision_recipients(unverified) == []


def test_proposal_payload_models_match_their_schemas():
    for schema in (ProposalPayloadSchema, ProposalDecidedPayloadSchema):
        assert model_fields(schema.model) == set(schema().fields), schema
    loaded = load_payload(
        ProposalPayloadSchema(),
        {
            "proposal_id": "p-1",
            "country": "LT",
            "status": "accepted",
            "title": "Youth outreach",
            "policy_summary": "Youth centres.",
            "format": "peer_review",
            "preferred_period": {"from": "2027-05-01", "to": "2027-06-30"},
            "event_id": "e-1",
            "version": 2,
            "occurred_at": "2027-01-01T00:00:00+00:00",
            "unknown_later_field": 1,
        },
    )
    assert isinstance(loaded, ProposalPayload)
    assert loaded.preferred_period == Period(from_=date(2027, 5, 1), to=date(2027, 6, 30))
    assert loaded.event_id == "e-1" and loaded.languages == ["en"]

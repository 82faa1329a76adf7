"""Rules of invitations without I/O: tokens, the RSVP state machine, seats,
visibility and the reminder schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.invitations import domain
from shared.auth import Principal
from shared.errors import Conflict, Gone, NotFound

NOW = datetime(2027, 2, 1, 12, tzinfo=UTC)


def test_tokens_are_256_bit_url_safe_and_stored_as_sha256():
    token = domain.new_token()
    assert len(token) >= 43 and all(c.isalnum() or c in "-_" for c in token)
    assert domain.new_token() != token
    digest = domain.token_hash(token)
    assert len(digest) == 64 and token not in digest
    assert domain.rsvp_url("https://x.eu/", token) == f"https://x.eu/v1/rsvp/{token}"


@pytest.mark.parametrize(
    ("current", "response", "free", "expected"),
    [
        ("pending", "accept", True, "accepted"),
        ("pending", "accept", False, "waitlisted"),
        ("declined", "accept", True, "accepted"),
        ("accepted", "accept", False, "accepted"),
        ("waitlisted", "accept", True, "waitlisted"),
        ("accepted", "decline", True, "declined"),
        ("waitlisted", "decline", False, "declined"),
        ("pending", "decline", False, "declined"),
    ],
)
def test_next_status(current, response, free, expected):
    assert domain.next_status(current, response, free) == expected


def test_seat_arithmetic():
    assert domain.seat_free(1, 2) and not domain.seat_free(2, 2) and domain.seat_free(99, None)
    assert domain.seat_delta("accepted", "declined") == {"accepted": -1, "waitlisted": 0}
    assert domain.seat_delta("waitlisted", "accepted") == {"accepted": 1, "waitlisted": -1}
    assert domain.free_seats(accepted=2, capacity=5, waitlisted=10) == 3
    assert domain.free_seats(accepted=5, capacity=3, waitlisted=2) == 0
    assert domain.free_seats(accepted=5, capacity=None, waitlisted=2) == 2


def _inv(status="pending"):
    return {"status": status, "email": "a@b.eu"}


def test_answers_refused_after_cancel_revocation_or_deadline():
    published = {"status": "published", "registration_deadline": NOW + timedelta(days=1)}
    domain.check_answerable(_inv(), published, NOW, deadline_binds=True)
    for inv, event, refusal, status in [
        (_inv(), {**published, "status": "cancelled"}, Gone, 410),
        (_inv("revoked"), published, Gone, 410),
        (_inv("expired"), published, Conflict, 409),
        (_inv(), {**published, "registration_deadline": NOW - timedelta(seconds=1)}, Conflict, 409),
    ]:
        with pytest.raises(refusal) as err:
            domain.check_answerable(inv, event, NOW, deadline_binds=True)
        assert err.value.status == status
    late = {**published, "registration_deadline": NOW - timedelta(days=1)}
    with pytest.raises(Conflict) as err:
        domain.check_answerable(_inv(), late, NOW, deadline_binds=True)
    assert err.value.details["registration_deadline"] == late["registration_deadline"].isoformat()
    domain.check_answerable(_inv(), late, NOW, deadline_binds=False)  # the secretariat


def test_invitable_only_when_known_published_and_before_the_deadline():
    ok = {"status": "published", "registration_deadline": NOW + timedelta(days=1)}
    domain.check_invitable(ok, "e", NOW)
    for event, refusal, status in [
        (None, NotFound, 404),
        ({**ok, "status": "draft"}, Conflict, 409),
        ({**ok, "status": "cancelled"}, Conflict, 409),
        ({**ok, "registration_deadline": NOW - timedelta(days=1)}, Conflict, 409),
    ]:
        with pytest.raises(refusal) as err:
            domain.check_invitable(event, "e", NOW)
        assert err.value.status == status


def test_visibility():
    sec = Principal(sub="s", roles=frozenset({"secretariat"}))
    participant = frozenset({"participant"})
    me = Principal(sub="p", email="a@b.eu", roles=participant, country="LV", email_trusted=True)
    unverified = Principal(sub="q", email="a@b.eu", roles=participant, country="LV")
    nobody = Principal(sub="x", roles=frozenset({"partner"}))
    assert domain.visibility_filter(sec) == {}
    assert domain.visibility_filter(me) == {"email": "a@b.eu"}
    assert domain.visibility_filter(nobody) is None
    assert domain.visibility_filter(unverified) is None
    assert not domain.may_see(unverified, _inv())
    assert domain.may_see(me, _inv()) and domain.may_see(sec, _inv())
    assert not domain.may_see(nobody, _inv())
    other = Principal(sub="o", email="c@b.eu", roles=participant, country="LV", email_trusted=True)
    assert not domain.may_see(other, _inv())


def test_reminder_schedule_one_step_at_a_time():
    schedule = domain.parse_schedule("2, 7")
    assert [s.name for s in schedule] == ["7d", "2d"]
    deadline = NOW + timedelta(days=10)
    early = NOW - timedelta(days=30)
    assert domain.due_step(schedule, deadline, early, NOW) is None
    assert domain.due_step(schedule, deadline, early, deadline - timedelta(days=6)).name == "7d"
    assert domain.due_step(schedule, deadline, early, deadline - timedelta(days=1)).name == "2d"
    assert domain.due_step(schedule, deadline, early, deadline) is None
    # invited after the 7-day point: only the 2-day reminder, never a stale 7-day one
    late = deadline - timedelta(days=5)
    assert domain.due_step(schedule, deadline, late, deadline - timedelta(days=4)) is None
    assert domain.due_step(schedule, deadline, late, deadline - timedelta(days=1)).name == "2d"
    with pytest.raises(ValueError):
        domain.parse_schedule("7,0")

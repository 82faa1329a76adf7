"""The rules of erasure without I/O: the keyed hash that names a person, what a
declared step changes in a row, and the ledger's statuses and certificate."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest

from deploy import catalog
from services.invitations import domain
from shared import erasure
from shared.erasure import MARKER, Person, Step
from shared.topics import PRODUCERS

SALT = "s" * 40
EMAIL = "Kadri.Tamm@Gov.example.ee"
AT = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)


def test_the_subject_key_is_keyed_normalised_and_matches_the_stored_sha256():
    key = erasure.subject_key(SALT, EMAIL)
    assert key == erasure.subject_key(SALT, "  kadri.tamm@gov.example.ee ")
    assert key != erasure.subject_key("t" * 40, EMAIL)  # without the salt, no test
    assert key != erasure.email_sha256(EMAIL) and EMAIL.lower() not in key
    # rows that keep only the address's sha256 are found by the same key
    assert erasure.digest_key(SALT, erasure.email_sha256(EMAIL)) == key
    person = Person(key, frozenset({erasure.account_key(SALT, "sub-1")}), ("inv-1",))
    assert person.names("email", EMAIL.upper(), SALT)
    assert person.names("email_sha256", erasure.email_sha256(EMAIL), SALT)
    assert person.names("account", "sub-1", SALT) and not person.names("account", "sub-2", SALT)
    assert person.names("invitation", "inv-1", SALT)
    assert not person.names("email", "someone@else.eu", SALT)
    assert not person.names("email", f"{MARKER}:inv-1", SALT)  # erased rows name nobody


def test_a_step_marks_fields_and_only_the_matched_entries_of_its_array():
    step = Step("documents", "history[].by", "account", fields=("history[].by",))
    doc = {"_id": "d1", "history": [{"by": "sub-1", "action": "upload"}, {"by": "sub-2"}]}
    sets, unsets = erasure._changes(step, doc, {"sub-1"})
    assert sets == {"history": [{"by": MARKER, "action": "upload"}, {"by": "sub-2"}]}
    assert unsets == {}
    every, _ = erasure._changes(step, doc, None)  # retention: every entry
    assert every == {"history": [{"by": MARKER, "action": "upload"}, {"by": MARKER}]}


def test_unique_fields_get_the_row_id_drop_removes_and_pull_takes_out_the_values():
    step = Step(
        "invitations",
        "email",
        "email",
        fields=("name", "history[].by"),
        unique=("email", "token_hash"),
        drop=("old",),
    )
    doc = {"_id": "i1", "email": "a@b.eu", "name": "A", "token_hash": "h", "old": [1],
           "history": [{"by": "invitee", "at": 1}], "status": "accepted"}  # fmt: skip
    sets, unsets = erasure._changes(step, doc, {"a@b.eu"})
    assert sets == {
        "name": MARKER,
        "email": f"{MARKER}:i1",
        "token_hash": f"{MARKER}:i1",
        "history": [{"by": MARKER, "at": 1}],
    }
    assert unsets == {"old": ""}
    erased = {**doc, **sets}
    del erased["old"]
    assert erasure._changes(step, erased, None) == ({}, {})  # idempotent: nothing left
    pull = Step("due_dates", "items[].recipients", "email", pull=("items[].recipients",))
    row = {"_id": "e1", "items": [{"kind": "agenda", "recipients": ["a@b.eu", "c@d.eu"]}]}
    assert erasure._changes(pull, row, {"a@b.eu"})[0] == {
        "items": [{"kind": "agenda", "recipients": ["c@d.eu"]}]
    }


def test_retention_counts_events_ended_before_the_cutoff():
    assert erasure.retention_cutoff(AT, 730) == (AT - timedelta(days=730)).date().isoformat()


def _entry():
    return domain.new_erasure(
        "r1", "k" * 64, kind="request", services=("events", "invitations"), at=AT
    )


def test_the_ledger_completes_when_every_service_answered_and_certifies_it():
    entry = _entry()
    assert "email" not in str(entry) and entry["status"] == "in_progress"
    one = domain.record_answer(entry, "events", {"counts": {}, "retained": ["x"]}, AT)
    assert one["status"] == "in_progress" and one["completed_at"] is None
    both = domain.record_answer(one, "invitations", {"counts": {"invitations": 2}}, AT)
    assert both["status"] == "completed" and both["completed_at"] == AT
    view = domain.erasure_view(both, AT + timedelta(days=9), 60)
    assert view["status"] == "completed" and view["overdue"] == []
    cert = view["certificate"]
    assert cert["request_id"] == "r1" and cert["total"] == 2
    assert [s["service"] for s in cert["services"]] == ["events", "invitations"]


def test_a_service_that_does_not_answer_in_time_shows_overdue():
    one = domain.record_answer(_entry(), "events", {"counts": {}}, AT)
    assert domain.erasure_view(one, AT + timedelta(seconds=59), 60)["status"] == "in_progress"
    late = domain.erasure_view(one, AT + timedelta(seconds=61), 60)
    assert late["status"] == "overdue" and late["overdue"] == ["invitations"]
    assert late["services"]["events"]["status"] == "completed"
    assert late["certificate"] is None


def test_a_replay_keeps_the_earlier_certificate_and_waits_for_everyone_again():
    entry = _entry()
    for name in ("events", "invitations"):
        entry = domain.record_answer(entry, name, {"counts": {"x": 1}}, AT)
    again = domain.restart(entry, AT + timedelta(days=1))
    assert again["status"] == "in_progress" and len(again["runs"]) == 1
    assert again["runs"][0]["total"] == 2
    assert {s["status"] for s in again["services"].values()} == {"pending"}


@pytest.mark.parametrize("service", catalog.names())
def test_every_deployed_service_declares_its_erasure_and_the_ledger_waits_for_it(service):
    """The ledger waits for the services of the topic catalogue; each deployed one
    declares what it erases (a new collection is one more step)."""
    assert service in PRODUCERS
    store = importlib.import_module(f"services.{service}.store")
    assert isinstance(store.ERASURE, erasure.Erasure)
    for step in store.ERASURE.steps:
        assert step.delete or step.fields or step.unique or step.drop or step.pull, step


def test_the_ledger_waits_for_exactly_the_deployed_services():
    """A producer that is not deployed would keep every request in progress; a
    deployed service that produces nothing would never be waited for."""
    assert set(PRODUCERS) == set(catalog.names())

"""Seat changes on one busy event (issue 13, point 3): they take turns instead
of aborting each other's transactions, and capacity stays exact.

Each app built here stands for a web process of its own (its own client, its
own per-event locks) on the same database as the fixture's app."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator

import pytest
from pymongo import monitoring

from services.invitations.app import create_app
from tests.fixtures.invitations import SEC, invitee, issued_links, token_of

WRITE_CONFLICT = 112


class _Conflicts(monitoring.CommandListener):
    """Counts commands the server refused with ``WriteConflict``, while active."""

    def __init__(self) -> None:
        self.active = False
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if self.active and event.failure.get("code") == WRITE_CONFLICT:
            self.count += 1


_conflicts = _Conflicts()
monitoring.register(_conflicts)  # only clients made after this see it: the apps made here


@pytest.fixture
def conflicts() -> Iterator[_Conflicts]:
    _conflicts.active, _conflicts.count = True, 0
    yield _conflicts
    _conflicts.active = False


@contextlib.contextmanager
def _another_process(settings):
    """Another web process on the fixture app's database (which that fixture
    drops). Without the RSVP rate limit: the racers share one address."""
    app = create_app(dataclasses.replace(settings, rsvp_rate_limit=0))
    try:
        yield app
    finally:
        app.extensions["mlp"].client.close()


def _tokens(app, event_id, n):
    client = app.test_client()
    people = [invitee(i) for i in range(n)]
    response = client.post(
        f"/v1/events/{event_id}/invitations", json={"invitees": people}, headers=SEC
    )
    assert response.status_code == 201, response.json
    return [token_of(url) for url in issued_links(app, event_id).values()]


def _race(apps_and_tokens):
    """Accept every token at once, each through its app; the statuses answered."""
    barrier = threading.Barrier(len(apps_and_tokens))
    results: list[str] = []

    def accept(app, token):
        racer = app.test_client()
        barrier.wait()
        response = racer.post(f"/v1/rsvp/{token}", json={"response": "accept"})
        results.append(response.json["status"] if response.status_code == 200 else "error")

    threads = [threading.Thread(target=accept, args=pair) for pair in apps_and_tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _assert_exact(app, event_id, results, capacity):
    assert sorted(results) == ["accepted"] * capacity + ["waitlisted"] * (len(results) - capacity)
    db = app.extensions["mlp"].db
    stored = {
        s: db.invitations.count_documents({"event_id": event_id, "status": s})
        for s in ("accepted", "waitlisted")
    }
    seats = db.seats.find_one({"_id": event_id})
    assert stored == {"accepted": capacity, "waitlisted": len(results) - capacity}
    assert (seats["accepted"], seats["waitlisted"]) == (stored["accepted"], stored["waitlisted"])


def test_eight_acceptances_on_one_event_take_turns_without_write_conflicts(
    invitations_app, invitations_settings, invitations_published_event, conflicts
):
    ev = invitations_published_event(capacity=5)
    tokens = _tokens(invitations_app, ev["event_id"], 8)
    with _another_process(invitations_settings) as app:
        for _round in range(2):
            results = _race([(app, t) for t in tokens])
            _assert_exact(app, ev["event_id"], results, capacity=5)
    # The threads of one process took turns: no transaction was aborted and retried.
    assert conflicts.count == 0


def test_acceptances_from_two_processes_keep_capacity_exact(
    invitations_app, invitations_settings, invitations_published_event
):
    ev = invitations_published_event(capacity=5)
    tokens = _tokens(invitations_app, ev["event_id"], 8)
    with (
        _another_process(invitations_settings) as one,
        _another_process(invitations_settings) as other,
    ):
        results = _race([((one, other)[i % 2], t) for i, t in enumerate(tokens)])
    _assert_exact(invitations_app, ev["event_id"], results, capacity=5)


def test_an_acceptance_waits_for_the_transaction_holding_the_seats_then_applies(
    invitations_app, invitations_settings, invitations_published_event
):
    ev = invitations_published_event(capacity=5)
    (token,) = _tokens(invitations_app, ev["event_id"], 1)
    with _another_process(invitations_settings) as other:
        # Another process's seat change, still open.
        ctx = other.extensions["mlp"]
        session = ctx.client.start_session()
        session.start_transaction()
        ctx.store.lock_seats(ev["event_id"], session)
        answered: list[int] = []
        waiter = threading.Thread(
            target=lambda: answered.append(
                invitations_app.test_client()
                .post(f"/v1/rsvp/{token}", json={"response": "accept"})
                .status_code
            )
        )
        waiter.start()
        time.sleep(1.0)
        assert not answered  # waiting for the holder, not failed nor retried blindly
        session.commit_transaction()
        session.end_session()
        waiter.join(30)
    assert answered == [200]
    seats = invitations_app.extensions["mlp"].db.seats.find_one({"_id": ev["event_id"]})
    assert seats["accepted"] == 1
    assert seats["waits"] >= 1  # it waited on the seat document, then took the seat

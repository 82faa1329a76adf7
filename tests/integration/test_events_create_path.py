"""The work of one POST /v1/events (issue 13, point 7): what it writes, the
indexes it maintains, and what the web process does per request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from pymongo import ASCENDING, DESCENDING, monitoring

from devkit.auth import auth
from devkit.samples import event_body
from services.events import schemas
from services.events.app import create_app
from services.events.store import EventStore
from tests.helpers import running_app

SEC = auth("secretariat", sub="sec-1", email="sec@mlp.example")


class _Commands(monitoring.CommandListener):
    """The database commands this process sends, by name, while active."""

    def __init__(self) -> None:
        self.active = False
        self.names: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active:
            self.names[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_commands = _Commands()
monitoring.register(_commands)  # clients made after this see it


@pytest.fixture
def commands() -> Iterator[_Commands]:
    _commands.active, _commands.names = True, Counter()
    yield _commands
    _commands.active = False


def test_a_create_is_two_inserts_and_a_commit(events_settings, commands):
    with running_app(create_app, events_settings) as app:
        client = app.test_client()
        assert client.post("/v1/events", json=event_body(), headers=SEC).status_code == 201
        commands.names.clear()
        for i in range(5):
            body = event_body(title=f"Skills forecasting {i}")
            assert client.post("/v1/events", json=body, headers=SEC).status_code == 201
        # the event and its outbox record, in one transaction: nothing read back
        assert commands.names == {"insert": 10, "commitTransaction": 5}


def test_the_events_keep_one_index_per_filter_and_drop_the_created_at_one(events_app):
    db = events_app.extensions["mlp"].db
    # A database of an earlier version still has the index of the created_at sort.
    db.events.create_index([("created_at", DESCENDING)])
    EventStore(db).ensure_indexes()
    keys = {tuple(info["key"]) for info in db.events.index_information().values()}
    assert keys == {
        (("_id", 1),),
        (("status", ASCENDING), ("visibility", ASCENDING), ("starts_on", ASCENDING)),
        (("host_country", ASCENDING), ("starts_on", ASCENDING)),
        (("guest_countries", ASCENDING), ("starts_on", ASCENDING)),
        (("programme", ASCENDING), ("starts_on", ASCENDING)),
        (("format", ASCENDING), ("starts_on", ASCENDING)),
        (("starts_on", ASCENDING),),
        (("ends_on", ASCENDING),),
        (("search_terms", ASCENDING),),
    }
    EventStore(db).ensure_indexes()  # dropping what is gone already is fine
    # the sort it served still works, in memory
    client = events_app.test_client()
    for i in range(3):
        client.post("/v1/events", json=event_body(title=f"Event {i}"), headers=SEC)
    listed = client.get("/v1/events?sort=-created_at", headers=SEC).json["items"]
    assert [e["title"] for e in listed] == ["Event 2", "Event 1", "Event 0"]


def test_a_create_builds_no_schema_per_request(events_client, monkeypatch):
    built: list[str] = []
    original = schemas.EventCreateSchema.__init__

    def counting(self, *args, **kwargs):
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(schemas.EventCreateSchema, "__init__", counting)
    for i in range(3):
        body = event_body(title=f"Skills forecasting {i}")
        assert events_client.post("/v1/events", json=body, headers=SEC).status_code == 201
    assert built == []  # webargs parses with the one instance the view was declared with

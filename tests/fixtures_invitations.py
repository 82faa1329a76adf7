"""Fixtures of the invitations service tests: the app against the real
Mongo-wire server, and delivery of ``event.*`` records through the real
consumer runner (idempotency records included) without a broker round trip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from kafka.consumer.fetcher import ConsumerRecord

from services.invitations.app import create_app
from services.invitations.handlers import subscriptions
from shared.consumer import ConsumerRunner
from shared.context import fresh_context
from shared.envelope import encode
from tests.helpers import auth, event_body, running_app, service_env, settings_for

SEC = auth("secretariat")


@pytest.fixture
def invitations_env(kafka, mongo, monkeypatch) -> dict[str, str]:
    env = service_env("invitations", kafka.bootstrap, mongo.uri)
    env["MLP_PUBLIC_BASE_URL"] = "https://rsvp.example.eu"
    settings_for("invitations", env, monkeypatch)
    return env


@pytest.fixture
def invitations_app(invitations_env) -> Iterator[Flask]:
    with running_app(create_app) as app:
        yield app


@pytest.fixture
def inv_client(invitations_app) -> FlaskClient:
    return invitations_app.test_client()


class Deliverer:
    """Hands ``event.*`` records to the service's handlers through ConsumerRunner."""

    def __init__(self, app: Flask) -> None:
        rt = app.extensions["mlp"]
        self.runner = ConsumerRunner(
            group="invitations",
            subscriptions=subscriptions,
            client=rt.client,
            db=rt.db,
            outbox=rt.outbox,
            consumer_factory=lambda: None,
            producer_factory=lambda: None,
            max_attempts=1,
        )
        self.runner.ensure_indexes()
        self.offset = 0

    def __call__(self, topic: str, data: dict[str, Any], ce_id: str | None = None) -> str:
        ce_id = ce_id or str(uuid.uuid4())
        wire = encode(
            ce_id=ce_id,
            topic=topic,
            source="/mlp/events",
            subject=data["event_id"],
            key=data["event_id"],
            time=datetime.now(UTC),
            data=data,
            trace=fresh_context(),
        )
        self.offset += 1
        record = ConsumerRecord(
            topic,
            0,
            None,
            self.offset,
            0,
            0,
            wire.key,
            wire.value,
            wire.headers,
            None,
            0,
            0,
            0,
        )
        self.runner.handle_record(record)
        return ce_id


@pytest.fixture
def deliver(invitations_app) -> Deliverer:
    return Deliverer(invitations_app)


def event_payload(event_id: str | None = None, version: int = 2, **overrides: Any) -> dict:
    """An ``event.*`` payload as the events service writes it (published by default)."""
    body = event_body()
    body["registration_deadline"] = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    body.update(
        {
            "event_id": event_id or str(uuid.uuid4()),
            "status": "published",
            "version": version,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
    )
    body.update(overrides)
    return body


@pytest.fixture
def published_event(deliver) -> Any:
    """Make a published event known to the service; returns a factory."""

    def make(**overrides: Any) -> dict[str, Any]:
        payload = event_payload(**overrides)
        deliver("event.published", payload)
        return payload

    return make


def invitee(n: int = 0, **overrides: Any) -> dict[str, Any]:
    body = {
        "email": f"Official.{n}@Gov.example.eu",
        "name": f"Official {n}",
        "country": "LV",
        "organisation": "Ministry of Welfare",
        "role": "government_official",
        "language": "en",
    }
    body.update(overrides)
    return body


def issued_links(app: Flask, event_id: str) -> dict[str, str]:
    """invitation id -> RSVP link, from the outbox (what the internal topic will carry)."""
    outbox = app.extensions["mlp"].db.outbox
    links: dict[str, str] = {}
    for record in outbox.find(
        {"topic": "internal.invitation.issued", "key": event_id}, sort=[("_id", 1)]
    ):
        links[record["payload"]["invitation_id"]] = record["payload"]["rsvp_url"]
    return links


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]

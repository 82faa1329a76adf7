"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import contextlib
import importlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from shared.auth import mint_token
from shared.config import Settings
from shared.consumer import ConsumerRunner, Subscriptions
from shared.context import fresh_context
from shared.envelope import encode

JWT_SECRET = "test-secret-with-at-least-32-bytes!!"


def token(*roles: str, country: str | None = None, email: str | None = None) -> str:
    sub = f"user-{uuid.uuid4().hex[:8]}"
    return mint_token(JWT_SECRET, sub, roles, email=email, country=country)


def auth(*roles: str, country: str | None = None, email: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*roles, country=country, email=email)}"}


SECRETARIAT = {"role": "secretariat"}


def service_env(service: str, kafka_bootstrap: str, mongo_uri: str) -> dict[str, str]:
    """MLP_ variables pointing a service at the test servers, with a database of its own."""
    return {
        "MLP_ENV": "test",
        "MLP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "MLP_MONGO_URI": mongo_uri,
        f"MLP_{service.upper()}_DB": f"test_{service}_{uuid.uuid4().hex[:10]}",
        "MLP_JWT_SECRET": JWT_SECRET,
        "MLP_LOG_LEVEL": "WARNING",
        f"MLP_{service.upper()}_WORKER_METRICS_PORT": "0",
    }


def service_settings(service: str, env: dict[str, str]) -> Settings:
    """The settings ``service``'s own ``config.load_settings`` reads from ``env``
    (a mapping of ``MLP_`` variables; the process environment is not touched)."""
    return importlib.import_module(f"services.{service}.config").load_settings(env)


@contextlib.contextmanager
def running_app(create_app: Callable[[Any], Flask], settings: Settings) -> Iterator[Flask]:
    """A service's app on the test servers; its database is dropped afterwards."""
    app = create_app(settings)
    try:
        yield app
    finally:
        ctx = app.extensions["mlp"]
        ctx.client.drop_database(ctx.db.name)
        ctx.client.close()


def partner_consumer(bootstrap: str, *topics: str) -> KafkaConsumer:
    """A plain kafka-python consumer reading ``topics`` from their current ends.

    It assigns itself every partition rather than joining a group: a group member
    whose heartbeats starve on a busy machine is evicted, and on rejoining without
    committed offsets it would start again from "latest", skipping records.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions: list[TopicPartition] = []
    deadline = time.monotonic() + 30
    for topic in topics:
        while (found := consumer.partitions_for_topic(topic)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {topic} has no partitions on {bootstrap}")
            time.sleep(0.1)
        partitions += [TopicPartition(topic, p) for p in sorted(found)]
    consumer.assign(partitions)
    consumer.seek_to_end(*partitions)
    for tp in partitions:
        consumer.position(tp)  # resolve the end now, not at the first fetch
    return consumer


def collect(
    consumer: KafkaConsumer,
    until: Callable[[list[Any]], bool],
    timeout_s: float = 30.0,
) -> list[Any]:
    """Poll ``consumer`` until ``until(records)`` holds or the time is up."""
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not until(records):
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
    return records


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers or []:
        if key == name:
            return value.decode()
    return None


def ce_ids(records: Iterable[Any]) -> list[str]:
    return [header(r, "ce_id") or "" for r in records]


def event_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Skills forecasting: Estonia's OSKA system",
        "summary": "How OSKA anticipates labour and skills needs.",
        "format": "peer_review",
        "programme": "employment",
        "host_country": "EE",
        "guest_countries": ["LV", "FI", "PT"],
        "starts_on": "2027-03-10",
        "ends_on": "2027-03-11",
        "timezone": "Europe/Tallinn",
        "venue": {"city": "Tallinn", "country": "EE", "online": False},
        "languages": ["en", "et"],
        "capacity": 40,
        "registration_deadline": "2027-02-20T17:00:00+02:00",
        "visibility": "public",
        "tags": ["skills", "forecasting"],
    }
    body.update(overrides)
    return body


class RecordDeliverer:
    """Hands records to a service's handlers through its real :class:`ConsumerRunner`
    (payload schema, idempotency row, transaction), without a broker round trip."""

    def __init__(self, app: Flask, subscriptions: Subscriptions, source: str) -> None:
        ctx = app.extensions["mlp"]
        self.source = source
        self.runner = ConsumerRunner(
            group=ctx.settings.service,
            subscriptions=subscriptions,
            ctx=ctx,
            consumer_factory=lambda: None,
            producer_factory=lambda: None,
            max_attempts=1,
        )
        self.runner.ensure_indexes()
        self.offset = 0

    def __call__(self, topic: str, data: dict[str, Any], ce_id: str | None = None) -> str:
        ce_id = ce_id or str(uuid.uuid4())
        key = str(data.get("event_id"))
        wire = encode(
            ce_id=ce_id,
            topic=topic,
            source=self.source,
            subject=key,
            key=key,
            time=datetime.now(UTC),
            data=data,
            trace=fresh_context(),
        )
        self.offset += 1
        record = ConsumerRecord(
            topic, 0, None, self.offset, 0, 0, wire.key, wire.value, wire.headers, None, 0, 0, 0
        )
        self.runner.handle_record(record)
        return ce_id


def event_payload(
    event_id: str | None = None, version: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid ``event.*`` payload as the events service publishes it (published)."""
    body: dict[str, Any] = {
        **event_body(),
        "event_id": event_id or str(uuid.uuid4()),
        "status": "published",
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body.update(overrides)
    return body


def status_payload(
    event_id: str, invitation_id: str, status: str, version: int, **overrides: Any
) -> dict[str, Any]:
    """A valid ``invitation.*`` payload."""
    return {
        "invitation_id": invitation_id,
        "event_id": event_id,
        "country": "LV",
        "role": "government_official",
        "status": status,
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def issued_payload(
    event_id: str, invitation_id: str, email: str, version: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid ``internal.invitation.issued`` payload."""
    return {
        "invitation_id": invitation_id,
        "event_id": event_id,
        "version": version,
        "email": email,
        "name": "Kadri Tamm",
        "language": "en",
        "country": "EE",
        "organisation": "Ministry of Social Affairs",
        "role": "government_official",
        "rsvp_url": f"http://127.0.0.1:8002/v1/rsvp/tok-{invitation_id}",
        "registration_deadline": "2027-02-20T17:00:00+02:00",
        "resend": False,
        "event": {
            "title": "Skills forecasting: Estonia's OSKA system",
            "format": "peer_review",
            "starts_on": "2027-03-10",
            "ends_on": "2027-03-11",
            "timezone": "Europe/Tallinn",
            "venue": {"city": "Tallinn", "country": "EE", "online": False},
        },
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }

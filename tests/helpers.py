"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask
from kafka import KafkaConsumer, TopicPartition

from shared.auth import mint_token
from shared.config import Settings, load_settings

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


def settings_for(service: str, env: dict[str, str], monkeypatch: Any) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(service)


@contextlib.contextmanager
def running_app(create_app: Callable[[], Flask]) -> Iterator[Flask]:
    """A service's app on the test servers; its database is dropped afterwards."""
    app = create_app()
    try:
        yield app
    finally:
        runtime = app.extensions["mlp"]
        runtime.client.drop_database(runtime.db.name)
        runtime.client.close()


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

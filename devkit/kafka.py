"""Kafka as the tests and benchmarks see it: records in the shared envelope
(personal fields sealed, as the real producers seal them), a producer that
plays the other services on their topics, and a partner's plain kafka-python
consumer with helpers to read what it received (:func:`payload_of` opens)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from shared.context import fresh_context
from shared.envelope import KafkaRecord, encode
from shared.sealing import DEVELOPMENT_KEYS, KEY_ID_HEADER, KeyRing, open_payload, seal_payload
from shared.topics import TOPIC_BY_NAME, producer_source, source_of


def wire_record(
    topic: str,
    data: dict[str, Any],
    *,
    key: str,
    subject: str | None = None,
    ce_id: str | None = None,
    source: str | None = None,
    keys: KeyRing = DEVELOPMENT_KEYS,
) -> KafkaRecord:
    """``data`` (a valid payload of ``topic``) in the envelope, as the topic's
    producer would send it: ``source`` is ``/mlp/<producer>`` unless given,
    ``subject`` is ``key`` and ``ce_id`` a fresh one unless given, personal
    fields sealed with ``keys`` (the development key unless given)."""
    if source is None:
        known = TOPIC_BY_NAME.get(topic)
        source = producer_source(topic) if known else source_of("devkit")
    ce_id = ce_id or str(uuid.uuid4())
    wire, key_id = seal_payload(keys, topic=topic, ce_id=ce_id, payload=data)
    return encode(
        ce_id=ce_id,
        topic=topic,
        source=source,
        subject=subject or key,
        key=key,
        time=datetime.now(UTC),
        data=wire,
        trace=fresh_context(),
        headers=[] if key_id is None else [(KEY_ID_HEADER, key_id.encode())],
    )


def payload_of(record: Any, keys: KeyRing = DEVELOPMENT_KEYS) -> dict[str, Any]:
    """A received record's payload as its consumers see it: sealed fields opened."""
    return open_payload(
        keys,
        topic=record.topic,
        ce_id=header(record, "ce_id") or "",
        data=json.loads(record.value),
        key_id=header(record, KEY_ID_HEADER),
    )


class Producer:
    """Plays the other services on their topics: produces valid payloads in the
    envelope, each acknowledged by the broker before :meth:`send` returns."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)

    def send(
        self,
        topic: str,
        data: dict[str, Any],
        *,
        key: str,
        subject: str | None = None,
        ce_id: str | None = None,
    ) -> str:
        """Produce ``data`` from the topic's producer, personal fields sealed
        with the development key (see :func:`wire_record`); returns its ce_id."""
        ce_id = ce_id or str(uuid.uuid4())
        wire = wire_record(topic, data, key=key, subject=subject, ce_id=ce_id)
        self.producer.send(topic, key=wire.key, value=wire.value, headers=wire.headers).get(
            timeout=15
        )
        return ce_id

    def close(self) -> None:
        self.producer.close(timeout=5)


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
    """The header ``name`` of a received (or built) record, decoded."""
    for key, value in record.headers or []:
        if key == name:
            return value.decode()
    return None


def ce_ids(records: Iterable[Any]) -> list[str]:
    return [header(r, "ce_id") or "" for r in records]


def dead_letter_headers(
    ce_id: str,
    original: str,
    error: str,
    *,
    partition: int = 1,
    offset: int = 42,
    correlation_id: str | None = None,
) -> list[tuple[str, bytes]]:
    """The headers of a record the events consumer dead-lettered from ``original``
    (as :class:`shared.consumer.ConsumerRunner` writes them), for tests that put
    dead letters on ``dlq.events`` themselves."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce_id.encode()),
        ("ce_type", original.encode()),
        ("ce_source", b"/mlp/invitations"),
    ]
    if correlation_id:
        headers.append(("ce_correlationid", correlation_id.encode()))
    return headers + [
        ("dlq_original_topic", original.encode()),
        ("dlq_original_partition", str(partition).encode()),
        ("dlq_original_offset", str(offset).encode()),
        ("dlq_consumer_group", b"events"),
        ("dlq_attempts", b"4"),
        ("dlq_error", error.encode()),
        ("dlq_time", datetime.now(UTC).isoformat().encode()),
    ]

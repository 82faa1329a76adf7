"""The consumer runner: handlers are plain functions named for what they react
to, registered per topic with :meth:`Subscriptions.handler`.

Each record's payload is loaded through its topic's published schema (the
catalogue names it) before the handler runs; the handler receives a
:class:`Message` whose ``payload`` is the schema's typed model, the service's
:class:`~shared.service.ServiceContext` and the open transaction. A payload
that breaks its schema is dead-lettered with the schema's error, like any
record that cannot be decoded, a record whose ``ce_source`` is not its topic's
producer (:func:`shared.topics.producer_source`), and one whose sealed personal
fields do not open (:mod:`shared.sealing`: they are opened before loading).

Each record is handled in one MongoDB transaction together with its
idempotency record (unique per consumer group and ``ce_id``), so a redelivery
changes nothing; the offset is committed only after that transaction commits.
A record whose handler keeps failing goes, after bounded retries with backoff,
to the group's dead-letter topic with the original topic, partition, offset and
error in its headers, and the consumer goes on. Infrastructure outages (MongoDB
or Kafka unreachable) are not the record's fault: the runner waits and retries
the same record without counting attempts, and a poll that Kafka refuses is
polled again after a pause (the loop, and with it the worker, goes on).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from marshmallow import Schema, ValidationError
from prometheus_client import Counter, Gauge, Histogram
from pymongo import ASCENDING
from pymongo.client_session import ClientSession
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from shared.context import set_context
from shared.envelope import Envelope, MalformedRecord, decode
from shared.payloads import load_payload
from shared.sealing import KEY_ID_HEADER, SealingError, open_payload, personal_values, redact
from shared.service import ServiceContext
from shared.topics import dead_letter_topic, from_producer, payload_schema, producer_source

log = logging.getLogger(__name__)

HANDLED = Counter("mlp_consumer_records_total", "Consumed records by outcome", ["topic", "outcome"])
HANDLE_SECONDS = Histogram("mlp_consumer_handle_seconds", "Time to handle one record", ["topic"])
PROCESSED_RETENTION_S = 30 * 24 * 3600
LAG = Gauge("mlp_consumer_lag", "Records not yet consumed", ["topic", "partition"])
# Between polls that Kafka refused: short at first, a few seconds at most.
OUTAGE_BACKOFF_S = 0.5
OUTAGE_BACKOFF_MAX_S = 5.0


P = TypeVar("P")


@dataclass(frozen=True)
class Message(Generic[P]):
    """A consumed record: its CloudEvents ``envelope`` (id, type, key, time, the raw
    ``data`` as it came, personal fields still sealed) and its ``payload``, opened
    and loaded through the topic's published schema."""

    envelope: Envelope
    payload: P


Handler = Callable[[Message[Any], ServiceContext, ClientSession], None]
"""A handler gets the message, the service's context and the open transaction:
every write must pass the session so that it commits with the idempotency
record; announcements go through ``ctx.outbox`` in the same transaction."""


@dataclass(frozen=True)
class Subscription:
    handler: Handler
    schema: Schema


class Subscriptions:
    """The topics one service consumes and the function that handles each."""

    def __init__(self) -> None:
        self.by_topic: dict[str, Subscription] = {}

    def handler(self, *topics: str) -> Callable[[Handler], Handler]:
        """Register the decorated function for ``topics``; their payloads are
        loaded through the schemas the catalogue names for them."""

        def register(func: Handler) -> Handler:
            for topic in topics:
                if topic in self.by_topic:
                    raise ValueError(f"{topic} already has a handler")
                self.by_topic[topic] = Subscription(func, payload_schema(topic)())
            return func

        return register

    @property
    def topics(self) -> list[str]:
        return sorted(self.by_topic)


class _AlreadyProcessed(Exception):
    """Raised inside the transaction to abort it when the record was seen before."""


def _is_transient(exc: BaseException) -> bool:
    """True for outages of MongoDB or Kafka, which are never the record's fault."""
    if isinstance(exc, ConnectionFailure | KafkaError):
        return True
    return isinstance(exc, OperationFailure) and exc.has_error_label("TransientTransactionError")


class ConsumerRunner:
    """Runs a service's :class:`Subscriptions` against Kafka until stopped."""

    def __init__(
        self,
        *,
        group: str,
        subscriptions: Subscriptions,
        ctx: ServiceContext,
        consumer_factory: Callable[[], KafkaConsumer],
        producer_factory: Callable[[], KafkaProducer],
        max_attempts: int = 4,
        backoff_s: float = 0.2,
        stop: threading.Event | None = None,
    ) -> None:
        self.group = group
        self.subscriptions = subscriptions
        self.ctx = ctx
        self.processed = ctx.db["processed_records"]
        self.consumer_factory = consumer_factory
        self.producer_factory = producer_factory
        self.producer: KafkaProducer | None = None
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.stop = stop or threading.Event()

    def ensure_indexes(self) -> None:
        self.processed.create_index(
            [("group", ASCENDING), ("ce_id", ASCENDING)], unique=True, name="group_ce_id"
        )
        # Far beyond Kafka's retention: no record can come again after that.
        self.processed.create_index("processed_at", expireAfterSeconds=PROCESSED_RETENTION_S)

    def run(self) -> None:
        """Poll, handle, commit; on stop finish the record in hand, commit, close."""
        consumer = self.consumer_factory()
        backoff = OUTAGE_BACKOFF_S
        try:
            while not self.stop.is_set():
                try:
                    batches = consumer.poll(timeout_ms=500)
                except KafkaError as exc:
                    # kafka-python's poll raises some outages (a coordinator lookup
                    # whose metadata refresh is refused) instead of retrying them:
                    # the same consumer recovers once the broker is back.
                    if not exc.retriable:
                        raise
                    log.warning("Kafka unreachable; polling again", extra={"error": str(exc)})
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, OUTAGE_BACKOFF_MAX_S)
                    continue
                backoff = OUTAGE_BACKOFF_S
                for tp, records in batches.items():
                    if not self._handle_partition(consumer, tp, records):
                        break
                _record_lag(consumer)
        finally:
            consumer.close(autocommit=False, timeout_ms=2000)
            if self.producer is not None:
                self.producer.close(timeout=2)

    def _handle_partition(
        self, consumer: KafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> bool:
        """Handle ``records`` of one partition and commit; False when stopping early."""
        next_offset = None
        try:
            for record in records:
                if self.stop.is_set():
                    break
                self.handle_record(record)
                next_offset = record.offset + 1
        except _Outage as outage:
            log.warning("outage; will retry from the same record", extra={"error": str(outage)})
            consumer.seek(tp, outage.offset)
            self.stop.wait(1.0)
        if next_offset is not None:
            try:
                consumer.commit({tp: OffsetAndMetadata(next_offset, "", -1)})
            except KafkaError as exc:
                # A rebalance or an outage: the records come again and are skipped by ce_id.
                log.warning("offset commit failed", extra={"error": str(exc)})
        return not self.stop.is_set()

    def handle_record(self, record: ConsumerRecord) -> None:
        """Handle one record: skip a duplicate, retry failures, dead-letter a poison."""
        topic = record.topic
        try:
            envelope = decode(record.key, record.value, list(record.headers or []))
        except MalformedRecord as exc:
            self._dead_letter(record, exc, attempts=0)
            return
        subscription = self.subscriptions.by_topic.get(topic)
        if subscription is None:  # subscribed by pattern or configuration drift
            self._dead_letter(record, LookupError(f"no handler for {topic}"), attempts=0)
            return
        if not from_producer(topic, envelope.source):
            self._dead_letter(record, ForeignSource(envelope.source, topic), attempts=0)
            return
        try:
            data = open_payload(
                self.ctx.settings.internal_topic_keys,
                topic=topic,
                ce_id=envelope.id,
                data=envelope.data,
                key_id=_header(record, KEY_ID_HEADER),
            )
        except SealingError as exc:
            self._dead_letter(record, exc, attempts=0)
            return
        secrets = personal_values(topic, data)
        try:
            message = Message(envelope, load_payload(subscription.schema, data))
        except ValidationError as exc:
            self._dead_letter(record, PayloadRefused(exc.messages), attempts=0, redacted=secrets)
            return
        set_context(envelope.trace())
        try:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    with HANDLE_SECONDS.labels(topic).time():
                        outcome = self._apply(message, subscription.handler, record)
                    HANDLED.labels(topic, outcome).inc()
                    return
                except _AlreadyProcessed:
                    HANDLED.labels(topic, "duplicate").inc()
                    return
                except Exception as exc:
                    if _is_transient(exc):
                        raise _Outage(record.offset, exc) from exc
                    log.warning(
                        "handler failed",
                        extra={"topic": topic, "ce_id": envelope.id, "attempt": attempt},
                        exc_info=True,
                    )
                    if attempt == self.max_attempts:
                        self._dead_letter(record, exc, attempts=attempt, redacted=secrets)
                        return
                    self.stop.wait(self.backoff_s * 2 ** (attempt - 1))
        finally:
            set_context(None)

    def _apply(self, message: Message[Any], handler: Handler, record: ConsumerRecord) -> str:
        def work(session: ClientSession) -> str:
            try:
                self.processed.insert_one(
                    {
                        "group": self.group,
                        "ce_id": message.envelope.id,
                        "topic": record.topic,
                        "partition": record.partition,
                        "offset": record.offset,
                        "processed_at": datetime.now(UTC),
                    },
                    session=session,
                )
            except DuplicateKeyError as exc:
                raise _AlreadyProcessed() from exc
            handler(message, self.ctx, session)
            return "handled"

        return self.ctx.transaction(work)

    def _dead_letter(
        self,
        record: ConsumerRecord,
        error: BaseException,
        attempts: int,
        redacted: list[str] | None = None,
    ) -> None:
        """Send ``record`` as it came (still sealed) to the dead-letter topic, with
        why in its headers; the ``redacted`` personal values never reach them."""
        if self.producer is None:
            self.producer = self.producer_factory()
        reason = redact(f"{type(error).__name__}: {error}", redacted or [])
        headers = [
            *list(record.headers or []),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_error", reason[:1000].encode()),
            ("dlq_time", datetime.now(UTC).isoformat().encode()),
        ]
        try:
            self.producer.send(
                dead_letter_topic(self.group), key=record.key, value=record.value, headers=headers
            ).get(timeout=15)
        except KafkaError as exc:
            raise _Outage(record.offset, exc) from exc
        HANDLED.labels(record.topic, "dead_lettered").inc()
        log.error(
            "record dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "error": reason},
        )


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or []:
        if key == name:
            return value.decode(errors="replace")
    return None


def _record_lag(consumer: KafkaConsumer) -> None:
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - consumer.position(tp)))


class PayloadRefused(ValueError):
    """The payload breaks its topic's published schema: ``errors`` says where."""

    def __init__(self, errors: Any) -> None:
        super().__init__(f"the payload does not match its schema: {errors}")
        self.errors = errors


class ForeignSource(ValueError):
    """The record claims a ``ce_source`` other than its topic's producer."""

    def __init__(self, source: str, topic: str) -> None:
        super().__init__(
            f"ce_source {source!r} is not {producer_source(topic)!r}, the producer of {topic}"
        )


class _Outage(Exception):
    """MongoDB or Kafka is away; handling resumes at ``offset`` once it is back."""

    def __init__(self, offset: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.offset = offset

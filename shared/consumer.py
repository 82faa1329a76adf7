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

The records a poll returns for one partition are handled in batches (at most
:data:`BATCH_MAX_RECORDS` records and :data:`BATCH_MAX_BYTES` of values, cut
at a record that is dead-lettered before it runs): one MongoDB transaction
inserts the batch's idempotency records (unique per consumer group and
``ce_id``) with one ordered ``insert_many`` and runs each handler in order with
the same session, so a database round trip per record becomes one per batch.
When that transaction meets a duplicate or a handler raises, it is aborted
and the batch is handled record by record, each record in a transaction of its
own with its idempotency record, exactly as a batch of one is: a redelivery
changes nothing, a poison does not hold back its neighbours. The offset is
committed only after the transactions commit. A record whose handler keeps
failing goes, after bounded retries with backoff, to the group's dead-letter
topic with the original topic, partition, offset and error in its headers, and
the consumer goes on. Infrastructure outages (MongoDB or Kafka unreachable)
are not the record's fault: the runner waits and retries from the first record
not yet handled without counting attempts (the records of a batch that met one
go one by one then, so a batch too slow for the server's transaction time
limit cannot be retried for ever), and a poll that Kafka refuses is polled
again after a pause (the loop, and with it the worker, goes on).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from marshmallow import Schema, ValidationError
from opentelemetry.trace import Span, SpanKind
from prometheus_client import Counter, Gauge, Histogram
from pymongo import ASCENDING
from pymongo.client_session import ClientSession
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, OperationFailure

from shared.context import set_context
from shared.envelope import Envelope, MalformedRecord, decode
from shared.payloads import load_payload
from shared.sealing import KEY_ID_HEADER, SealingError, open_payload, personal_values, redact
from shared.service import ServiceContext
from shared.topics import dead_letter_topic, from_producer, payload_schema, producer_source
from shared.tracing import continued, fail, span

log = logging.getLogger(__name__)

HANDLED = Counter("mlp_consumer_records_total", "Consumed records by outcome", ["topic", "outcome"])
HANDLE_SECONDS = Histogram("mlp_consumer_handle_seconds", "Time to handle one record", ["topic"])
PROCESSED_RETENTION_S = 30 * 24 * 3600
LAG = Gauge("mlp_consumer_lag", "Records not yet consumed", ["topic", "partition"])
# Between polls that Kafka refused: short at first, a few seconds at most.
OUTAGE_BACKOFF_S = 0.5
OUTAGE_BACKOFF_MAX_S = 5.0
# A batch (one transaction) stays small: a few hundred writes, a few MiB at most.
BATCH_MAX_RECORDS = 100
BATCH_MAX_BYTES = 1 << 20  # of record values
DUPLICATE_KEY = 11000


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
record; announcements go through ``ctx.outbox`` in the same transaction. Every
read must pass it too: the transaction may hold the writes of the records
before this one in its batch, which only the session sees."""


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


@dataclass(frozen=True)
class _Ready:
    """A record decoded, opened and loaded: all its handler needs."""

    record: ConsumerRecord
    message: Message[Any]
    handler: Handler
    secrets: list[str]


@dataclass(frozen=True)
class _Refused:
    """A record dead-lettered before any handler runs (not retried)."""

    record: ConsumerRecord
    error: BaseException
    secrets: list[str]


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
        batch_max_records: int = BATCH_MAX_RECORDS,
        batch_max_bytes: int = BATCH_MAX_BYTES,
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
        self.batch_max_records = batch_max_records
        self.batch_max_bytes = batch_max_bytes
        # After a batch met an outage its records go one by one (up to this offset,
        # per partition): a batch too slow for the server's transaction limit
        # would otherwise be aborted and retried for ever.
        self.one_by_one_until: dict[tuple[str, int], int] = {}

    def ensure_indexes(self) -> None:
        self.processed.create_index(
            [("group", ASCENDING), ("ce_id", ASCENDING)], unique=True, name="group_ce_id"
        )
        # Far beyond Kafka's retention: no record can come again after that.
        self.processed.create_index("processed_at", expireAfterSeconds=PROCESSED_RETENTION_S)

    def run(self) -> None:
        """Poll, handle, commit; on stop finish the batch in hand, commit, close."""
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
        """Handle ``records`` of one partition in batches and commit; False when stopping early."""
        next_offset = None
        try:
            for item in self._batches(records):
                if self.stop.is_set():
                    break
                if isinstance(item, _Refused):
                    self._dead_letter(item.record, item.error, attempts=0, redacted=item.secrets)
                    next_offset = item.record.offset + 1
                elif len(item) > 1 and self._apply_batch(item):
                    next_offset = item[-1].record.offset + 1
                else:  # a batch of one, or one that met a duplicate or a failure
                    for ready in item:
                        if self.stop.is_set():
                            break
                        self._handle_ready(ready)
                        next_offset = ready.record.offset + 1
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

    def _batches(self, records: list[ConsumerRecord]) -> Iterator[list[_Ready] | _Refused]:
        """``records`` in order as runs of ready records within the bounds, each run
        cut where a record is refused (yielded on its own, after the run before it);
        the records of a batch that met an outage come in runs of one."""
        run: list[_Ready] = []
        size = 0
        for record in records:
            item = self._prepare(record)
            if isinstance(item, _Refused):
                if run:
                    yield run
                run, size = [], 0
                yield item
                continue
            if record.offset <= self.one_by_one_until.get((record.topic, record.partition), -1):
                if run:
                    yield run
                run, size = [], 0
                yield [item]
                continue
            value_size = len(record.value or b"")
            if run and (
                len(run) >= self.batch_max_records or size + value_size > self.batch_max_bytes
            ):
                yield run
                run, size = [], 0
            run.append(item)
            size += value_size
        if run:
            yield run

    def handle_record(self, record: ConsumerRecord) -> None:
        """Handle one record: skip a duplicate, retry failures, dead-letter a poison."""
        item = self._prepare(record)
        if isinstance(item, _Refused):
            self._dead_letter(record, item.error, attempts=0, redacted=item.secrets)
        else:
            self._handle_ready(item)

    def _prepare(self, record: ConsumerRecord) -> _Ready | _Refused:
        """Decode, check the source, open and load ``record``; what fails is refused."""
        topic = record.topic
        try:
            envelope = decode(record.key, record.value, list(record.headers or []))
        except MalformedRecord as exc:
            return _Refused(record, exc, [])
        subscription = self.subscriptions.by_topic.get(topic)
        if subscription is None:  # subscribed by pattern or configuration drift
            return _Refused(record, LookupError(f"no handler for {topic}"), [])
        if not from_producer(topic, envelope.source):
            return _Refused(record, ForeignSource(envelope.source, topic), [])
        try:
            data = open_payload(
                self.ctx.settings.internal_topic_keys,
                topic=topic,
                ce_id=envelope.id,
                data=envelope.data,
                key_id=_header(record, KEY_ID_HEADER),
            )
        except SealingError as exc:
            return _Refused(record, exc, [])
        secrets = personal_values(topic, data)
        try:
            message = Message(envelope, load_payload(subscription.schema, data))
        except ValidationError as exc:
            return _Refused(record, PayloadRefused(exc.messages), secrets)
        return _Ready(record, message, subscription.handler, secrets)

    def _handle_ready(self, ready: _Ready) -> None:
        """Handle one record in its own transaction, with retries and the dead letter."""
        record, envelope, topic = ready.record, ready.message.envelope, ready.record.topic
        with _processing(ready) as current:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    with HANDLE_SECONDS.labels(topic).time():
                        outcome = self._apply(ready)
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
                        fail(current, exc)
                        self._dead_letter(record, exc, attempts=attempt, redacted=ready.secrets)
                        return
                    self.stop.wait(self.backoff_s * 2 ** (attempt - 1))

    def _apply(self, ready: _Ready) -> str:
        def work(session: ClientSession) -> str:
            try:
                self.processed.insert_one(self._processed_row(ready), session=session)
            except DuplicateKeyError as exc:
                raise _AlreadyProcessed() from exc
            ready.handler(ready.message, self.ctx, session)
            return "handled"

        return self.ctx.transaction(work)

    def _apply_batch(self, batch: list[_Ready]) -> bool:
        """Handle ``batch`` in one transaction; False (nothing written) when it met a
        duplicate or a handler raised, so that the caller goes record by record."""

        def work(session: ClientSession) -> None:
            try:
                self.processed.insert_many(
                    [self._processed_row(ready) for ready in batch], ordered=True, session=session
                )
            except BulkWriteError as exc:
                if any(e.get("code") == DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise _AlreadyProcessed() from exc
                raise
            for ready in batch:
                with _processing(ready):
                    ready.handler(ready.message, self.ctx, session)

        started = time.perf_counter()
        try:
            self.ctx.transaction(work)
        except _AlreadyProcessed:
            log.info("batch holds a duplicate; record by record", extra={"records": len(batch)})
            return False
        except Exception as exc:
            if _is_transient(exc):
                last = batch[-1].record
                self.one_by_one_until[(last.topic, last.partition)] = last.offset
                raise _Outage(batch[0].record.offset, exc) from exc
            log.info(
                "batch failed; record by record",
                extra={"records": len(batch), "error": f"{type(exc).__name__}: {exc}"},
            )
            return False
        share = (time.perf_counter() - started) / len(batch)
        for ready in batch:
            HANDLE_SECONDS.labels(ready.record.topic).observe(share)
            HANDLED.labels(ready.record.topic, "handled").inc()
        return True

    def _processed_row(self, ready: _Ready) -> dict[str, Any]:
        """The idempotency record of ``ready``: unique per group and ``ce_id``."""
        record = ready.record
        return {
            "group": self.group,
            "ce_id": ready.message.envelope.id,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "processed_at": datetime.now(UTC),
        }

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


@contextmanager
def _processing(ready: _Ready) -> Iterator[Span]:
    """The record's CONSUMER span (its parent: the traceparent the record came
    with, the producer's span), and the record's trace context for the handler,
    its logs and its announcements, while the block handles it."""
    envelope = ready.message.envelope
    with span(
        f"{ready.record.topic} process",
        kind=SpanKind.CONSUMER,
        parent=envelope.traceparent,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": ready.record.topic,
            "messaging.destination.partition.id": str(ready.record.partition),
            "messaging.kafka.offset": ready.record.offset,
            "messaging.message.id": envelope.id,
        },
    ) as current:
        set_context(continued(envelope.trace(), current))
        try:
            yield current
        finally:
            set_context(None)


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or []:
        if key == name:
            return value.decode(errors="replace")
    return None


def _record_lag(consumer: KafkaConsumer) -> None:
    """Set the lag gauge of each assigned partition whose position is known now.
    Only a gauge: a partition whose leader is moving (its broker just died, and
    asking raises ``UnknownBrokerIdError``) is left for the next round instead
    of stopping the consumer, as the fault campaign saw it do."""
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        try:
            position = consumer.position(tp, timeout_ms=0)
        except KafkaError:
            continue
        if position is not None:
            LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))


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

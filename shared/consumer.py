"""The consumer runner: handlers are plain functions named for what they react
to, registered per topic with :meth:`Subscriptions.handler`.

Each record is handled in one MongoDB transaction together with its
idempotency record (unique per consumer group and ``ce_id``), so a redelivery
changes nothing; the offset is committed only after that transaction commits.
A record whose handler keeps failing goes, after bounded retries with backoff,
to the group's dead-letter topic with the original topic, partition, offset and
error in its headers, and the consumer goes on. Infrastructure outages (MongoDB
or Kafka unreachable) are not the record's fault: the runner waits and retries
the same record without counting attempts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Gauge, Histogram
from pymongo import ASCENDING, MongoClient
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from shared.context import set_context
from shared.envelope import Envelope, MalformedRecord, decode
from shared.mongo import in_transaction
from shared.outbox import Outbox
from shared.topics import dead_letter_topic, require_topic

log = logging.getLogger(__name__)

HANDLED = Counter("mlp_consumer_records_total", "Consumed records by outcome", ["topic", "outcome"])
HANDLE_SECONDS = Histogram("mlp_consumer_handle_seconds", "Time to handle one record", ["topic"])
PROCESSED_RETENTION_S = 30 * 24 * 3600
LAG = Gauge("mlp_consumer_lag", "Records not yet consumed", ["topic", "partition"])


@dataclass
class HandlerContext:
    """What a handler may use: the service database and the open transaction.

    Every write must pass ``session`` so that it commits with the idempotency
    record; announcements go through ``outbox`` in the same transaction.
    """

    db: Database
    session: ClientSession
    outbox: Outbox


Handler = Callable[[Envelope, HandlerContext], None]


class Subscriptions:
    """The topics one service consumes and the function that handles each."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def handler(self, *topics: str) -> Callable[[Handler], Handler]:
        """Register the decorated function for ``topics``."""

        def register(func: Handler) -> Handler:
            for topic in topics:
                if topic in self.handlers:
                    raise ValueError(f"{topic} already has a handler")
                self.handlers[require_topic(topic)] = func
            return func

        return register

    @property
    def topics(self) -> list[str]:
        return sorted(self.handlers)


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
        client: MongoClient,
        db: Database,
        outbox: Outbox,
        consumer_factory: Callable[[], KafkaConsumer],
        producer_factory: Callable[[], KafkaProducer],
        max_attempts: int = 4,
        backoff_s: float = 0.2,
        stop: threading.Event | None = None,
    ) -> None:
        self.group = group
        self.subscriptions = subscriptions
        self.client = client
        self.db = db
        self.processed = db["processed_records"]
        self.outbox = outbox
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
        try:
            while not self.stop.is_set():
                batches = consumer.poll(timeout_ms=500)
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
        handler = self.subscriptions.handlers.get(topic)
        if handler is None:  # subscribed by pattern or configuration drift
            self._dead_letter(record, LookupError(f"no handler for {topic}"), attempts=0)
            return
        set_context(envelope.trace())
        try:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    with HANDLE_SECONDS.labels(topic).time():
                        outcome = self._apply(envelope, handler, record)
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
                        self._dead_letter(record, exc, attempts=attempt)
                        return
                    self.stop.wait(self.backoff_s * 2 ** (attempt - 1))
        finally:
            set_context(None)

    def _apply(self, envelope: Envelope, handler: Handler, record: ConsumerRecord) -> str:
        def work(session: ClientSession) -> str:
            try:
                self.processed.insert_one(
                    {
                        "group": self.group,
                        "ce_id": envelope.id,
                        "topic": record.topic,
                        "partition": record.partition,
                        "offset": record.offset,
                        "processed_at": datetime.now(UTC),
                    },
                    session=session,
                )
            except DuplicateKeyError as exc:
                raise _AlreadyProcessed() from exc
            handler(envelope, HandlerContext(db=self.db, session=session, outbox=self.outbox))
            return "handled"

        return in_transaction(self.client, work)

    def _dead_letter(self, record: ConsumerRecord, error: BaseException, attempts: int) -> None:
        """Send ``record`` as it came to the dead-letter topic, with why in its headers."""
        if self.producer is None:
            self.producer = self.producer_factory()
        headers = [
            *list(record.headers or []),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_error", f"{type(error).__name__}: {error}"[:1000].encode()),
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
            extra={"topic": record.topic, "offset": record.offset, "error": str(error)},
        )


def _record_lag(consumer: KafkaConsumer) -> None:
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - consumer.position(tp)))


class _Outage(Exception):
    """MongoDB or Kafka is away; handling resumes at ``offset`` once it is back."""

    def __init__(self, offset: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.offset = offset

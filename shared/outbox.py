"""The transactional outbox and its relay.

A service announces a change by adding outbox records in the same MongoDB
transaction as the change itself (:meth:`Outbox.add`), so either both commit or
neither does. A record's personal fields are sealed as it is made
(:mod:`shared.sealing`): they rest in the outbox collection as they travel.
The worker's :class:`OutboxRelay` publishes pending records to Kafka with the
idempotent producer, in order per key, and deletes each once Kafka acknowledged
it.
Kafka being down leaves a backlog, never a lost event; a relay killed between
publishing and deleting publishes again, and consumers drop the duplicate by
``ce_id``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
from kafka import KafkaProducer
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge
from pymongo import ASCENDING, DeleteOne
from pymongo.change_stream import ChangeStream
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import PyMongoError

from shared.context import TraceContext, current_context
from shared.envelope import encode
from shared.leases import Lease
from shared.sealing import KEY_ID_HEADER, KeyRing, seal_payload
from shared.topics import require_topic
from shared.tracing import fail, start_span, traceparent_of

log = logging.getLogger(__name__)

PUBLISHED = Counter("mlp_outbox_published_total", "Outbox records published to Kafka", ["topic"])
BACKLOG = Gauge("mlp_outbox_backlog", "Outbox records waiting to be published")
OLDEST_AGE = Gauge(
    "mlp_outbox_oldest_age_seconds", "Age of the oldest outbox record waiting to be published"
)
PUBLISH_FAILURES = Counter("mlp_outbox_publish_failures_total", "Failed outbox publish rounds")

BACKLOG_EVERY_S = 5.0


class Outbox:
    """Writes outbox records; always inside the caller's transaction.

    The collection holds only records still to publish: the relay deletes each
    once Kafka acknowledged it, so the relay's query needs no index but ``_id``.
    """

    def __init__(self, db: Database, source: str, *, keys: KeyRing) -> None:
        self.collection = db["outbox"]
        self.source = source
        self.keys = keys

    def record(
        self,
        *,
        topic: str,
        key: str,
        seq: int,
        payload: dict[str, Any],
        subject: str | None = None,
        trace: TraceContext | None = None,
    ) -> dict[str, Any]:
        """The outbox record announcing ``payload`` on ``topic``.

        ``key`` is the programme event id (the partition key), ``subject`` the
        changed resource and ``seq`` its version, which orders its records.
        The payload's personal fields are sealed here, bound to topic and
        ``ce_id``; ``key_id`` names the key (None when nothing is sealed).
        """
        trace = trace or current_context()
        ce_id = str(uuid.uuid4())
        wire, key_id = seal_payload(
            self.keys, topic=require_topic(topic), ce_id=ce_id, payload=payload
        )
        return {
            "ce_id": ce_id,
            "topic": topic,
            "key": key,
            "seq": seq,
            "subject": subject or key,
            "source": self.source,
            "time": datetime.now(UTC),
            "payload": wire,
            "key_id": key_id,
            "correlation_id": trace.correlation_id,
            "causation_id": trace.causation_id,
            "traceparent": trace.traceparent,
        }

    def add(self, session: ClientSession, **announcement: Any) -> str:
        """Record one announcement (see :meth:`record`); returns its ``ce_id``."""
        record = self.record(**announcement)
        self.collection.insert_one(record, session=session)
        return record["ce_id"]

    def add_many(self, session: ClientSession, records: list[dict[str, Any]]) -> None:
        """Insert records made with :meth:`record` in one round trip (bulk changes)."""
        if records:
            self.collection.insert_many(records, ordered=True, session=session)


class OutboxRelay:
    """Publishes pending outbox records; one active relay per service (a lease)."""

    def __init__(
        self,
        db: Database,
        producer_factory: Any,
        *,
        batch_size: int = 1000,
        stop: threading.Event | None = None,
    ) -> None:
        self.collection = db["outbox"]
        self.producer_factory = producer_factory
        self.producer: KafkaProducer | None = None
        self.batch_size = batch_size
        self.stop = stop or threading.Event()
        self.lease = Lease(db["leases"], "outbox-relay", ttl=timedelta(seconds=15))
        # Ids published lately, to skip their change-stream notices.
        self._published: _RecentIds = _RecentIds(maxlen=10 * batch_size)
        self._backlog_counted_at = 0.0

    def publish_pending(self) -> int:
        """Publish one batch of pending records in order; return how many were published.

        Records are taken in insertion order and sent grouped by key, each
        resource's records (``subject``) in ``seq`` order;
        a record is deleted only once Kafka acknowledged it, and after a failure
        nothing later of the same key is deleted.
        """
        batch = list(self.collection.find().sort("_id", ASCENDING).limit(self.batch_size))
        if not batch:
            BACKLOG.set(0)
            OLDEST_AGE.set(0)
            return 0
        batch.sort(key=lambda r: (r["key"], r["subject"], r["seq"], r["_id"]))
        if self.producer is None:
            self.producer = self.producer_factory()
        sent = []
        for record in batch:
            # The publish continues the trace of the request that wrote the record;
            # the record carries the publish span, the consumer's parent.
            span = start_span(
                f"{record['topic']} publish",
                kind=SpanKind.PRODUCER,
                parent=record["traceparent"],
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": record["topic"],
                    "messaging.message.id": record["ce_id"],
                },
            )
            wire = encode(
                ce_id=record["ce_id"],
                topic=record["topic"],
                source=record["source"],
                subject=record["subject"],
                key=record["key"],
                time=record["time"],
                data=record["payload"],
                trace=TraceContext(
                    record["correlation_id"],
                    record["causation_id"],
                    traceparent_of(span, record["traceparent"]),
                ),
                headers=_key_id_header(record.get("key_id")),
            )
            future = self.producer.send(
                wire.topic, key=wire.key, value=wire.value, headers=wire.headers
            )
            sent.append((record, future, span))
        self.producer.flush()
        done: list[Any] = []
        failed_keys: set[str] = set()
        for record, future, span in sent:
            if record["key"] in failed_keys:
                fail(span, "not deleted: an earlier record of its key failed")
                span.end()
                continue
            try:
                future.get(timeout=0)
            except Exception as exc:  # any send failure keeps the record pending
                failed_keys.add(record["key"])
                log.warning("publish failed", extra={"topic": record["topic"], "error": str(exc)})
                fail(span, exc)
                continue
            finally:
                span.end()
            done.append(record["_id"])
            PUBLISHED.labels(record["topic"]).inc()
        if done:
            self._published.extend(done)
            # One delete per id: on the Mongo-wire server an "$in" of hundreds of ids
            # costs several times more than a bulk of single deletes.
            self.collection.bulk_write([DeleteOne({"_id": ident}) for ident in done], ordered=False)
        if failed_keys:
            raise RelayError(f"{len(batch) - len(done)} records not acknowledged by Kafka")
        return len(done)

    def drain(self) -> int:
        """Publish until nothing is pending; return how many were published."""
        total = 0
        while not self.stop.is_set():
            published = self.publish_pending()
            total += published
            if published < self.batch_size:
                break
        return total

    def run(self) -> None:
        """Relay until stopped: drain, then sleep until a new record is inserted.

        One change stream stays open across rounds (opened before draining, so
        no insert slips between a drain and the wait); its notices of records
        this relay already published are skipped rather than re-queried.
        """
        backoff = 0.5
        stream: ChangeStream | None = None
        try:
            while not self.stop.is_set():
                try:
                    if not self.lease.acquire():
                        stream = _close(stream)
                        self.stop.wait(5.0)
                        continue
                    if stream is None:
                        stream = self.collection.watch(
                            [{"$match": {"operationType": "insert"}}], max_await_time_ms=250
                        )
                    self.drain()
                    self._report_backlog()
                    backoff = 0.5
                    self._wait_for_insert(stream, timeout_s=5.0)
                except Exception as exc:  # Kafka or MongoDB away: back off, keep the backlog
                    PUBLISH_FAILURES.inc()
                    log.warning("outbox relay round failed; retrying", extra={"error": str(exc)})
                    with contextlib.suppress(PyMongoError):  # how old the backlog grows
                        self._report_backlog()
                    stream = _close(stream)
                    self._reset_producer()
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            _close(stream)
            self._reset_producer()
            try:
                with pymongo.timeout(2):  # at shutdown MongoDB may be stopping too
                    self.lease.release()
            except PyMongoError:
                log.info("lease not released; it expires by itself")

    def _report_backlog(self) -> None:
        """Count pending records and the age of the oldest for the metrics, at most
        every few seconds (also while Kafka is away: then the age is what grows)."""
        now = time.monotonic()
        if now - self._backlog_counted_at >= BACKLOG_EVERY_S:
            self._backlog_counted_at = now
            BACKLOG.set(self.collection.estimated_document_count())
            oldest = self.collection.find_one({}, {"time": 1}, sort=[("_id", ASCENDING)])
            OLDEST_AGE.set(0 if oldest is None else _age_s(oldest["time"]))

    def _wait_for_insert(self, stream: ChangeStream, timeout_s: float) -> None:
        """Block until a record this relay has not published yet is inserted."""
        deadline = time.monotonic() + timeout_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            change = stream.try_next()
            if change is not None and change["documentKey"]["_id"] not in self._published:
                return

    def _reset_producer(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=2)
            except Exception:
                log.debug("closing the producer failed", exc_info=True)
            self.producer = None


class _RecentIds:
    """A bounded set that forgets the oldest ids first."""

    def __init__(self, maxlen: int) -> None:
        self._order: deque[Any] = deque(maxlen=maxlen)
        self._members: set[Any] = set()

    def extend(self, ids: list[Any]) -> None:
        for ident in ids:
            if len(self._order) == self._order.maxlen:
                self._members.discard(self._order[0])
            self._order.append(ident)
            self._members.add(ident)

    def __contains__(self, ident: object) -> bool:
        return ident in self._members


def _age_s(moment: datetime) -> float:
    """Seconds since ``moment`` (stored in UTC; naive when the client is not tz-aware)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - moment).total_seconds())


def _key_id_header(key_id: str | None) -> list[tuple[str, bytes]]:
    return [] if key_id is None else [(KEY_ID_HEADER, key_id.encode())]


def _close(stream: ChangeStream | None) -> None:
    if stream is not None:
        try:
            stream.close()
        except PyMongoError:
            log.debug("closing the change stream failed", exc_info=True)


class RelayError(RuntimeError):
    """Kafka did not acknowledge every record of a batch."""

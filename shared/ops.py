"""What the operator console shows of a service, as plain functions of its
settings and database (no Flask): the web's dependencies and the worker's
readiness, the outbox backlog, consumer lag and the dead-letter depth. The
console (:mod:`shared.admin`) serves them; a script, a chaos campaign's
quiescence check, can call them as they are::

    outbox_backlog(db).pending == 0
    all(row.lag == 0 for row in consumer_lag(settings, {"events": topics}))
    dlq_depth(settings, "events", RedriveLog(db)).depth == 0

A service adds sections of its own (notifications: its mail queue and webhook
deliveries) with :class:`OpsSection`; shared code names no service.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import requests
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from pymongo import ASCENDING, MongoClient
from pymongo.database import Database

from shared.bus import client_config
from shared.config import Settings
from shared.dlq import RedriveLog, dlq_consumer
from shared.topics import dead_letter_topic

# The console answers while Kafka is away: its clients give up sooner than a worker's.
STATUS_KAFKA_TIMEOUT_S = 3.0
WORKER_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class OpsSection:
    """A service's own part of its status: ``read(ctx)`` gives counts by state
    (``{"due": 3, "failed": 1}``), shown under ``titles`` (one per language)."""

    name: str
    titles: Mapping[str, str]
    read: Callable[[Any], Mapping[str, int]]


@dataclass(frozen=True)
class OutboxBacklog:
    pending: int
    oldest_at: datetime | None
    oldest_age_s: float | None


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    end: int
    lag: int


@dataclass(frozen=True)
class DlqPartition:
    partition: int
    start: int  # the first offset not replayed (retention or the replay's group)
    end: int
    depth: int


@dataclass(frozen=True)
class DlqDepth:
    topic: str
    depth: int
    partitions: list[DlqPartition] = field(default_factory=list)


def kafka_reachable(bootstrap: str, timeout_s: float = 1.0) -> bool:
    """A broker of ``bootstrap`` accepts TCP connections."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def dependency_checks(client: MongoClient, bootstrap: str) -> dict[str, str]:
    """``mongo`` and ``kafka``: ``ok``, or why not (the web's ``/readyz``)."""
    checks: dict[str, str] = {}
    try:
        client.admin.command("ping")
        checks["mongo"] = "ok"
    except Exception as exc:
        checks["mongo"] = f"unreachable: {type(exc).__name__}"
    checks["kafka"] = "ok" if kafka_reachable(bootstrap) else "unreachable"
    return checks


def worker_readiness(worker_url: str, timeout_s: float = WORKER_TIMEOUT_S) -> str:
    """The worker's ``/readyz``: ``ready``, ``starting``, ``unreachable`` or
    ``unknown`` (no URL: the worker serves no status port)."""
    if not worker_url:
        return "unknown"
    try:
        answer = requests.get(f"{worker_url}/readyz", timeout=timeout_s)
        return str(answer.json().get("status", "unknown"))
    except (requests.RequestException, ValueError):
        return "unreachable"


def outbox_backlog(db: Database, now: datetime | None = None) -> OutboxBacklog:
    """Records in ``db``'s outbox not yet published, and the oldest one's age."""
    outbox = db["outbox"]
    pending = outbox.count_documents({})
    oldest = next(iter(outbox.find({}, {"time": 1}).sort("_id", ASCENDING).limit(1)), None)
    at = oldest.get("time") if oldest else None
    if isinstance(at, datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    age = ((now or datetime.now(UTC)) - at).total_seconds() if at else None
    return OutboxBacklog(pending, at, age)


def _quick(settings: Settings) -> Settings:
    return replace(
        settings,
        kafka_bootstrap_timeout_s=min(settings.kafka_bootstrap_timeout_s, STATUS_KAFKA_TIMEOUT_S),
    )


def consumer_lag(settings: Settings, groups: Mapping[str, Iterable[str]]) -> list[PartitionLag]:
    """Per consumer group (``{group: its topics}``) and partition: the committed
    offset, the end offset and the lag between them (from the start of the
    partition where the group never committed). Raises ``KafkaError`` when
    Kafka does not answer."""
    quick = _quick(settings)
    admin = KafkaAdminClient(**client_config(quick), client_id=f"mlp-{settings.service}-ops")
    consumer = KafkaConsumer(**client_config(quick), client_id=f"mlp-{settings.service}-ops")
    rows: list[PartitionLag] = []
    try:
        for group, topics in groups.items():
            tps = [
                TopicPartition(topic, p)
                for topic in sorted(set(topics))
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            if not tps:
                continue
            committed = admin.list_group_offsets({group: tps}).get(group, {})
            ends = consumer.end_offsets(tps)
            starts = consumer.beginning_offsets(tps)
            for tp in tps:
                offset = committed.get(tp)
                at = offset.offset if offset is not None and offset.offset >= 0 else None
                end = ends[tp]
                rows.append(
                    PartitionLag(
                        group, tp.topic, tp.partition, at, end, max(0, end - (at or starts[tp]))
                    )
                )
    finally:
        consumer.close()
        admin.close()
    return rows


def dlq_depth(settings: Settings, service: str, log: RedriveLog) -> DlqDepth:
    """Records of ``dlq.<service>`` not yet redriven: past the replay group's
    offset (and retention) and not marked by the console (:mod:`shared.dlq`).
    Raises ``KafkaError`` when Kafka does not answer."""
    topic = dead_letter_topic(service)
    consumer = dlq_consumer(_quick(settings), service)
    parts: list[DlqPartition] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if tps:
            ends = consumer.end_offsets(tps)
            starts = consumer.beginning_offsets(tps)
            for tp in tps:
                start = max(starts[tp], consumer.committed(tp) or 0)
                depth = max(0, ends[tp] - start - log.count_marked(topic, tp.partition, start))
                parts.append(DlqPartition(tp.partition, start, ends[tp], depth))
    finally:
        consumer.close(autocommit=False)
    return DlqDepth(topic, sum(p.depth for p in parts), parts)


def service_status(
    ctx: Any, consumes: Iterable[str], sections: Iterable[OpsSection] = ()
) -> dict[str, Any]:
    """Everything above for the service of ``ctx`` (a ServiceContext), as JSON:
    a part whose source does not answer says so (``error``) instead of failing."""
    settings = ctx.settings
    checks = dependency_checks(ctx.client, settings.kafka_bootstrap)
    status: dict[str, Any] = {
        "service": settings.service,
        "at": datetime.now(UTC).isoformat(),
        "web": {"status": "ready" if all(v == "ok" for v in checks.values()) else "degraded"}
        | {"checks": checks},
        "worker": {"status": worker_readiness(settings.worker_url), "url": settings.worker_url},
    }
    try:
        backlog = outbox_backlog(ctx.db)
        status["outbox"] = {
            "pending": backlog.pending,
            "oldest_at": backlog.oldest_at.isoformat() if backlog.oldest_at else None,
            "oldest_age_s": backlog.oldest_age_s,
        }
    except Exception as exc:
        status["outbox"] = {"error": f"{type(exc).__name__}: {exc}"}
    topics = list(consumes)
    if checks["kafka"] != "ok":
        status["consumer_lag"] = {"error": "Kafka is unreachable"}
        status["dlq"] = {"error": "Kafka is unreachable"}
    else:
        try:
            lag = consumer_lag(settings, {settings.service: topics} if topics else {})
            status["consumer_lag"] = {
                "total": sum(r.lag for r in lag),
                "partitions": [asdict(r) for r in lag],
            }
        except KafkaError as exc:
            status["consumer_lag"] = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            depth = dlq_depth(settings, settings.service, RedriveLog(ctx.db))
            status["dlq"] = asdict(depth)
        except KafkaError as exc:
            status["dlq"] = {"error": f"{type(exc).__name__}: {exc}"}
    status["sections"] = {}
    for section in sections:
        try:
            status["sections"][section.name] = dict(section.read(ctx))
        except Exception as exc:
            status["sections"][section.name] = {"error": f"{type(exc).__name__}: {exc}"}
    return status

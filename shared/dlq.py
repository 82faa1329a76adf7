"""Dead-letter topics: read ``dlq.<service>``, re-publish ("redrive") records
to their original topic, and keep which were redriven. The operator console
(:mod:`shared.admin`) and ``python -m shared.dlq replay --service events``
(``make dlq-replay``) use the same functions.

A record is re-published as it came (key, value, ``ce_*`` headers, so the same
``ce_id``) to its original topic (header ``dlq_original_topic``), with
``dlq_replayed_from`` naming where it was and ``mlp_redrive_count`` counting its
redrives (a record dead-lettered again keeps its headers, the count with them).
Every consumer group of that topic gets the record again; those that had
handled it drop it as a duplicate by ``ce_id``, the one that had dead-lettered
it handles it now. Fix the cause first (a deployed fix, a repaired read model),
or the record simply comes back to the dead-letter topic. A record redriven
``MLP_DLQ_REDRIVE_MAX`` times is refused: it needs a person, not another try.

Nobody consumes a dead-letter topic, so what was redriven is kept twice over:
the replay's consumer group ``mlp-dlq-replay.<service>`` commits past what the
command replayed (it replays everything from there, in order), and the
console, which redrives single records, a selection or a filter's matches,
marks each record it re-published in the service's own ``dlq_redrives``
collection (:class:`RedriveLog`, keyed by partition and offset) and writes who
did what to ``ops_audit``. A record is pending while it is past the group's
offset and unmarked; the dead-letter depth counts those.

The command replays only records present when it starts (a record that fails
again meanwhile waits for the next one). A record whose original topic is not
in the catalogue, or redriven too often, stops the replay of its partition
(order is kept) and makes the command exit 1. ``--dry-run`` lists what would be
replayed and changes nothing. The command does not read the console's marks:
a record the console redrove is replayed again, which its consumers drop as a
duplicate by ``ce_id``.

It connects with the ``MLP_KAFKA_*`` settings of every client
(:func:`shared.bus.client_config`). Under ACLs it runs as the admin: it writes
to topics other services own, which no service principal may (``shared/acls.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from pymongo import DESCENDING
from pymongo.database import Database

from shared.bus import client_config, make_producer
from shared.config import Settings, tool_settings
from shared.errors import Invalid, NotFound, Unavailable
from shared.topics import PRODUCERS, TOPIC_NAMES, dead_letter_topic

REPLAY_GROUP = "mlp-dlq-replay"
REDRIVE_COUNT = "mlp_redrive_count"
REPLAYED_FROM = "dlq_replayed_from"
DLQ_HEADER_PREFIX = "dlq_"
SCAN_MAX = 10_000  # records one listing or redrive reads at most
REDRIVE_BUDGET_S = 20.0  # one console redrive stops re-publishing after this (web timeout 30 s)


def replay_group(service: str) -> str:
    """The consumer group that commits past what ``make dlq-replay`` replayed."""
    return f"{REPLAY_GROUP}.{service}"


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, as the consumer runner sent it there."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: Any) -> DeadLetter:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            tuple(record.headers or ()),
        )

    @property
    def id(self) -> str:
        """``<partition>@<offset>``: how the console names the record."""
        return f"{self.partition}@{self.offset}"

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return ""

    @property
    def original_topic(self) -> str:
        return self.header("dlq_original_topic")

    @property
    def error(self) -> str:
        return self.header("dlq_error")

    @property
    def redrive_count(self) -> int:
        try:
            return max(0, int(self.header(REDRIVE_COUNT) or 0))
        except ValueError:
            return 0

    def refusal(self, max_redrives: int) -> str | None:
        """Why this record may not be redriven, or None."""
        original = self.original_topic
        if original not in TOPIC_NAMES or original.startswith("dlq."):
            return f"original topic {original or '?'} unknown"
        if self.redrive_count >= max_redrives:
            return f"redriven {self.redrive_count} times already (the limit is {max_redrives})"
        return None

    def redriven_headers(self) -> list[tuple[str, bytes]]:
        """The headers it goes back with: its own but the dead-letter ones, where
        it comes from and its redrive count, one more."""
        kept = [
            (k, v)
            for k, v in self.headers
            if not k.startswith(DLQ_HEADER_PREFIX) and k != REDRIVE_COUNT
        ]
        kept.append((REPLAYED_FROM, self.where.encode()))
        kept.append((REDRIVE_COUNT, str(self.redrive_count + 1).encode()))
        return kept

    def summary(self) -> dict[str, Any]:
        """What the console shows of it (never the value: it may hold personal data)."""
        attempts = self.header("dlq_attempts")
        return {
            "id": self.id,
            "partition": self.partition,
            "offset": self.offset,
            "key": (self.key or b"").decode(errors="replace"),
            "original_topic": self.original_topic,
            "original_partition": _int(self.header("dlq_original_partition")),
            "original_offset": _int(self.header("dlq_original_offset")),
            "consumer_group": self.header("dlq_consumer_group"),
            "error": self.error,
            "attempts": _int(attempts),
            "dead_lettered_at": self.header("dlq_time") or None,
            "ce_id": self.header("ce_id"),
            "ce_type": self.header("ce_type"),
            "correlation_id": self.header("ce_correlationid") or None,
            "traceparent": self.header("traceparent") or self.header("ce_traceparent") or None,
            "redrive_count": self.redrive_count,
        }


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def dlq_consumer(settings: Settings, service: str) -> KafkaConsumer:
    """A consumer of ``dlq.<service>`` under the replay's group: it reads the
    group's offsets; only the replay command commits."""
    return KafkaConsumer(
        **client_config(settings),
        group_id=replay_group(service),
        client_id=f"mlp-{service}-dlq",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


def read_pending(
    consumer: KafkaConsumer, dlq: str, timeout_s: float, scan_max: int | None = None
) -> Iterator[DeadLetter]:
    """The records of ``dlq`` from the group's committed offset up to the end
    offsets as they were when reading started, partition by partition (at most
    ``scan_max``)."""
    partitions = consumer.partitions_for_topic(dlq) or set()
    tps = [TopicPartition(dlq, p) for p in sorted(partitions)]
    consumer.assign(tps)
    ends = consumer.end_offsets(tps)
    for tp in tps:
        committed = consumer.committed(tp)
        if committed is None:
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)
    remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
    deadline = time.monotonic() + timeout_s
    read = 0
    while remaining and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                if record.offset < ends[tp]:
                    yield DeadLetter.of(record)
                    read += 1
                    if scan_max is not None and read >= scan_max:
                        return
            if consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
                consumer.pause(tp)
    if remaining:
        raise TimeoutError(f"could not read {sorted(str(tp) for tp in remaining)} in time")


def send_back(producer: KafkaProducer, letter: DeadLetter) -> Any:
    """Re-publish ``letter`` to its original topic; returns Kafka's future."""
    return producer.send(
        letter.original_topic,
        key=letter.key,
        value=letter.value,
        headers=letter.redriven_headers(),
    )


@dataclass
class ReplayReport:
    replayed: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"replayed": self.replayed, "by_topic": self.by_topic, "blocked": self.blocked}


def replay(
    settings: Settings,
    service: str,
    *,
    dry_run: bool = False,
    timeout_s: float = 60.0,
    out: TextIO = sys.stdout,
) -> ReplayReport:
    """Re-publish ``dlq.<service>`` to the original topics; see the module docstring."""
    dlq = dead_letter_topic(service)
    consumer = dlq_consumer(settings, service)
    producer = None if dry_run else make_producer(settings)
    report = ReplayReport()
    blocked: set[int] = set()
    sent: list[tuple[TopicPartition, int, Any]] = []
    try:
        for letter in read_pending(consumer, dlq, timeout_s):
            if letter.partition in blocked:
                continue
            refusal = letter.refusal(settings.dlq_redrive_max)
            if refusal is not None:
                blocked.add(letter.partition)
                report.blocked.append(f"{letter.where}: {refusal}")
                continue
            line = {
                "from": letter.where,
                "to": letter.original_topic,
                "ce_id": letter.header("ce_id"),
                "error": letter.error,
            }
            out.write(json.dumps({"dry_run": dry_run, **line}) + "\n")
            if producer is not None:
                tp = TopicPartition(dlq, letter.partition)
                sent.append((tp, letter.offset, send_back(producer, letter)))
            report.replayed += 1
            topic = letter.original_topic
            report.by_topic[topic] = report.by_topic.get(topic, 0) + 1
        if producer is not None:
            producer.flush()
            commits: dict[TopicPartition, OffsetAndMetadata] = {}
            for tp, offset, future in sent:
                future.get(timeout=30)  # raises: nothing is committed, a rerun replays again
                commits[tp] = OffsetAndMetadata(offset + 1, "", -1)
            if commits:
                consumer.commit(commits)
    finally:
        consumer.close(autocommit=False)
        if producer is not None:
            producer.close(timeout=5)
    return report


class RedriveLog:
    """What the console redrove (``dlq_redrives``: a mark per dead-letter record,
    ``_id`` its topic, partition and offset) and who did what (``ops_audit``),
    in the service's own database."""

    def __init__(self, db: Database) -> None:
        self.marks = db["dlq_redrives"]
        self.audit_rows = db["ops_audit"]

    def ensure_indexes(self) -> None:
        self.marks.create_index([("topic", 1), ("partition", 1), ("offset", 1)])
        self.audit_rows.create_index([("at", DESCENDING)])

    def marked(self, topic: str, ids: Iterable[str]) -> set[str]:
        """Which of the records ``ids`` (``partition@offset``) were redriven."""
        wanted = [f"{topic}/{i}" for i in ids]
        found = self.marks.find({"_id": {"$in": wanted}}, {"_id": 1})
        return {row["_id"].split("/", 1)[1] for row in found}

    def count_marked(self, topic: str, partition: int, from_offset: int) -> int:
        return self.marks.count_documents(
            {"topic": topic, "partition": partition, "offset": {"$gte": from_offset}}
        )

    def mark(self, letter: DeadLetter, actor: str, at: datetime) -> None:
        """Mark ``letter`` redriven (after Kafka acknowledged it: a crash before
        leaves it pending, and a second redrive is a duplicate its consumers drop)."""
        self.marks.update_one(
            {"_id": letter.where},
            {
                "$set": {
                    "topic": letter.topic,
                    "partition": letter.partition,
                    "offset": letter.offset,
                    "ce_id": letter.header("ce_id"),
                    "original_topic": letter.original_topic,
                    "redriven_at": at,
                    "by": actor,
                }
            },
            upsert=True,
        )

    def audit(self, row: dict[str, Any]) -> None:
        self.audit_rows.insert_one(dict(row))

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.audit_rows.find({}, {"_id": 0}).sort("at", DESCENDING).limit(limit))


@dataclass(frozen=True)
class Selection:
    """Which dead-letter records an operator means: these ``ids``, or every
    pending one whose original topic is ``original_topic`` and whose error
    contains ``error`` (each when given)."""

    ids: frozenset[str] | None = None
    original_topic: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        problems: dict[str, str] = {}
        if self.ids is not None:
            bad = sorted(i for i in self.ids if not _is_record_id(i))
            if bad or not self.ids:
                problems["records"] = (
                    f"not record ids (<partition>@<offset>): {bad}" if bad else "name a record"
                )
        if self.original_topic and (
            self.original_topic not in TOPIC_NAMES or self.original_topic.startswith("dlq.")
        ):
            problems["original_topic"] = f"{self.original_topic!r} is not a catalogue topic"
        if self.error is not None and len(self.error) > 200:
            problems["error"] = "at most 200 characters"
        if problems:
            raise Invalid("The selection of dead-letter records is not valid.", errors=problems)

    def matches(self, letter: DeadLetter) -> bool:
        if self.ids is not None and letter.id not in self.ids:
            return False
        if self.original_topic and letter.original_topic != self.original_topic:
            return False
        return not self.error or self.error.lower() in letter.error.lower()

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": sorted(self.ids) if self.ids is not None else None,
            "original_topic": self.original_topic or None,
            "error": self.error or None,
        }


def _is_record_id(text: str) -> bool:
    partition, at, offset = text.partition("@")
    return bool(at) and partition.isdigit() and offset.isdigit()


@dataclass
class Listing:
    records: list[DeadLetter]
    truncated: bool  # more pending records than one read may scan


def pending_dead_letters(
    settings: Settings,
    service: str,
    log: RedriveLog,
    selection: Selection | None = None,
    *,
    limit: int = 200,
    timeout_s: float = 30.0,
) -> Listing:
    """The pending (not yet redriven) records of ``dlq.<service>`` that
    ``selection`` matches, oldest first per partition, at most ``limit``."""
    selection = selection or Selection()
    dlq = dead_letter_topic(service)
    found: list[DeadLetter] = []
    scanned = 0
    try:
        consumer = dlq_consumer(settings, service)
    except KafkaError as exc:
        raise Unavailable(f"Kafka does not answer: {exc}.") from exc
    try:
        for letter in read_pending(consumer, dlq, timeout_s, scan_max=SCAN_MAX):
            scanned += 1
            if selection.matches(letter):
                found.append(letter)
    except (KafkaError, TimeoutError) as exc:
        raise Unavailable(f"{dlq} could not be read: {exc}.") from exc
    finally:
        consumer.close(autocommit=False)
    marked = log.marked(dlq, [letter.id for letter in found])
    pending = [letter for letter in found if letter.id not in marked]
    return Listing(pending[:limit], truncated=scanned >= SCAN_MAX or len(pending) > limit)


@dataclass
class RedriveResult:
    dry_run: bool
    moved: list[dict[str, Any]] = field(default_factory=list)  # would move, in a dry run
    refused: list[dict[str, Any]] = field(default_factory=list)
    remaining: int = 0  # matched, not moved within the request's time budget

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "moved": self.moved,
            "refused": self.refused,
            "remaining": self.remaining,
        }


def redrive(
    settings: Settings,
    service: str,
    log: RedriveLog,
    selection: Selection,
    *,
    actor: str,
    dry_run: bool = False,
    budget_s: float = REDRIVE_BUDGET_S,
) -> RedriveResult:
    """Re-publish the pending records ``selection`` matches to their original
    topics, at most ``settings.dlq_redrive_rate`` a second, refusing those
    redriven ``settings.dlq_redrive_max`` times; mark each and audit the whole
    as ``actor``. Named records that are not pending are refused (404) before
    anything moves. A dry run moves and marks nothing, and is audited too."""
    dlq = dead_letter_topic(service)
    listing = pending_dead_letters(settings, service, log, selection, limit=SCAN_MAX)
    if selection.ids is not None:
        missing = sorted(selection.ids - {letter.id for letter in listing.records})
        if missing:
            raise NotFound(
                f"{dlq} holds no pending record {', '.join(missing)} (unknown, or redriven).",
                records=missing,
            )
    result = RedriveResult(dry_run=dry_run)
    movable = []
    for letter in listing.records:
        refusal = letter.refusal(settings.dlq_redrive_max)
        if refusal is None:
            movable.append(letter)
        else:
            result.refused.append({"id": letter.id, "reason": refusal})
    started = time.monotonic()
    failure: KafkaError | None = None
    if dry_run:
        result.moved = [letter.summary() for letter in movable]
    elif movable:
        interval = 1.0 / settings.dlq_redrive_rate
        try:
            producer = make_producer(settings)
        except KafkaError as exc:
            raise Unavailable(f"Kafka does not answer: {exc}.") from exc
        try:
            for i, letter in enumerate(movable):
                due = started + i * interval
                if due - started > budget_s:
                    result.remaining = len(movable) - i
                    break
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    send_back(producer, letter).get(timeout=30)
                except KafkaError as exc:
                    failure = exc
                    result.remaining = len(movable) - i
                    break
                log.mark(letter, actor, datetime.now(UTC))
                result.moved.append(letter.summary())
        finally:
            producer.close(timeout=5)
    log.audit(
        {
            "at": datetime.now(UTC),
            "by": actor,
            "service": service,
            "action": "dry-run" if dry_run else "redrive",
            "selection": selection.as_dict(),
            "moved": [m["id"] for m in result.moved],
            "refused": result.refused,
            "remaining": result.remaining,
            "error": str(failure) if failure else None,
        }
    )
    if failure is not None:
        raise Unavailable(
            f"Kafka refused a redrive after {len(result.moved)} records: {failure}.",
            moved=[m["id"] for m in result.moved],
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.dlq", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="re-publish a dead-letter topic to the original topics")
    rp.add_argument("--service", required=True, choices=PRODUCERS)
    rp.add_argument("--dry-run", action="store_true", help="list, publish nothing, commit nothing")
    rp.add_argument("--timeout", type=float, default=60.0, help="seconds to read the topic")
    args = parser.parse_args(argv)
    report = replay(
        tool_settings(args.service), args.service, dry_run=args.dry_run, timeout_s=args.timeout
    )
    sys.stderr.write(json.dumps({"dry_run": args.dry_run, **report.as_dict()}) + "\n")
    return 1 if report.blocked else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Replay a service's dead-letter topic: ``python -m shared.dlq replay --service events``.

Each record in ``dlq.<service>`` is re-published, as it came (key, value, ``ce_*``
headers, so the same ``ce_id``), to its original topic (header
``dlq_original_topic``), and the replay's consumer group commits past it once
Kafka acknowledged it. Every consumer group of that topic gets the record again;
those that had handled it drop it as a duplicate by ``ce_id``, the one that had
dead-lettered it handles it now. Fix the cause first (a deployed fix, a repaired
read model), or the record simply comes back to the dead-letter topic.

Only records present when the replay starts are replayed (a record that fails
again during the replay waits for the next one). A record whose original topic
is not in the catalogue stops the replay of its partition (order is kept) and
makes the command exit 1. ``--dry-run`` lists what would be replayed and changes
nothing.

It connects with the ``MLP_KAFKA_*`` settings of every client
(:func:`shared.bus.client_config`). Under ACLs it runs as the admin: it writes
to topics other services own, which no service principal may (``shared/acls.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from shared.bus import client_config, make_producer
from shared.config import Settings, tool_settings
from shared.topics import PRODUCERS, TOPIC_NAMES, dead_letter_topic

REPLAY_GROUP = "mlp-dlq-replay"


@dataclass
class ReplayReport:
    replayed: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"replayed": self.replayed, "by_topic": self.by_topic, "blocked": self.blocked}


def _headers(record: Any) -> dict[str, bytes]:
    return {name: value for name, value in record.headers or []}


def _pending(consumer: KafkaConsumer, dlq: str, timeout_s: float) -> Iterator[Any]:
    """The records of ``dlq`` from the group's committed offset up to the end
    offsets as they were when the replay started, partition by partition."""
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
    while remaining and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                if record.offset < ends[tp]:
                    yield record
            if consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
                consumer.pause(tp)
    if remaining:
        raise TimeoutError(f"could not read {sorted(str(tp) for tp in remaining)} in time")


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
    consumer = KafkaConsumer(
        **client_config(settings),
        group_id=f"{REPLAY_GROUP}.{service}",
        client_id=f"mlp-{service}-dlq-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = None if dry_run else make_producer(settings)
    report = ReplayReport()
    blocked: set[TopicPartition] = set()
    sent: list[tuple[TopicPartition, int, Any]] = []
    try:
        for record in _pending(consumer, dlq, timeout_s):
            tp = TopicPartition(record.topic, record.partition)
            if tp in blocked:
                continue
            headers = _headers(record)
            original = headers.get("dlq_original_topic", b"").decode()
            where = f"{dlq}/{record.partition}@{record.offset}"
            if original not in TOPIC_NAMES or original.startswith("dlq."):
                blocked.add(tp)
                report.blocked.append(f"{where}: original topic {original or '?'} unknown")
                continue
            kept = [(k, v) for k, v in record.headers or [] if not k.startswith("dlq_")]
            kept.append(("dlq_replayed_from", where.encode()))
            line = {
                "from": where,
                "to": original,
                "ce_id": headers.get("ce_id", b"").decode(),
                "error": headers.get("dlq_error", b"").decode(),
            }
            out.write(json.dumps({"dry_run": dry_run, **line}) + "\n")
            if producer is not None:
                future = producer.send(original, key=record.key, value=record.value, headers=kept)
                sent.append((tp, record.offset, future))
            report.replayed += 1
            report.by_topic[original] = report.by_topic.get(original, 0) + 1
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

"""Batch consumption against real Kafka and MongoDB: the records one poll returns
for a partition are handled in one transaction, and a duplicate, a poison or an
outage in the middle of a batch changes none of the guarantees (effects once and
in order, the poison in the dead-letter topic, outages retried without counting).

The handler is the test's own: it writes one effect per record, numbered by how
many effects it saw before (through the session), so the numbers say the order.
The runner's consumer is positioned at the end of the topic before the records
are produced, so its first poll returns them all at once.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import REGISTRY
from pymongo import MongoClient, monitoring
from pymongo.errors import AutoReconnect

from devkit.kafka import collect, header, partner_consumer, wire_record
from devkit.waiting import wait_until
from services.events.config import EventsSettings
from services.events.store import EventStore
from shared.bus import make_producer
from shared.consumer import ConsumerRunner, Message, Subscriptions
from shared.envelope import KafkaRecord
from shared.service import start_service

TOPIC = "invitation.accepted"
MAX_ATTEMPTS = 3


class Commits(monitoring.CommandListener):
    """Counts the ``commitTransaction`` commands a client sends."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "commitTransaction":
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclasses.dataclass
class Batch:
    """One runner fed one poll's worth of records; ``faults`` by invitation id."""

    event_id: str
    db: Any
    commits: Commits
    faults: dict[str, Callable[[], None]]
    run: Callable[[list[KafkaRecord]], None]

    def record(self, invitation_id: str) -> KafkaRecord:
        payload = {
            "event_id": self.event_id,
            "invitation_id": invitation_id,
            "country": "LV",
            "role": "government_official",
            "status": "accepted",
            "version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        return wire_record(TOPIC, payload, key=self.event_id, subject=invitation_id)

    def effects(self) -> list[str]:
        """Invitation ids in the order the handler saw them (one entry per effect)."""
        return [e["invitation_id"] for e in self.db.effects.find({}).sort("seq", 1)]


def _count(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "mlp_consumer_records_total", {"topic": TOPIC, "outcome": outcome}
        )
        or 0.0
    )


@pytest.fixture
def batch(topics, mongo) -> Iterator[Batch]:
    settings = EventsSettings(
        kafka_bootstrap=topics, mongo_uri=mongo.uri, mongo_db=f"test_batch_{uuid.uuid4().hex[:8]}"
    )
    base = start_service(settings, EventStore)
    commits = Commits()
    client: MongoClient = MongoClient(mongo.uri, tz_aware=True, event_listeners=[commits])
    ctx = dataclasses.replace(base, client=client, db=client[settings.database])
    faults: dict[str, Callable[[], None]] = {}
    subscriptions = Subscriptions()

    @subscriptions.handler(TOPIC)
    def effect(message: Message[Any], ctx: Any, session: Any) -> None:
        invitation_id = message.payload.invitation_id
        if invitation_id in faults:
            faults[invitation_id]()
        seen = ctx.db.effects.count_documents({}, session=session)
        ctx.db.effects.insert_one({"invitation_id": invitation_id, "seq": seen}, session=session)

    positioned, go, stop = threading.Event(), threading.Event(), threading.Event()

    def consumer() -> KafkaConsumer:
        """Assigned the topic's partitions (no group join to wait for), at their
        ends, and held until the records are there."""
        consumer = KafkaConsumer(
            bootstrap_servers=topics,
            group_id=f"test-batch-{uuid.uuid4().hex[:8]}",
            enable_auto_commit=False,
        )
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC)]
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        for tp in partitions:
            consumer.position(tp)
        positioned.set()
        go.wait(30)
        return consumer

    runner = ConsumerRunner(
        group="events",
        subscriptions=subscriptions,
        ctx=ctx,
        consumer_factory=consumer,
        producer_factory=lambda: make_producer(settings),
        max_attempts=MAX_ATTEMPTS,
        backoff_s=0.05,
        stop=stop,
    )
    runner.ensure_indexes()
    thread = threading.Thread(target=runner.run, daemon=True)
    producer = KafkaProducer(bootstrap_servers=topics, acks="all")

    def run(records: list[KafkaRecord]) -> None:
        thread.start()
        assert positioned.wait(60), "the runner's consumer got no partitions"
        for r in records:
            producer.send(TOPIC, key=r.key, value=r.value, headers=r.headers).get(10)
        commits.count = 0
        go.set()

    yield Batch(f"evt-{uuid.uuid4()}", ctx.db, commits, faults, run)
    stop.set()
    go.set()
    if thread.is_alive():
        thread.join(timeout=30)
    producer.close()
    client.drop_database(settings.database)
    client.close()
    base.close()


def test_the_records_of_one_poll_commit_in_one_transaction(batch: Batch) -> None:
    ids = [f"inv-{n}-{uuid.uuid4()}" for n in range(50)]
    batch.run([batch.record(i) for i in ids])
    assert wait_until(lambda: len(batch.effects()) >= len(ids), 60)
    assert batch.effects() == ids  # each once, in order
    # One transaction per batch of at most 100 records (50 commits record by record);
    # a poll may split them, hence a margin.
    print(f"commitTransaction for {len(ids)} records: {batch.commits.count}")
    assert batch.commits.count <= 5, batch.commits.count
    assert batch.db.processed_records.count_documents({}) == len(ids)


def test_a_duplicate_in_the_middle_of_a_batch_is_skipped_and_the_rest_handled_once(
    batch: Batch,
) -> None:
    ids = [f"inv-{n}-{uuid.uuid4()}" for n in range(6)]
    records = [batch.record(i) for i in ids]
    # The third record comes again (a redelivery, same ce_id) between the fourth and fifth.
    batch_records = [*records[:4], records[2], *records[4:]]
    handled, duplicates = _count("handled"), _count("duplicate")
    batch.run(batch_records)
    assert wait_until(lambda: len(batch.effects()) >= len(ids), 60)
    assert wait_until(lambda: _count("duplicate") - duplicates >= 1, 10)
    assert batch.effects() == ids
    assert _count("handled") - handled == len(ids)
    assert _count("duplicate") - duplicates == 1
    assert batch.db.processed_records.count_documents({}) == len(ids)


def test_a_poison_in_the_middle_of_a_batch_goes_to_the_dead_letter_topic_alone(
    batch: Batch, topics: str
) -> None:
    ids = [f"inv-{n}-{uuid.uuid4()}" for n in range(6)]
    doomed = f"inv-doomed-{uuid.uuid4()}"

    def refuse() -> None:
        raise RuntimeError("the store refuses this invitation")

    batch.faults[doomed] = refuse
    garbage = KafkaRecord(TOPIC, batch.event_id.encode(), b"\x00garbage", [])
    dlq = partner_consumer(topics, "dlq.events")
    handled, dead = _count("handled"), _count("dead_lettered")
    good = [batch.record(i) for i in ids]
    failing = batch.record(doomed)
    batch.run([*good[:2], failing, *good[2:4], garbage, *good[4:]])
    assert wait_until(lambda: len(batch.effects()) >= len(ids), 60)
    records = collect(dlq, lambda rs: sum(r.key == batch.event_id.encode() for r in rs) >= 2)
    dlq.close()
    assert batch.effects() == ids  # those before and after, once and in order
    ours = [r for r in records if r.key == batch.event_id.encode()]
    assert len(ours) == 2
    [failed] = [r for r in ours if header(r, "ce_id") == header(failing, "ce_id")]
    assert header(failed, "dlq_attempts") == str(MAX_ATTEMPTS)
    assert "RuntimeError" in header(failed, "dlq_error")
    [malformed] = [r for r in ours if r.value == b"\x00garbage"]
    assert header(malformed, "dlq_attempts") == "0"
    assert _count("handled") - handled == len(ids)
    assert _count("dead_lettered") - dead == 2
    assert batch.db.processed_records.count_documents({}) == len(ids)


def test_a_batch_whose_handler_meets_an_outage_is_retried_without_counting_attempts(
    batch: Batch,
) -> None:
    ids = [f"inv-{n}-{uuid.uuid4()}" for n in range(6)]
    outages = {"left": MAX_ATTEMPTS + 1}  # more than the attempts: not one is counted

    def away() -> None:
        if outages["left"]:
            outages["left"] -= 1
            raise AutoReconnect("MongoDB is away")

    batch.faults[ids[3]] = away
    dead = _count("dead_lettered")
    batch.run([batch.record(i) for i in ids])
    assert wait_until(lambda: len(batch.effects()) >= len(ids), 60)
    assert outages["left"] == 0
    assert batch.effects() == ids
    # After the outage the batch's records went one by one (a transaction each): a
    # batch too slow for the server's transaction time limit cannot loop for ever.
    assert batch.commits.count == len(ids)
    assert _count("dead_lettered") == dead
    assert batch.db.processed_records.count_documents({}) == len(ids)

"""The transactional outbox and its relay against real Kafka and MongoDB."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY
from pymongo import MongoClient

from devkit.kafka import collect, header, partner_consumer
from shared import outbox as outbox_module
from shared.bus import ensure_topics, make_producer
from shared.config import Settings
from shared.mongo import in_transaction
from shared.outbox import Outbox, OutboxRelay
from shared.sealing import DEVELOPMENT_KEYS
from tests.helpers import wait_for


@pytest.fixture
def outbox_db(mongo):
    client = MongoClient(mongo.uri, tz_aware=True)
    db = client[f"test_outbox_{uuid.uuid4().hex[:8]}"]
    yield client, db
    client.drop_database(db.name)
    client.close()


def _add(client, db, records):
    outbox = Outbox(db, "/mlp/events", keys=DEVELOPMENT_KEYS)

    def work(session):
        return [
            outbox.add(session, topic=topic, key=key, seq=seq, payload={"event_id": key, "n": seq})
            for topic, key, seq in records
        ]

    return in_transaction(client, work)


def test_relay_publishes_in_order_per_key_with_cloudevents_headers(topics, outbox_db):
    client, db = outbox_db
    settings = Settings(service="events", kafka_bootstrap=topics)
    key_a, key_b = f"evt-{uuid.uuid4()}", f"evt-{uuid.uuid4()}"
    consumer = partner_consumer(topics, "event.created", "event.updated")
    ids = _add(
        client,
        db,
        [
            ("event.created", key_a, 1),
            ("event.created", key_b, 1),
            ("event.updated", key_a, 2),
            ("event.updated", key_a, 3),
            ("event.updated", key_a, 4),
        ],
    )
    relay = OutboxRelay(db, lambda: make_producer(settings))
    assert relay.drain() == 5
    relay._reset_producer()
    ours = {key_a.encode(), key_b.encode()}
    records = collect(consumer, lambda rs: sum(r.key in ours for r in rs) >= 5)
    records = [r for r in records if r.key in ours]
    assert sorted(header(r, "ce_id") for r in records) == sorted(ids)
    # Kafka orders one key within one topic's partition: updates of key_a arrive in order.
    updates = [r for r in records if r.key == key_a.encode() and r.topic == "event.updated"]
    assert [r.value for r in updates] == [
        f'{{"event_id": "{key_a}", "n": {n}}}'.encode() for n in (2, 3, 4)
    ]
    assert len({r.partition for r in updates}) == 1
    [first] = [r for r in records if r.key == key_a.encode() and r.topic == "event.created"]
    assert header(first, "ce_specversion") == "1.0"
    assert header(first, "ce_source") == "/mlp/events"
    assert header(first, "ce_subject") == key_a
    assert header(first, "content-type") == "application/json"
    assert header(first, "traceparent").startswith("00-")
    assert header(first, "ce_correlationid")
    assert db.outbox.count_documents({}) == 0
    assert relay.drain() == 0  # nothing is published twice
    consumer.close()


def test_an_aborted_transaction_leaves_no_outbox_record(outbox_db):
    client, db = outbox_db
    outbox = Outbox(db, "/mlp/events", keys=DEVELOPMENT_KEYS)

    def work(session):
        db.events.insert_one({"_id": "e1"}, session=session)
        outbox.add(session, topic="event.created", key="e1", seq=1, payload={})
        raise RuntimeError("the change fails after its outbox record was written")

    with pytest.raises(RuntimeError):
        in_transaction(client, work)
    assert db.outbox.count_documents({}) == 0
    assert db.events.count_documents({}) == 0


def test_kafka_down_means_a_backlog_then_every_record_exactly_once(kafka_factory, outbox_db):
    client, db = outbox_db
    broker = kafka_factory()
    settings = Settings(service="events", kafka_bootstrap=broker.bootstrap)
    ensure_topics(settings)
    consumer = partner_consumer(broker.bootstrap, "event.created")
    broker.stop()

    stop = threading.Event()
    relay = OutboxRelay(db, lambda: make_producer(settings, max_block_ms=2000), stop=stop)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    ids = _add(client, db, [("event.created", f"evt-{i}", 1) for i in range(20)])
    time.sleep(4)
    assert db.outbox.count_documents({}) == 20  # kept, not lost

    broker.restart()
    deadline = time.monotonic() + 90
    while db.outbox.count_documents({}) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert db.outbox.count_documents({}) == 0
    stop.set()
    thread.join(timeout=30)

    records = collect(consumer, lambda rs: len({header(r, "ce_id") for r in rs}) >= 20, 60)
    received = [header(r, "ce_id") for r in records]
    assert sorted(set(received)) == sorted(ids)
    assert len(received) == len(set(received))
    consumer.close()


def test_the_oldest_pending_records_age_is_reported_while_kafka_is_away(outbox_db, monkeypatch):
    client, db = outbox_db
    monkeypatch.setattr(outbox_module, "BACKLOG_EVERY_S", 0.0)
    key = f"evt-{uuid.uuid4()}"
    _add(client, db, [("event.created", key, 1)])
    db.outbox.update_one({}, {"$set": {"time": datetime.now(UTC) - timedelta(minutes=10)}})

    def kafka_away():
        raise KafkaConnectionError("no broker")

    relay = OutboxRelay(db, kafka_away)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()

    # The gauges are the process's: a relay another test left running may set
    # them in between, so wait until this relay's figures are the ones shown.
    def reported() -> bool:
        age = REGISTRY.get_sample_value("mlp_outbox_oldest_age_seconds") or 0
        return 600 <= age < 700 and REGISTRY.get_sample_value("mlp_outbox_backlog") == 1

    try:
        wait_for(reported)
    finally:
        relay.stop.set()
        thread.join(timeout=10)

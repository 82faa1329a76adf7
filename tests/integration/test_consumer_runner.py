"""The idempotent consumer runner against real Kafka and MongoDB, through the
events service's own handlers (the participation read model)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from kafka import KafkaConsumer, KafkaProducer

from devkit.kafka import collect, header, partner_consumer, wire_record
from devkit.waiting import wait_until
from services.events.config import EventsSettings
from services.events.handlers import subscriptions
from services.events.store import EventStore
from shared.bus import client_config, ensure_topics, make_producer
from shared.consumer import ConsumerRunner
from shared.service import start_service

# Invitation ids are unique, as the invitations service makes them: the
# session's broker carries records of earlier tests too.
INV = {n: f"inv-{n}-{uuid.uuid4()}" for n in range(10)}


@pytest.fixture
def runner_setup(topics, mongo):
    settings = EventsSettings(
        kafka_bootstrap=topics, mongo_uri=mongo.uri, mongo_db=f"test_runner_{uuid.uuid4().hex[:8]}"
    )
    ctx = start_service(settings, EventStore)
    db = ctx.db
    event_id = f"evt-{uuid.uuid4()}"
    db.events.insert_one({"_id": event_id, "title": "Peer review", "version": 1})
    stop = threading.Event()
    group_id = f"test-runner-{uuid.uuid4().hex[:8]}"
    runner = ConsumerRunner(
        group="events",
        subscriptions=subscriptions,
        ctx=ctx,
        consumer_factory=lambda: KafkaConsumer(
            *subscriptions.topics,
            bootstrap_servers=topics,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        ),
        producer_factory=lambda: make_producer(settings),
        max_attempts=3,
        backoff_s=0.05,
        stop=stop,
    )
    runner.ensure_indexes()
    producer = KafkaProducer(bootstrap_servers=topics, acks="all")
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    yield {
        "db": db,
        "event_id": event_id,
        "producer": producer,
        "stop": stop,
        "thread": thread,
        "group_id": group_id,
    }
    stop.set()
    thread.join(timeout=30)
    producer.close()
    ctx.client.drop_database(db.name)
    ctx.close()


def _send(producer, topic, event_id, ce_id=None, **data):
    payload = {
        "event_id": event_id,
        "country": "LV",
        "role": "government_official",
        "occurred_at": datetime.now(UTC).isoformat(),
        **data,
    }
    subject = str(data.get("invitation_id", event_id))
    record = wire_record(topic, payload, key=event_id, subject=subject, ce_id=ce_id)
    producer.send(topic, key=record.key, value=record.value, headers=record.headers).get(10)
    return record


def _participation(db, event_id):
    return db.events.find_one({"_id": event_id}).get("participation")


def test_handled_once_even_when_replayed_and_stale_records_change_nothing(runner_setup):
    db, event_id, producer = runner_setup["db"], runner_setup["event_id"], runner_setup["producer"]
    accepted = _send(
        producer,
        "invitation.accepted",
        event_id,
        invitation_id=INV[1],
        status="accepted",
        version=2,
    )
    waitlisted = _send(
        producer,
        "invitation.waitlisted",
        event_id,
        invitation_id=INV[2],
        status="waitlisted",
        version=2,
    )
    assert wait_until(lambda: _participation(db, event_id) == {"accepted": 1, "waitlisted": 1})

    # The same record again (a redelivery): no second effect, no second idempotency row.
    ce_id = header(accepted, "ce_id")
    producer.send(
        "invitation.accepted", key=accepted.key, value=accepted.value, headers=accepted.headers
    ).get(10)
    # An out-of-order, older record for inv-2 (version 1) changes nothing either.
    stale = _send(
        producer,
        "invitation.declined",
        event_id,
        invitation_id=INV[2],
        status="declined",
        version=1,
    )
    # A newer decline of inv-1 does change the counts: it marks where the stream got to.
    newer = _send(
        producer,
        "invitation.declined",
        event_id,
        invitation_id=INV[1],
        status="declined",
        version=3,
    )
    assert wait_until(lambda: _participation(db, event_id) == {"accepted": 0, "waitlisted": 1})
    assert db.processed_records.count_documents({"ce_id": ce_id}) == 1
    # The session's broker carries other tests' records too: count ours.
    ours = [header(r, "ce_id") for r in (accepted, waitlisted, stale, newer)]
    assert db.processed_records.count_documents({"ce_id": {"$in": ours}}) == 4
    assert db.participants.find_one({"_id": INV[2]})["status"] == "waitlisted"


def test_poison_and_failing_records_go_to_the_dead_letter_topic_and_the_consumer_goes_on(
    runner_setup, topics, monkeypatch
):
    db, event_id, producer = runner_setup["db"], runner_setup["event_id"], runner_setup["producer"]
    doomed = f"inv-doomed-{uuid.uuid4()}"
    original = EventStore.record_participant

    def fail_for_doomed(self, invitation_id, **kwargs):
        if invitation_id == doomed:
            raise RuntimeError("the store refuses this invitation")
        return original(self, invitation_id=invitation_id, **kwargs)

    monkeypatch.setattr(EventStore, "record_participant", fail_for_doomed)
    dlq = partner_consumer(topics, "dlq.events")
    # Not a CloudEvent at all:
    producer.send("invitation.accepted", key=event_id.encode(), value=b"\x00garbage").get(10)
    # A CloudEvent whose payload breaks the published schema (no invitation_id):
    invalid = _send(producer, "invitation.accepted", event_id, status="accepted", version=1)
    # A valid record whose handler fails every time:
    failing = _send(
        producer,
        "invitation.accepted",
        event_id,
        invitation_id=doomed,
        status="accepted",
        version=1,
    )
    # And a good record after all three: the consumer must get to it.
    _send(
        producer,
        "invitation.accepted",
        event_id,
        invitation_id=INV[9],
        status="accepted",
        version=1,
    )
    assert wait_until(lambda: _participation(db, event_id) == {"accepted": 1, "waitlisted": 0})

    records = collect(dlq, lambda rs: sum(r.key == event_id.encode() for r in rs) >= 3)
    ours = [r for r in records if r.key == event_id.encode()]
    assert len(ours) == 3
    by_ce_id = {header(r, "ce_id"): r for r in ours}
    poison = next(r for r in ours if r.value == b"\x00garbage")
    assert header(poison, "dlq_original_topic") == "invitation.accepted"
    assert header(poison, "dlq_attempts") == "0"
    assert "MalformedRecord" in header(poison, "dlq_error")
    refused = by_ce_id[header(invalid, "ce_id")]
    assert header(refused, "dlq_attempts") == "0"  # a schema error is not retried
    assert "PayloadRefused" in header(refused, "dlq_error")
    assert "invitation_id" in header(refused, "dlq_error")
    failed = by_ce_id[header(failing, "ce_id")]
    assert header(failed, "dlq_attempts") == "3"
    assert "RuntimeError" in header(failed, "dlq_error")
    assert header(failed, "dlq_original_partition") is not None
    assert header(failed, "dlq_consumer_group") == "events"
    dlq.close()


def test_offsets_are_committed_so_a_restart_does_not_reprocess(runner_setup, topics):
    db, event_id, producer = runner_setup["db"], runner_setup["event_id"], runner_setup["producer"]
    _send(
        producer,
        "invitation.accepted",
        event_id,
        invitation_id=f"inv-{uuid.uuid4()}",
        status="accepted",
        version=1,
    )
    assert wait_until(lambda: _participation(db, event_id) == {"accepted": 1, "waitlisted": 0})
    runner_setup["stop"].set()
    runner_setup["thread"].join(timeout=30)
    assert not runner_setup["thread"].is_alive()  # SIGTERM-style stop finishes and closes
    probe = KafkaConsumer(bootstrap_servers=topics, group_id=runner_setup["group_id"])
    from kafka import TopicPartition

    partitions = probe.partitions_for_topic("invitation.accepted")
    committed = [probe.committed(TopicPartition("invitation.accepted", p)) for p in partitions]
    probe.close()
    assert any(offset for offset in committed)


def test_a_broker_outage_does_not_end_the_consumer_loop(kafka_factory, mongo):
    """kafka-python's ``poll`` raises ``KafkaConnectionError`` when a coordinator
    lookup's metadata refresh is refused (the broker down): the runner waits and
    polls again, rather than ending the worker, and the relay with it.

    Without a reconnect backoff every refresh reaches the closed port, so poll
    raises on every call during the outage; with the default backoff it raises
    only when a refresh happens to fall outside it, which a loaded machine makes
    likely (the e2e test ``test_broker_down_the_api_still_answers...`` saw it).
    """
    broker = kafka_factory()
    settings = EventsSettings(
        kafka_bootstrap=broker.bootstrap,
        mongo_uri=mongo.uri,
        mongo_db=f"test_runner_{uuid.uuid4().hex[:8]}",
    )
    ensure_topics(settings)
    ctx = start_service(settings, EventStore)
    event_id = f"evt-{uuid.uuid4()}"
    ctx.db.events.insert_one({"_id": event_id, "title": "Peer review", "version": 1})
    stop = threading.Event()
    runner = ConsumerRunner(
        group="events",
        subscriptions=subscriptions,
        ctx=ctx,
        consumer_factory=lambda: KafkaConsumer(
            *subscriptions.topics,
            **{**client_config(settings), "reconnect_backoff_ms": 0, "reconnect_backoff_max_ms": 0},
            group_id=f"test-outage-{uuid.uuid4().hex[:8]}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        ),
        producer_factory=lambda: make_producer(settings),
        stop=stop,
    )
    runner.ensure_indexes()
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        broker.stop()
        time.sleep(3)  # poll is called (and refused) several times meanwhile
        assert thread.is_alive(), "the consumer loop ended during the outage"
        broker.restart()
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        _send(
            producer,
            "invitation.accepted",
            event_id,
            invitation_id=f"inv-{uuid.uuid4()}",
            status="accepted",
            version=1,
        )
        producer.close()
        assert wait_until(
            lambda: _participation(ctx.db, event_id) == {"accepted": 1, "waitlisted": 0}, 60
        )
    finally:
        stop.set()
        thread.join(timeout=30)
        ctx.client.drop_database(ctx.db.name)
        ctx.close()


def test_the_lag_gauge_never_stops_the_consumer_when_the_broker_is_gone(kafka_factory):
    """A position that would need the broker (an offset reset pending, its leader
    gone) is left for the next round: the gauge raised out of the consumer's
    loop once and stopped a worker in the fault campaign."""
    import threading

    from kafka import KafkaConsumer, TopicPartition

    from shared.bus import ensure_topics
    from shared.config import Settings
    from shared.consumer import _record_lag

    broker = kafka_factory()
    ensure_topics(Settings(service="tests", kafka_bootstrap=broker.bootstrap))
    tp = TopicPartition("event.created", 0)
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap, enable_auto_commit=False, request_timeout_ms=3000
    )
    outcome: list[BaseException | None] = []
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        consumer.poll(timeout_ms=2000)  # the partition's high watermark is known
        broker.stop()
        consumer.seek_to_end(tp)  # an offset reset that would need the broker

        def record() -> None:
            try:
                _record_lag(consumer)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=record, daemon=True)
        thread.start()
        thread.join(timeout=15)
        assert outcome == [None], (
            f"the lag gauge {'raised ' + repr(outcome) if outcome else 'hung'}"
        )
    finally:
        consumer.close()

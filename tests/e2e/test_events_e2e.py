"""The events service end to end: gunicorn ``web`` and ``worker`` as separate
processes, real Kafka and MongoDB, and a partner's plain kafka-python consumer."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from pymongo import MongoClient

from devkit.auth import auth
from devkit.kafka import ce_ids, collect, header, partner_consumer
from devkit.samples import event_body

SEC = auth("secretariat")


def _create_events(base_url: str, count: int, **overrides) -> list[str]:
    def post(i: int) -> str:
        response = requests.post(
            f"{base_url}/v1/events",
            json=event_body(title=f"Peer review number {i}", **overrides),
            headers=SEC,
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(post, range(count)))


def _assert_one_ce_id_per_event(records, event_ids) -> None:
    """Every event announced, and all copies of its record (a redelivery after a
    crash) carry one ce_id, which is what partners deduplicate on."""
    by_event: dict[str, set[str]] = {}
    for record in records:
        by_event.setdefault(record.key.decode(), set()).add(header(record, "ce_id"))
    assert set(by_event) == set(event_ids)
    assert all(len(ids) == 1 for ids in by_event.values()), by_event


def _outbox_drains(service, mongo_uri: str, timeout_s: float = 30.0) -> bool:
    """The relay deletes each record once Kafka acknowledged it (a partner may
    already have it by then): wait until nothing is left to publish."""
    with MongoClient(mongo_uri) as client:
        outbox = client[service.env["MLP_EVENTS_DB"]].outbox
        deadline = time.monotonic() + timeout_s
        while outbox.count_documents({}) and time.monotonic() < deadline:
            time.sleep(0.2)
        return outbox.count_documents({}) == 0


def test_a_partner_receives_event_created_with_cloudevents_headers(start_service, topics):
    service = start_service("events", topics)
    consumer = partner_consumer(topics, "event.created")
    response = requests.post(f"{service.base_url}/v1/events", json=event_body(), headers=SEC)
    assert response.status_code == 201
    event = response.json()
    records = collect(consumer, lambda rs: any(r.key == event["id"].encode() for r in rs))
    [record] = [r for r in records if r.key == event["id"].encode()]
    assert header(record, "ce_specversion") == "1.0"
    assert header(record, "ce_type") == "event.created"
    assert header(record, "ce_source") == "/mlp/events"
    assert header(record, "ce_subject") == event["id"]
    assert header(record, "ce_id")
    assert header(record, "ce_time").endswith("Z")
    assert header(record, "ce_correlationid") == response.headers["X-Request-ID"]
    assert header(record, "traceparent").startswith("00-")
    payload = json.loads(record.value)
    assert payload["event_id"] == event["id"]
    assert payload["title"] == event["title"]
    assert payload["status"] == "draft"
    consumer.close()


def test_a_worker_killed_mid_stream_loses_nothing(start_service, topics, mongo):
    service = start_service("events", topics)
    consumer = partner_consumer(topics, "event.created")
    first = _create_events(service.base_url, 60)
    service.worker.kill()  # SIGKILL: no chance to mark what it published
    second = _create_events(service.base_url, 60)  # the API goes on while the worker is down
    service.restart_worker()
    expected = set(first + second)
    records = collect(consumer, lambda rs: expected <= {r.key.decode() for r in rs}, timeout_s=60)
    ours = [r for r in records if r.key.decode() in expected]
    # At-least-once on the wire; exactly once per ce_id, which is what partners dedupe on.
    _assert_one_ce_id_per_event(ours, expected)
    assert _outbox_drains(service, mongo.uri)
    consumer.close()


def test_broker_down_the_api_still_answers_and_every_record_arrives_once(
    start_service, kafka_factory, mongo
):
    broker = kafka_factory()
    service = start_service("events", broker.bootstrap)
    consumer = partner_consumer(broker.bootstrap, "event.created")
    broker.stop()
    started = time.monotonic()
    ids = _create_events(service.base_url, 25)  # every POST answers 201
    assert time.monotonic() - started < 30
    ready = requests.get(f"{service.base_url}/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["checks"]["kafka"] == "unreachable"
    broker.restart()
    records = collect(consumer, lambda rs: set(ids) <= {r.key.decode() for r in rs}, 90)
    # The outage must not end the worker (its relay goes with it): see its log if it did.
    assert service.worker.alive, service.worker.log_file
    _assert_one_ce_id_per_event(records, ids)
    assert sorted(ce_ids(records)) == sorted(set(ce_ids(records)))  # not even a redelivery
    assert _outbox_drains(service, mongo.uri)
    consumer.close()


def test_the_worker_stops_gracefully_on_sigterm(start_service, topics):
    service = start_service("events", topics)
    assert service.worker.stop(timeout=30) == 0
    assert service.web.stop(timeout=30) == 0

"""Fixtures and helpers for the notifications tests: the app, an in-process
worker (consumer + senders, against real Kafka, MongoDB and the SMTP sink) and a
producer that plays the other services on their topics."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from kafka import KafkaConsumer, KafkaProducer

from services.notifications.app import create_app
from services.notifications.config import load
from services.notifications.delivery import MailSender, StartsTomorrow, WebhookDispatcher
from services.notifications.handlers import subscriptions
from services.notifications.store import NotificationStore
from shared.consumer import ConsumerRunner
from shared.context import fresh_context
from shared.envelope import encode
from shared.mongo import connect, service_db
from shared.outbox import Outbox
from shared.schedule import JobContext, PeriodicJob, run_jobs
from tests.helpers import running_app, service_env, settings_for

# Fixtures a test module gets with ``from tests.fixtures_notifications import *``.
__all__ = [
    "notifications_app",
    "notifications_client",
    "notifications_env",
    "producer",
    "worker",
]


class Producer:
    """Plays the events, invitations and documents services on their topics."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)

    def send(
        self,
        topic: str,
        data: dict[str, Any],
        *,
        key: str,
        subject: str | None = None,
        ce_id: str | None = None,
        source: str = "/mlp/tests",
    ) -> str:
        ce_id = ce_id or str(uuid.uuid4())
        data = {"occurred_at": datetime.now(UTC).isoformat(), **data}
        record = encode(
            ce_id=ce_id,
            topic=topic,
            source=source,
            subject=subject or key,
            key=key,
            time=datetime.now(UTC),
            data=data,
            trace=fresh_context(),
        )
        self.producer.send(topic, key=record.key, value=record.value, headers=record.headers).get(
            timeout=15
        )
        return ce_id

    def close(self) -> None:
        self.producer.close(timeout=5)


def event_payload(event_id: str, version: int = 1, **over: Any) -> dict[str, Any]:
    body = {
        "event_id": event_id,
        "title": "Skills forecasting: Estonia's OSKA system",
        "summary": "",
        "format": "peer_review",
        "programme": "employment",
        "host_country": "EE",
        "guest_countries": ["LV"],
        "starts_on": "2027-03-10",
        "ends_on": "2027-03-11",
        "timezone": "Europe/Tallinn",
        "venue": {"city": "Tallinn", "country": "EE", "online": False},
        "languages": ["en"],
        "capacity": 40,
        "registration_deadline": "2027-02-20T17:00:00+02:00",
        "visibility": "public",
        "tags": [],
        "status": "published",
        "version": version,
    }
    body.update(over)
    return body


def issued_payload(
    event_id: str,
    invitation_id: str,
    email: str,
    *,
    language: str = "en",
    version: int = 1,
    name: str = "Kadri Tamm",
) -> dict[str, Any]:
    return {
        "invitation_id": invitation_id,
        "event_id": event_id,
        "version": version,
        "email": email,
        "name": name,
        "language": language,
        "country": "EE",
        "organisation": "Ministry of Social Affairs",
        "role": "government_official",
        "rsvp_url": f"http://127.0.0.1:8002/v1/rsvp/tok-{invitation_id}",
        "registration_deadline": "2027-02-20T17:00:00+02:00",
        "resend": False,
        "event": {
            "title": "Skills forecasting: Estonia's OSKA system",
            "format": "peer_review",
            "starts_on": "2027-03-10",
            "ends_on": "2027-03-11",
            "timezone": "Europe/Tallinn",
            "venue": {"city": "Tallinn", "country": "EE", "online": False},
        },
    }


def status_payload(event_id: str, invitation_id: str, status: str, version: int, **over):
    return {
        "invitation_id": invitation_id,
        "event_id": event_id,
        "country": "EE",
        "role": "government_official",
        "status": status,
        "version": version,
        **over,
    }


class InProcessWorker:
    """The worker's consumer, mail sender and webhook dispatcher in threads."""

    def __init__(self, env: dict[str, str], bootstrap: str) -> None:
        self.ns = load()
        self.client = connect(self.ns.base)
        self.db = service_db(self.client, self.ns.base)
        self.store = NotificationStore(self.db)
        self.store.ensure_indexes()
        self.outbox = Outbox(self.db, self.ns.base.source)
        self.bootstrap = bootstrap
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.dispatcher = WebhookDispatcher(self.ns)

    def _consumer(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            *subscriptions.topics,
            bootstrap_servers=self.bootstrap,
            group_id=f"notifications-test-{uuid.uuid4().hex[:8]}",
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=100)
        # Pin the start: everything produced from now on is ours.
        for tp in consumer.assignment():
            consumer.seek(tp, consumer.position(tp))
        return consumer

    def start(self, consume: bool = True) -> InProcessWorker:
        if consume:
            consumer = self._consumer()
            runner = ConsumerRunner(
                group="notifications",
                subscriptions=subscriptions,
                client=self.client,
                db=self.db,
                outbox=self.outbox,
                consumer_factory=lambda: consumer,
                producer_factory=lambda: KafkaProducer(bootstrap_servers=self.bootstrap),
                stop=self.stop,
            )
            runner.ensure_indexes()
            self.threads.append(threading.Thread(target=runner.run, daemon=True))
        jobs = [
            PeriodicJob("mail-outbox", 0.1, MailSender(self.ns).run),
            PeriodicJob("webhook-deliveries", 0.1, self.dispatcher.run),
        ]
        ctx = JobContext(self.client, self.db, self.outbox)
        self.threads.append(
            threading.Thread(target=run_jobs, args=(jobs, ctx, self.stop), daemon=True)
        )
        for thread in self.threads:
            thread.start()
        return self

    def starts_tomorrow(self, clock: Callable[[], datetime]) -> int:
        return StartsTomorrow(self.ns, clock).run(JobContext(self.client, self.db, self.outbox))

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)
        self.dispatcher.close()


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


@pytest.fixture
def notifications_env(kafka, mongo, topics, smtp_sink, monkeypatch) -> dict[str, str]:
    env = service_env("notifications", kafka.bootstrap, mongo.uri)
    env["MLP_SMTP_PORT"] = str(smtp_sink.port)
    env["MLP_SMTP_HOST"] = "127.0.0.1"
    env["MLP_NOTIFICATIONS_PUBLIC_URL"] = "http://127.0.0.1:8004"
    env["MLP_WEBHOOK_RETRY_HORIZON_SECONDS"] = "86400"
    settings_for("notifications", env, monkeypatch)
    return env


@pytest.fixture
def notifications_app(notifications_env) -> Iterator[Flask]:
    with running_app(create_app) as app:
        yield app


@pytest.fixture
def notifications_client(notifications_app):
    return notifications_app.test_client()


@pytest.fixture
def producer(topics) -> Iterator[Producer]:
    p = Producer(topics)
    yield p
    p.close()


@pytest.fixture
def worker(notifications_app, notifications_env, topics) -> Iterator[InProcessWorker]:
    w = InProcessWorker(notifications_env, topics).start()
    yield w
    w.close()
    w.client.close()

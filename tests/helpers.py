"""Test-only helpers of the integration and end-to-end tests; what the benchmarks
and the demo share with the tests is in :mod:`devkit`."""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from kafka.consumer.fetcher import ConsumerRecord

from devkit.kafka import wire_record
from devkit.waiting import wait_until
from shared.config import Settings
from shared.consumer import ConsumerRunner, Subscriptions
from shared.sealing import DEVELOPMENT_KEYS, KeyRing, open_payload


def service_settings(service: str, env: dict[str, str]) -> Settings:
    """The settings ``service``'s own ``config.load_settings`` reads from ``env``
    (a mapping of ``MLP_`` variables; the process environment is not touched)."""
    return importlib.import_module(f"services.{service}.config").load_settings(env)


@contextlib.contextmanager
def running_app(create_app: Callable[[Any], Flask], settings: Settings) -> Iterator[Flask]:
    """A service's app on the test servers; its database is dropped afterwards."""
    app = create_app(settings)
    try:
        yield app
    finally:
        ctx = app.extensions["mlp"]
        ctx.client.drop_database(ctx.db.name)
        ctx.client.close()


class RecordDeliverer:
    """Hands records to a service's handlers through its real :class:`ConsumerRunner`
    (payload schema, idempotency row, transaction), without a broker round trip;
    each is built as ``devkit.kafka.wire_record`` builds the records it produces."""

    def __init__(self, app: Flask, subscriptions: Subscriptions) -> None:
        ctx = app.extensions["mlp"]
        self.runner = ConsumerRunner(
            group=ctx.settings.service,
            subscriptions=subscriptions,
            ctx=ctx,
            consumer_factory=lambda: None,
            producer_factory=lambda: None,
            max_attempts=1,
        )
        self.runner.ensure_indexes()
        self.offset = 0

    def __call__(
        self, topic: str, data: dict[str, Any], ce_id: str | None = None, source: str | None = None
    ) -> str:
        """``source`` names the sender where every service may send (default: the producer)."""
        ce_id = ce_id or str(uuid.uuid4())
        key = str(data.get("event_id") or data.get("request_id"))
        wire = wire_record(topic, data, key=key, ce_id=ce_id, source=source)
        self.offset += 1
        record = ConsumerRecord(
            topic, 0, None, self.offset, 0, 0, wire.key, wire.value, wire.headers, None, 0, 0, 0
        )
        self.runner.handle_record(record)
        return ce_id


def outbox_payload(row: dict[str, Any], keys: KeyRing = DEVELOPMENT_KEYS) -> dict[str, Any]:
    """An outbox row's payload as its consumers will see it: sealed fields opened."""
    return open_payload(
        keys, topic=row["topic"], ce_id=row["ce_id"], data=row["payload"], key_id=row["key_id"]
    )


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, step: float = 0.1) -> Any:
    """:func:`devkit.waiting.wait_until`, failing the test when the time is up."""
    value = wait_until(predicate, timeout_s, step)
    if not value:
        raise AssertionError(f"condition not met in {timeout_s:g} s")
    return value


def not_yet_published_there(response: Any) -> bool:
    """Whether a consumer of ``event.*`` answered as one that has not yet read the
    ``event.published`` the caller saw succeed: it knows no such event (404), or
    knows it only from ``event.created`` as a draft (409); topics are read
    asynchronously, so a caller retries on these."""
    if response.status_code == 404:
        return True
    return response.status_code == 409 and "The event is draft" in response.json().get("detail", "")

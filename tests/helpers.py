"""Test-only helpers of the integration and end-to-end tests; what the benchmarks
and the demo share with the tests is in :mod:`devkit`."""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from kafka.consumer.fetcher import ConsumerRecord

from shared.config import Settings
from shared.consumer import ConsumerRunner, Subscriptions
from shared.context import fresh_context
from shared.envelope import encode


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
    (payload schema, idempotency row, transaction), without a broker round trip."""

    def __init__(self, app: Flask, subscriptions: Subscriptions, source: str) -> None:
        ctx = app.extensions["mlp"]
        self.source = source
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

    def __call__(self, topic: str, data: dict[str, Any], ce_id: str | None = None) -> str:
        ce_id = ce_id or str(uuid.uuid4())
        key = str(data.get("event_id"))
        wire = encode(
            ce_id=ce_id,
            topic=topic,
            source=self.source,
            subject=key,
            key=key,
            time=datetime.now(UTC),
            data=data,
            trace=fresh_context(),
        )
        self.offset += 1
        record = ConsumerRecord(
            topic, 0, None, self.offset, 0, 0, wire.key, wire.value, wire.headers, None, 0, 0, 0
        )
        self.runner.handle_record(record)
        return ce_id

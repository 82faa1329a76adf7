"""Kafka clients configured once for the whole platform, and topic provisioning."""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from shared.config import Settings
from shared.topics import TOPICS

log = logging.getLogger(__name__)


def make_producer(settings: Settings, **overrides: object) -> KafkaProducer:
    """The idempotent producer: ``acks=all``, ordered per partition, batched."""
    config: dict[str, object] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "client_id": f"mlp-{settings.service}",
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 2,
        "max_block_ms": 10_000,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
        "reconnect_backoff_max_ms": 1000,
    }
    config.update(overrides)
    return KafkaProducer(**config)


def make_consumer(settings: Settings, group: str, topics: list[str]) -> KafkaConsumer:
    """A consumer that commits by hand, only after the effects are stored."""
    return KafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        client_id=f"mlp-{settings.service}-worker",
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=200,
        session_timeout_ms=30_000,
        heartbeat_interval_ms=3_000,
        reconnect_backoff_max_ms=1000,
    )


def ensure_topics(settings: Settings, timeout_s: float = 60.0) -> list[str]:
    """Create every catalogue topic that does not exist yet; return those created.

    Waits up to ``timeout_s`` for the broker, so a worker started together with
    Kafka simply waits for it.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap.split(","),
                client_id=f"mlp-{settings.service}-admin",
                request_timeout_ms=10_000,
                reconnect_backoff_max_ms=1000,
            )
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"Kafka at {settings.kafka_bootstrap} is not reachable ({exc}); "
                    "start it (make run does) or set MLP_KAFKA_BOOTSTRAP."
                ) from exc
            time.sleep(1.0)
    try:
        existing = set(admin.list_topics())
        missing = [t.name for t in TOPICS if t.name not in existing]
        still_missing = set(missing)
        # A broker that has just started may refuse or not yet list new topics:
        # retry until the deadline (another worker creating them too is no error).
        while still_missing:
            spec = {
                name: {
                    "num_partitions": settings.kafka_partitions,
                    "replication_factor": settings.kafka_replication,
                }
                for name in sorted(still_missing)
            }
            admin.create_topics(spec, raise_errors=False)
            still_missing -= set(admin.list_topics())
            if still_missing and time.monotonic() > deadline:
                raise SystemExit(f"Kafka refused to create topics {sorted(still_missing)}.")
            if still_missing:
                time.sleep(0.5)
        if missing:
            log.info("created topics", extra={"topics": missing})
        return missing
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m shared.bus provision``: create the catalogue topics, then exit.

    The one-shot provisioning step of docker-compose.yml and of deployments that
    want topics to exist before any worker starts (the workers create missing
    ones as well). Reads ``MLP_KAFKA_BOOTSTRAP``, ``MLP_KAFKA_PARTITIONS`` and
    ``MLP_KAFKA_REPLICATION``.
    """
    import argparse
    import sys

    from shared.config import tool_settings

    parser = argparse.ArgumentParser(prog="python -m shared.bus")
    parser.add_argument("command", choices=["provision"])
    parser.add_argument("--timeout", type=float, default=120.0, help="wait for Kafka, seconds")
    args = parser.parse_args(argv)
    settings = tool_settings("provision")
    created = ensure_topics(settings, timeout_s=args.timeout)
    sys.stdout.write(
        f"{len(TOPICS)} topics in the catalogue; created {len(created)}: {', '.join(created)}\n"
    )


if __name__ == "__main__":
    main()

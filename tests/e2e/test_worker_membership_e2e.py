"""A worker's membership of its consumer group, with the worker as a process:
``/readyz`` on its metrics port says ready once it holds its partitions; a
worker stopped with SIGTERM leaves its group, so its successor reacts at once;
one killed outright is noticed within the session timeout (it was 30 s)."""

from __future__ import annotations

import re
import time
import uuid

import requests

from deploy.local.ports import free_port
from devkit.kafka import Producer
from devkit.samples import event_payload
from shared.bus import SESSION_TIMEOUT_MS
from tests.helpers import wait_for

SERVICE = "catalogue"
SESSION_S = SESSION_TIMEOUT_MS / 1000


def _handled(metrics_url: str) -> float:
    """How many ``event.published`` records the worker behind ``metrics_url`` handled."""
    try:
        text = requests.get(metrics_url, timeout=2).text
    except requests.RequestException:
        return 0.0
    found = re.search(
        r'mlp_consumer_records_total\{outcome="handled",topic="event\.published"\} (\S+)', text
    )
    return float(found.group(1)) if found else 0.0


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _restart_reacts(running, producer: Producer, base: str) -> float:
    """Start the worker again, announce an event at once, and return the seconds
    until the new process has handled it."""
    started = time.monotonic()
    running.restart_worker()
    event_id = str(uuid.uuid4())
    producer.send("event.published", event_payload(event_id, version=2), key=event_id)
    try:
        wait_for(lambda: _handled(f"{base}/metrics") >= 1, timeout_s=60)
    except AssertionError as exc:
        raise AssertionError(running.worker.tail(40)) from exc
    return time.monotonic() - started


def test_a_worker_is_ready_with_its_partitions_and_a_restart_reacts_in_seconds(
    start_service, topics
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    running = start_service(
        SERVICE, topics, {f"MLP_{SERVICE.upper()}_WORKER_METRICS_PORT": str(port)}
    )
    producer = Producer(topics)
    wait_for(lambda: _ready(f"{base}/readyz"), timeout_s=60)
    wait_for(lambda: "mlp_consumer_lag{" in requests.get(f"{base}/metrics", timeout=2).text)

    # SIGTERM: the worker leaves its group, so its successor is not kept waiting
    # for the old member's session (the process start and the join fit well in it).
    assert running.worker.stop() == 0
    assert not _ready(f"{base}/readyz")
    assert _restart_reacts(running, producer, base) < SESSION_S

    # SIGKILL: nobody leaves; the group notices the dead member within one session.
    wait_for(lambda: _ready(f"{base}/readyz"), timeout_s=60)
    running.worker.kill()
    assert _restart_reacts(running, producer, base) < SESSION_S + 10

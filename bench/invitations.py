"""Benchmark of the invitations service: ``python -m bench.invitations``.

Starts its own Kafka and Mongo-wire server (``MLP_BENCH_INFRA=local``, the
default; ``external`` uses ``MLP_KAFKA_BOOTSTRAP`` / ``MLP_MONGO_URI``) and the
invitations service as real processes (gunicorn ``web`` + ``worker``), then:

1. invites 5,000 officials in one request: seconds until the API answers, and
   until the last ``invitation.sent`` reaches a partner consumer;
2. RSVP accepts through the links (taken from ``internal.invitation.issued``)
   on that ONE event, whose capacity is half of them: requests/s and p50/p99
   latency with ``MLP_BENCH_RSVP_CLIENTS`` concurrent clients (8), and a check
   that exactly ``capacity`` got a seat, the rest the waiting list, and that
   the event's seat counters say the same.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from pymongo import MongoClient

from bench.stack import infrastructure
from deploy.local import services
from deploy.local.ports import free_port
from devkit.auth import auth
from devkit.env import service_env
from devkit.kafka import Producer, collect, partner_consumer, payload_of
from devkit.samples import event_payload, official
from devkit.waiting import wait_until
from shared.bus import ensure_topics
from shared.config import Settings

INVITEES = int(os.environ.get("MLP_BENCH_INVITEES", 5000))
RSVP_REQUESTS = int(os.environ.get("MLP_BENCH_RSVP_REQUESTS", 2000))
RSVP_CLIENTS = int(os.environ.get("MLP_BENCH_RSVP_CLIENTS", 8))


def _publish_event(bootstrap: str, capacity: int) -> str:
    """Announce a published event as the events service would (event.published)."""
    event_id = str(uuid.uuid4())
    deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    payload = event_payload(event_id, version=2, capacity=capacity, registration_deadline=deadline)
    with contextlib.closing(Producer(bootstrap)) as producer:
        producer.send("event.published", payload, key=event_id)
    return event_id


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run(bootstrap: str, mongo_uri: str, workdir: Path) -> dict[str, Any]:
    ensure_topics(Settings(service="bench", kafka_bootstrap=bootstrap))
    env = service_env("invitations", bootstrap, mongo_uri)
    env["MLP_RSVP_RATE_LIMIT"] = "0"  # one client address drives all the load here
    port = free_port()
    web = services.web("invitations", port, env, workdir / "logs").start()
    worker = services.worker("invitations", env, workdir / "logs").start()
    base = f"http://127.0.0.1:{port}"
    sec = auth("secretariat")
    try:
        services.wait_ready(web, f"{base}/readyz")
        sent = partner_consumer(bootstrap, "invitation.sent")
        issued = partner_consumer(bootstrap, "internal.invitation.issued")
        # The RSVP run fills the event halfway through: its last seat is raced for.
        capacity = max(1, min(INVITEES, RSVP_REQUESTS) // 2)
        event_id = _publish_event(bootstrap, capacity=capacity)
        people = [official(i, f"official{i}@gov{i % 27}.example.eu") for i in range(INVITEES)]
        # Wait until the worker has put the event into the service's read model.
        with MongoClient(mongo_uri) as client:
            db = client[env["MLP_INVITATIONS_DB"]]
            known = wait_until(lambda: db.events.find_one({"_id": event_id}), 60, step=0.2)
            assert known, "the event never reached the read model"
        started = time.monotonic()
        response = requests.post(
            f"{base}/v1/events/{event_id}/invitations",
            json={"invitees": people},
            headers=sec,
            timeout=120,
        )
        api_s = time.monotonic() - started
        assert response.status_code == 201, response.text[:500]
        assert len(response.json()["created"]) == INVITEES
        key = event_id.encode()
        collect(sent, lambda rs: sum(1 for r in rs if r.key == key) >= INVITEES, 300)
        announced_s = time.monotonic() - started
        links = collect(
            issued, lambda rs: sum(1 for r in rs if r.key == key) >= INVITEES, timeout_s=120
        )
        tokens = [payload_of(r)["rsvp_url"].rsplit("/", 1)[1] for r in links if r.key == key][
            :RSVP_REQUESTS
        ]
        session_local = threading.local()

        def accept(token: str) -> tuple[float, str]:
            if not hasattr(session_local, "s"):
                session_local.s = requests.Session()
            t0 = time.perf_counter()
            r = session_local.s.post(
                f"{base}/v1/rsvp/{token}", json={"response": "accept"}, timeout=60
            )
            elapsed = time.perf_counter() - t0
            assert r.status_code == 200, r.text[:300]
            return elapsed, r.json()["status"]

        rsvp_started = time.monotonic()
        with ThreadPoolExecutor(max_workers=RSVP_CLIENTS) as pool:
            answers = list(pool.map(accept, tokens))
        rsvp_s = time.monotonic() - rsvp_started
        latencies = [elapsed for elapsed, _ in answers]
        said = {
            s: sum(1 for _, status in answers if status == s) for s in ("accepted", "waitlisted")
        }
        with MongoClient(mongo_uri) as client:
            db = client[env["MLP_INVITATIONS_DB"]]
            stored = {
                s: db.invitations.count_documents({"event_id": event_id, "status": s}) for s in said
            }
            seats = db.seats.find_one({"_id": event_id}) or {}
        expected = {"accepted": capacity, "waitlisted": len(tokens) - capacity}
        counted = {s: seats.get(s) for s in said}
        consistent = said == stored == counted == expected
        sent.close()
        issued.close()
        return {
            "rsvp_capacity": capacity,
            "rsvp_answered": said,
            "rsvp_stored": stored,
            "rsvp_seat_counters": counted,
            "rsvp_consistent": consistent,
            "invite_api_s": api_s,
            "invite_announced_s": announced_s,
            "rsvp_requests": len(latencies),
            "rsvp_rps": len(latencies) / rsvp_s,
            "rsvp_p50_ms": statistics.median(latencies) * 1000,
            "rsvp_p99_ms": _percentile(latencies, 99) * 1000,
        }
    finally:
        web.stop()
        worker.stop()


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="mlp-bench-invitations-") as tmp,
        infrastructure(Path(tmp)) as infra,
    ):
        figures = run(infra.kafka_bootstrap, infra.mongo_uri, Path(tmp))
    print(f"invitations: invite {INVITEES} officials in one request")
    print(f"  API answered after            {figures['invite_api_s']:8.2f} s")
    print(f"  last invitation.sent received {figures['invite_announced_s']:8.2f} s")
    print(
        f"invitations: RSVP accept ({figures['rsvp_requests']} requests, "
        f"{RSVP_CLIENTS} concurrent clients)"
    )
    print(f"  throughput                    {figures['rsvp_rps']:8.1f} requests/s")
    print(
        f"  p50 / p99 latency             {figures['rsvp_p50_ms']:8.1f} / "
        f"{figures['rsvp_p99_ms']:.1f} ms"
    )
    verdict = "OK" if figures["rsvp_consistent"] else "FAILED"
    print(
        f"  seats (capacity {figures['rsvp_capacity']})         {verdict}: answered "
        f"{figures['rsvp_answered']}, stored {figures['rsvp_stored']}, "
        f"counters {figures['rsvp_seat_counters']}"
    )
    if not figures["rsvp_consistent"]:
        raise SystemExit("invitations: the seats are not exactly the capacity, or inconsistent")


if __name__ == "__main__":
    main()

"""``python -m bench.notifications``: figures of the notifications service.

Starts Kafka, MongoDB (tests/infra.py, ``MLP_TEST_INFRA`` as for the tests), an
in-memory SMTP sink and a local webhook receiver, runs the notifications
worker as a real process, and measures

- mail latency: from producing an ``invitation.accepted`` record (paced at
  ``--rate``/s, 1,000 of them) to the confirmation mail's arrival at the SMTP
  sink, p50/p99 (the invitations service is played by this script);
- webhook deliveries per second to a local receiver (``--webhooks`` records of
  ``event.published`` to one subscription).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.sink import TimingSink
from bench.stack import infrastructure
from deploy.local import services
from devkit.env import service_env
from devkit.kafka import Producer
from devkit.samples import event_payload, issued_payload, status_payload
from devkit.waiting import wait_until
from devkit.webhooks import Receiver
from services.notifications.config import load_settings
from services.notifications.operations import create_subscription
from services.notifications.store import NotificationStore
from shared.bus import ensure_topics
from shared.config import Settings
from shared.service import start_service


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications")
    parser.add_argument("--acceptances", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="acceptances per second")
    parser.add_argument("--webhooks", type=int, default=1000)
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-notifications-"))
    servers = contextlib.ExitStack()
    infra = servers.enter_context(infrastructure(tmp))
    sink = TimingSink()
    sink.controller.start()
    receiver = Receiver()
    worker = None
    try:
        ensure_topics(Settings(service="bench", kafka_bootstrap=infra.kafka_bootstrap))
        env = service_env("notifications", infra.kafka_bootstrap, infra.mongo_uri)
        env.update(MLP_SMTP_PORT=str(sink.port), MLP_SMTP_HOST="127.0.0.1")
        worker = services.worker("notifications", env, tmp / "logs").start()
        producer = Producer(infra.kafka_bootstrap)
        # Warm up: the consumer group joins, the first mail goes out.
        event_id = str(uuid.uuid4())
        producer.send("event.published", event_payload(event_id, version=2), key=event_id)
        producer.send(
            "internal.invitation.issued",
            issued_payload(event_id, str(uuid.uuid4()), "warmup@bench.example"),
            key=event_id,
        )
        if not wait_until(lambda: sink.count >= 1, 90):
            raise SystemExit(f"the worker sent nothing:\n{worker.tail()}")

        # --- mail latency: acceptance -> confirmation in the sink -------------
        n = args.acceptances
        invitations = [(str(uuid.uuid4()), f"p{i}@bench.example") for i in range(n)]
        for inv, email in invitations:
            producer.send(
                "internal.invitation.issued",
                issued_payload(event_id, inv, email),
                key=event_id,
            )
        if not wait_until(lambda: sink.count >= n + 1, 600):
            raise SystemExit(f"invitations not all sent ({sink.count})")
        sent_at: dict[str, float] = {}
        interval = 1.0 / args.rate
        start = time.monotonic()
        for i, (inv, email) in enumerate(invitations):
            target = start + i * interval
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent_at[email] = time.monotonic()
            producer.send(
                "invitation.accepted",
                status_payload(event_id, inv, "accepted", 2),
                key=event_id,
            )
        wait_until(lambda: sink.count >= 2 * n + 1, 120)
        latencies = [
            (sink.arrivals[f"{email}|Confirmed"] - sent_at[email]) * 1000
            for email in sent_at
            if f"{email}|Confirmed" in sink.arrivals
        ]

        # --- webhook deliveries per second -----------------------------------
        ctx = start_service(load_settings(env), NotificationStore)
        create_subscription(
            ctx,
            owner_sub="bench",
            owner_email=None,
            url=receiver.url,
            topics=["event.published"],
            description="bench",
        )
        time.sleep(0.5)
        w = args.webhooks
        for _ in range(w):
            eid = str(uuid.uuid4())
            producer.send("event.published", event_payload(eid), key=eid)
        wait_until(lambda: len(receiver.requests) >= w, 300)
        times = [r.at for r in receiver.requests[:w]]
        span = (times[-1] - times[0]) if len(times) > 1 else float("nan")
        rate = (len(times) - 1) / span if span and span > 0 else float("nan")
        ctx.close()
        producer.close()

        print("notifications benchmark (worker as a process, real Kafka + MongoDB)")
        print(f"  acceptances paced at {args.rate:.0f}/s: {len(latencies)}/{n} confirmations")
        if latencies:
            print(
                f"  accept -> confirmation mail in sink: p50 {statistics.median(latencies):.0f} ms,"
                f" p99 {pct(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms"
            )
        print(f"  webhook deliveries: {len(times)}/{w}, {rate:.0f} deliveries/s to one receiver")
    finally:
        if worker is not None:
            worker.stop()
        sink.controller.stop()
        receiver.close()
        servers.close()


if __name__ == "__main__":
    main()

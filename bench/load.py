"""Load generators and the Kafka-side timers of the events benchmark.

All times are ``time.perf_counter()`` readings of this one process, so a POST's
return and a partner's receipt can be subtracted directly.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

now = time.perf_counter


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (``q`` in 0..100); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """p50, p99 and max of latencies given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
        "count": len(ms),
    }


@dataclass
class Sample:
    """One request: when it went, when it returned, its status and the created id."""

    sent: float
    returned: float
    status: int
    key: str | None


@dataclass
class LoadResult:
    samples: list[Sample]
    elapsed_s: float

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if 200 <= s.status < 300]

    @property
    def errors(self) -> int:
        return len(self.samples) - len(self.ok)

    @property
    def throughput(self) -> float:
        return len(self.ok) / self.elapsed_s if self.elapsed_s else 0.0

    def report(self) -> dict[str, Any]:
        return {
            "requests": len(self.samples),
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests_per_s": round(self.throughput, 1),
            "latency": summary_ms([s.returned - s.sent for s in self.ok]),
        }


def run_load(
    url: str,
    body: Callable[[int], dict[str, Any]],
    count: int,
    concurrency: int,
    *,
    headers: dict[str, str] | None = None,
    rate: float | None = None,
    key_of: Callable[[dict[str, Any]], str | None] = lambda _: None,
) -> LoadResult:
    """POST ``count`` bodies from ``concurrency`` threads (one Session each).

    Without ``rate`` every thread sends as fast as it can (closed loop); with it,
    request ``i`` is sent no earlier than ``i / rate`` seconds after the start.
    """
    samples: list[Sample] = []
    lock = threading.Lock()
    counter = iter(range(count))
    start = now()

    def worker() -> None:
        session = requests.Session()
        session.headers.update(headers or {})
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            if rate:
                delay = start + i / rate - now()
                if delay > 0:
                    time.sleep(delay)
            payload = body(i)
            sent = now()
            try:
                response = session.post(url, json=payload, timeout=30)
                status = response.status_code
                key = key_of(response.json()) if status < 300 else None
            except requests.RequestException:
                status, key = 599, None
            sample = Sample(sent, now(), status, key)
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(samples, now() - start)


@dataclass
class Receiver:
    """A consumer thread that notes when each key first arrives on ``topic``.

    It is assigned every partition at the end of the log before :meth:`start`
    returns, as a partner reading only new records would be.
    """

    bootstrap: str
    topic: str
    received: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _consumer: KafkaConsumer | None = None

    def start(self, timeout_s: float = 30.0) -> Receiver:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","),
            client_id=f"bench-partner-{uuid.uuid4().hex[:6]}",
            group_id=None,
            enable_auto_commit=False,
        )
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(self.topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)
            partitions = consumer.partitions_for_topic(self.topic)
        if not partitions:
            consumer.close()
            raise RuntimeError(f"Topic {self.topic} has no partitions.")
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the offsets now, not on the first poll
            consumer.position(tp)
        self._consumer = consumer
        self._thread = threading.Thread(target=self._run, name=f"recv-{self.topic}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                arrived = now()
                for record in records:
                    key = _key_of(record)
                    if key is not None:
                        self.received.setdefault(key, arrived)

    def wait_for(self, keys: set[str], timeout_s: float) -> int:
        """Wait until every key arrived or the time is up; return how many arrived."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not keys.issubset(self.received):
            time.sleep(0.05)
        return len(keys & self.received.keys())

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._consumer is not None:
            self._consumer.close()


def _key_of(record: Any) -> str | None:
    if record.key:
        return record.key.decode()
    try:
        return str(json.loads(record.value)["event_id"])
    except (ValueError, KeyError, TypeError):
        return None


def delivery_latencies(samples: list[Sample], received: dict[str, float]) -> list[float]:
    """Seconds from each POST's return to the partner's receipt of its record."""
    return [received[s.key] - s.returned for s in samples if s.key in received]


def ensure_topic(bootstrap: str, topic: str, partitions: int = 3) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="bench-admin")
    try:
        if topic not in admin.list_topics():
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def raw_kafka_latency(bootstrap: str, topic: str, count: int, rate: float) -> list[float]:
    """Seconds from ``send`` to receipt of ``count`` records, each flushed, paced at ``rate``.

    The producer is plain kafka-python with ``acks=all``; the consumer is a
    :class:`Receiver` assigned before the first send.
    """
    ensure_topic(bootstrap, topic)
    receiver = Receiver(bootstrap, topic).start()
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=0)
    sent: dict[str, float] = {}
    try:
        value = json.dumps({"bench": True, "pad": "x" * 600}).encode()
        start = now()
        for i in range(count):
            delay = start + i / rate - now()
            if delay > 0:
                time.sleep(delay)
            key = f"raw-{i}"
            sent[key] = now()
            producer.send(topic, key=key.encode(), value=value)
            producer.flush()
        receiver.wait_for(set(sent), timeout_s=30)
    finally:
        producer.close(timeout=5)
        receiver.close()
    return [receiver.received[k] - t for k, t in sent.items() if k in receiver.received]

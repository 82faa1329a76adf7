"""The faults the campaign injects, on a schedule drawn from a seed and printed
before the run: brokers SIGKILLed while they lead, workers and a web process
SIGKILLed, the Mongo-wire server restarted, the SMTP sink down, the partners'
webhook receiver answering 503, and latency, resets and stalls on the Kafka and
MongoDB links (Toxiproxy). Each fault runs on a thread of its own at its time
and notes when it began and ended (:class:`Injected`), which the checks use as
the outage windows a 503 may fall in."""

from __future__ import annotations

import contextlib
import random
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from kafka import KafkaAdminClient

from chaos.system import System
from deploy import catalog

RESTART_READY_S = 300.0  # how long a restarted process may take to be ready
SUPERVISE_EVERY_S = 2.0  # how often the supervisor looks for exited processes
TOXICS = ("latency", "reset_peer", "timeout")
# Partitions whose leader is killed: the busiest ones of the campaign.
LEADER_TOPICS = ("internal.invitation.issued", "invitation.accepted", "event.published")


@dataclass(frozen=True)
class Fault:
    at_s: float  # seconds after the campaign's start
    kind: str
    target: str
    duration_s: float = 0.0
    attributes: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        how = f" for {self.duration_s:.0f} s" if self.duration_s else ""
        attrs = f" {self.attributes}" if self.attributes else ""
        return f"t+{self.at_s:6.0f} s  {self.kind:<14} {self.target}{how}{attrs}"


@dataclass
class Injected:
    fault: Fault
    began: float  # time.monotonic()
    ended: float | None = None
    detail: str = ""
    error: str = ""

    def as_dict(self, t0: float) -> dict[str, Any]:
        return {
            **asdict(self.fault),
            "began_s": round(self.began - t0, 1),
            "ended_s": None if self.ended is None else round(self.ended - t0, 1),
            "detail": self.detail,
            "error": self.error,
        }


def schedule(seed: int, window_s: float, workers: dict[str, list[str]]) -> list[Fault]:
    """The faults of one run, spread over ``window_s`` seconds, sorted by time."""
    rng = random.Random(seed)
    w = window_s

    def around(share: float, spread: float = 0.04) -> float:
        return round(max(15.0, w * (share + rng.uniform(-spread, spread))), 1)

    faults = [
        Fault(around((k + 0.5) / 5, 0.03), "kill-broker", "leader", rng.randint(10, 30))
        for k in range(5)
    ]
    for names in workers.values():
        for k in range(3):
            target = names[k % len(names)]
            faults.append(Fault(round(rng.uniform(20, w), 1), "kill-worker", target))
    faults += [
        Fault(around(0.42), "kill-web", "invitations-web"),
        Fault(around(0.62), "restart-mongo", "invitations"),
        Fault(around(0.28), "smtp-down", "smtp", 60),
        Fault(around(0.48), "webhooks-503", "receiver", 120),
        Fault(around(0.12), "latency", "kafka", 60, {"latency": 200, "jitter": 100}),
        Fault(around(0.72), "latency", "mongo", 45, {"latency": 200, "jitter": 100}),
        Fault(around(0.34), "reset_peer", "kafka", 10, {"timeout": 500}),
        Fault(around(0.82), "reset_peer", "mongo", 5, {"timeout": 500}),
        Fault(around(0.55), "timeout", "kafka", 15, {"timeout": 0}),
        Fault(around(0.9), "timeout", "mongo", 10, {"timeout": 0}),
    ]
    return sorted(faults, key=lambda f: f.at_s)


def default_workers(system: System) -> dict[str, list[str]]:
    return {s.name: system.workers(s.name) for s in catalog.DEPLOYED}


class Injector:
    """Runs a schedule against a running system."""

    def __init__(self, system: System, faults: list[Fault]) -> None:
        self.system = system
        self.faults = faults
        self.injected: list[Injected] = []
        self.supervised: list[str] = []  # processes that exited by themselves
        self.threads: list[threading.Thread] = []
        self.broker_lock = threading.Lock()  # one broker down at a time
        # A process killed again waits until its last restart is done.
        self.process_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self.t0 = 0.0
        self.stopping = threading.Event()
        self.supervisor = threading.Thread(target=self._supervise, daemon=True)

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.supervisor.start()
        for fault in self.faults:
            thread = threading.Thread(target=self._run, args=(fault,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def wait(self) -> None:
        for thread in self.threads:
            thread.join()

    def stop(self) -> None:
        """End supervision, before the system is taken down: a process stopped at
        the end is not one that exited by itself (and must stay stopped)."""
        self.stopping.set()
        if self.supervisor.is_alive():
            self.supervisor.join()

    @contextlib.contextmanager
    def injecting(self, t0: float) -> Iterator[Injector]:
        """The schedule running and the processes supervised; supervision ends
        with the block, however it ends."""
        self.start(t0)
        try:
            yield self
        finally:
            self.stop()

    def _supervise(self) -> None:
        """Start again any process that exited by itself, as Kubernetes or
        compose would (a fault's own kill is left to the fault), noting it:
        a process that had to be restarted is a finding of the run."""
        while not self.stopping.wait(SUPERVISE_EVERY_S):
            for name, process in self.system.processes.items():
                lock = self.process_locks[name]
                if process.alive or not lock.acquire(blocking=False):
                    continue
                try:
                    code = process.process.returncode if process.process else None
                    at = time.monotonic() - self.t0
                    self.supervised.append(f"t+{at:.0f} s {name} exited ({code}), started again")
                    print(f"  supervisor: {self.supervised[-1]}", flush=True)
                    process.start()
                finally:
                    lock.release()

    def _run(self, fault: Fault) -> None:
        time.sleep(max(0.0, self.t0 + fault.at_s - time.monotonic()))
        record = Injected(fault, time.monotonic())
        self.injected.append(record)
        try:
            if fault.kind in TOXICS:
                record.detail = self._toxic(fault)
            else:
                action: Callable[[Fault], str] = getattr(self, "_" + fault.kind.replace("-", "_"))
                record.detail = action(fault)
        except Exception as exc:  # a fault that could not be injected is reported
            record.error = f"{exc.__class__.__name__}: {exc}"
            traceback.print_exc()
        record.ended = time.monotonic()
        print(f"  fault: {fault.describe()} -> {record.detail or record.error}", flush=True)

    def _kill_broker(self, fault: Fault) -> str:
        with self.broker_lock:
            node = self._leader()
            broker = self.system.cluster.brokers[node]
            broker.kill()
            time.sleep(fault.duration_s)
            broker.start(timeout=180)
            return f"broker {node} killed, restarted after {fault.duration_s:.0f} s"

    def _leader(self) -> int:
        admin = KafkaAdminClient(bootstrap_servers=self.system.cluster.bootstrap)
        try:
            for topic in admin.describe_topics(list(LEADER_TOPICS)):
                for partition in topic["partitions"]:
                    if partition["leader_id"] in self.system.cluster.brokers:
                        return int(partition["leader_id"])
        finally:
            admin.close()
        return next(iter(self.system.cluster.brokers))

    def _kill_worker(self, fault: Fault) -> str:
        return self._kill(fault.target, pause_s=2.0)

    def _kill_web(self, fault: Fault) -> str:
        return self._kill(fault.target, pause_s=3.0) + " (under load)"

    def _kill(self, name: str, pause_s: float) -> str:
        """SIGKILL process ``name``, start it again after ``pause_s``; how long it
        then took to be ready (its consumer holding partitions, for a worker)."""
        with self.process_locks[name]:
            self.system.processes[name].kill()
            time.sleep(pause_s)
            started = time.monotonic()
            self.system.processes[name].start()
            ready = self.system.wait_ready(name, timeout=RESTART_READY_S)
            took = time.monotonic() - started
            if not ready:
                return f"SIGKILLed, restarted, NOT ready after {took:.0f} s"
            return f"SIGKILLed, restarted, ready in {took:.1f} s"

    def _restart_mongo(self, fault: Fault) -> str:
        started = time.monotonic()
        self.system.mongos[fault.target].restart(timeout=120)
        return f"restarted in {time.monotonic() - started:.1f} s"

    def _smtp_down(self, fault: Fault) -> str:
        self.system.sink.down()
        time.sleep(fault.duration_s)
        self.system.sink.up()
        return "down, then up again"

    def _webhooks_503(self, fault: Fault) -> str:
        self.system.receiver.outage = 503
        time.sleep(fault.duration_s)
        self.system.receiver.outage = None
        return "answered 503, then 200 again"

    def _toxic(self, fault: Fault) -> str:
        system = self.system
        proxies = system.kafka_proxies if fault.target == "kafka" else system.mongo_proxies
        # Latency on the answers only: the round trip grows by it once.
        streams = ("downstream",) if fault.kind == "latency" else ("upstream", "downstream")
        name = f"{fault.kind}-{int(fault.at_s)}"
        tp = system.toxiproxy
        for proxy in proxies:
            tp.add_toxic(proxy, name, fault.kind, streams, **fault.attributes)
        time.sleep(fault.duration_s)
        for proxy in proxies:
            tp.remove_toxic(proxy, name, streams)
        return f"on {', '.join(proxies)}"

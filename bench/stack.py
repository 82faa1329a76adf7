"""What the benchmark runs: Kafka and MongoDB (its own, or external ones) and the
service processes under test, each stopped again however the run ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.kafka import KafkaServer
from deploy.local.mongo import MongoServer
from deploy.local.ports import free_port

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = "shared/gunicorn_conf.py"


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def begin_run() -> float:
    """Start a benchmark run: SIGTERM, and SIGINT even where a shell ignores it,
    unwind through every clean-up; the 1-minute load average at the start (said
    when other work would skew the figures), to report beside them."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    load_before = round(os.getloadavg()[0], 2)
    if load_before > 0.5:
        print(f"Note: the 1-minute load average is {load_before}; other work skews the figures.")
    return load_before


@dataclass(frozen=True)
class Infra:
    """Where Kafka and MongoDB are, what they are, and their process groups (local
    only). ``own_mongo`` names the services with a Mongo-wire server of their own,
    as each has its own MongoDB in production; the others share ``mongo_uri``."""

    kafka_bootstrap: str
    mongo_uri: str
    description: str
    groups: dict[str, int] = field(default_factory=dict)
    own_mongo: dict[str, str] = field(default_factory=dict)

    def mongo_uri_of(self, service: str) -> str:
        return self.own_mongo.get(service, self.mongo_uri)

    def mongo_env(self, service: str) -> dict[str, str]:
        """The ``MLP_<SERVICE>_MONGO_URI`` of a service with a server of its own."""
        if service not in self.own_mongo:
            return {}
        return {f"MLP_{service.upper()}_MONGO_URI": self.own_mongo[service]}

    @property
    def mongo_groups(self) -> list[str]:
        """The names in ``groups`` of the database servers' processes."""
        return [name for name in self.groups if name == "mongo" or name.startswith("mongo-")]


@contextlib.contextmanager
def infrastructure(data_dir: Path, own_mongo: tuple[str, ...] = ()) -> Iterator[Infra]:
    """Start Kafka and MongoDB on free ports (or use ``MLP_BENCH_INFRA=external`` ones),
    and a Mongo-wire server of its own for each service of ``own_mongo`` (local only)."""
    mode = os.environ.get("MLP_BENCH_INFRA", "local").strip().lower() or "local"
    if mode == "external":
        bootstrap = os.environ.get("MLP_KAFKA_BOOTSTRAP", "")
        uri = os.environ.get("MLP_MONGO_URI", "")
        if not bootstrap or not uri:
            raise SystemExit(
                "MLP_BENCH_INFRA=external needs MLP_KAFKA_BOOTSTRAP and MLP_MONGO_URI."
            )
        yield Infra(bootstrap, uri, "external")
        return
    if mode != "local":
        raise SystemExit(f"MLP_BENCH_INFRA must be 'local' or 'external', got {mode!r}.")
    kafka = KafkaServer(free_port(), free_port(), data_dir / "kafka")
    mongo = MongoServer(free_port(), data_dir / "mongo")
    own = {name: MongoServer(free_port(), data_dir / f"mongo-{name}") for name in own_mongo}
    servers = [mongo, *own.values()]
    try:
        print("Starting Kafka and MongoDB ...", flush=True)
        kafka.start()
        for server in servers:
            server.start()
        groups = {"kafka": _pid(kafka.process), "mongo": _pid(mongo.process)}
        groups |= {f"mongo-{name}": _pid(server.process) for name, server in own.items()}
        servers_said = f" ({len(servers)} servers)" if own else ""
        yield Infra(
            kafka.bootstrap,
            mongo.uri,
            f"local Kafka + {mongo.engine}{servers_said}",
            groups,
            {name: server.uri for name, server in own.items()},
        )
    finally:
        for server in servers:
            server.stop()
        kafka.stop()


def _pid(popen: subprocess.Popen[bytes] | None) -> int:
    assert popen is not None
    return popen.pid


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(groups: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) used so far by every live process of each process group."""
    totals = dict.fromkeys(groups, 0.0)
    by_pgid = {pgid: name for name, pgid in groups.items()}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        name = by_pgid.get(int(fields[2]))
        if name is not None:
            totals[name] += (int(fields[11]) + int(fields[12])) / TICK
    return totals


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}

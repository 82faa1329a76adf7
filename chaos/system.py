"""The system under test, as real processes: Toxiproxy, the three-broker cluster
behind it, a Mongo-wire server per service (as in production) behind it too,
the SMTP sink, a partner's
webhook receiver, and every service of :mod:`deploy.catalog` (gunicorn ``web``
and ``worker``; two workers for the services of ``TWO_WORKERS``)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from chaos.cluster import REPLICATION, Cluster
from chaos.mailsink import MailSink
from chaos.toxiproxy import Toxiproxy
from deploy import catalog
from deploy.local import services
from deploy.local.mongo import MongoServer
from deploy.local.ports import restartable_port
from deploy.local.settings import LocalStack
from devkit.auth import JWT_SECRET
from devkit.webhooks import Receiver
from shared.bus import ensure_topics
from shared.config import LOOPBACK, Settings, local_mongo_uri

# The services whose consumer group has two members, so a kill leaves one working.
# Not notifications: its two workers' transactions conflicted (a third aborted)
# and its database was the campaign's bottleneck.
TWO_WORKERS = ("invitations", "documents")


@dataclass
class System:
    toxiproxy: Toxiproxy
    cluster: Cluster
    mongos: dict[str, MongoServer]  # service -> its server (the services reach it by proxy)
    sink: MailSink
    receiver: Receiver
    stack: LocalStack
    processes: dict[str, services.ServiceProcess] = field(default_factory=dict)
    worker_urls: dict[str, str] = field(default_factory=dict)

    @property
    def kafka_proxies(self) -> list[str]:
        return [f"kafka-{p.node_id}" for p in self.cluster.ports]

    @property
    def mongo_proxies(self) -> list[str]:
        return [f"mongo-{name}" for name in self.mongos]

    def mongo_uri(self, service: str) -> str:
        """Where the campaign's checks reach ``service``'s database (not by proxy)."""
        return self.mongos[service].uri

    def url(self, service: str) -> str:
        return self.stack.service_url(service)

    def workers(self, service: str) -> list[str]:
        return [name for name in self.processes if name.startswith(f"{service}-worker")]

    def settings(self) -> Settings:
        """Settings of the campaign's own Kafka clients (topics, checks)."""
        return Settings(
            service="chaos", kafka_bootstrap=self.cluster.bootstrap, kafka_replication=REPLICATION
        )

    def ready_url(self, name: str) -> str:
        if name.endswith("-web"):
            return f"{self.url(name.split('-', 1)[0])}/readyz"
        return f"{self.worker_urls[name]}/readyz"

    def wait_ready(self, name: str, timeout: float = 120.0) -> bool:
        """Whether process ``name`` answered its readiness probe within ``timeout``."""
        try:
            services.wait_ready(self.processes[name], self.ready_url(name), timeout)
        except RuntimeError:
            return False
        return True

    def tails(self, lines: int = 15) -> str:
        return "\n".join(f"--- {n}\n{p.tail(lines)}" for n, p in self.processes.items())


def _service_env(system: System, service: str, metrics_port: int) -> dict[str, str]:
    return {
        **system.stack.environment(),
        "MLP_ENV": "test",
        "MLP_JWT_SECRET": JWT_SECRET,
        "MLP_LOG_LEVEL": "WARNING",
        "MLP_KAFKA_REPLICATION": str(REPLICATION),
        "MLP_RSVP_RATE_LIMIT": "0",  # one client address drives all the load
        "MLP_WEBHOOK_ALLOW_LOOPBACK": "true",
        "MLP_PUBLIC_BASE_URL": system.url(service),
        f"MLP_{service.upper()}_WORKER_METRICS_PORT": str(metrics_port),
    }


def _processes(system: System, logs: Path, broken: bool) -> None:
    for s in catalog.DEPLOYED:
        web_env = _service_env(system, s.name, 0)
        system.processes[f"{s.name}-web"] = services.web(
            s.name, system.stack.service_ports[s.name], web_env, logs
        )
        for n in range(2 if s.name in TWO_WORKERS else 1):
            name = f"{s.name}-worker" + (f"-{n + 1}" if n else "")
            port = restartable_port()
            env = _service_env(system, s.name, port)
            module = "chaos.broken" if broken else services.worker_module(s.name)
            process = services.python_module(name, module, env, logs)
            if broken:
                process.command.append(services.worker_module(s.name))
            process.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            system.processes[name] = process
            system.worker_urls[name] = f"http://{LOOPBACK}:{port}"


@contextlib.contextmanager
def running(workdir: Path, *, broken: bool = False) -> Iterator[System]:
    """Everything started and ready; stopped again however the campaign ends.
    ``broken``: the workers run :mod:`chaos.broken` (commit before handling)."""
    toxiproxy = Toxiproxy(workdir / "toxiproxy")
    cluster = Cluster(workdir)
    mongos = {
        s.name: MongoServer(restartable_port(), workdir / f"mongo-{s.name}")
        for s in catalog.DEPLOYED
    }
    mongo_proxy_ports = {name: restartable_port() for name in mongos}
    sink = MailSink()
    receiver = Receiver()
    environ = {
        "MLP_KAFKA_BOOTSTRAP": cluster.bootstrap,
        **{
            f"MLP_{name.upper()}_MONGO_URI": local_mongo_uri(port)
            for name, port in mongo_proxy_ports.items()
        },
        "MLP_SMTP_PORT": str(sink.port),
        **{f"MLP_{s.upper}_PORT": str(restartable_port()) for s in catalog.DEPLOYED},
    }
    stack = LocalStack.from_environ(environ)
    system = System(toxiproxy, cluster, mongos, sink, receiver, stack)
    try:
        print("Starting Toxiproxy, three Kafka brokers and the Mongo-wire servers ...", flush=True)
        toxiproxy.start()
        for p in cluster.ports:
            toxiproxy.proxy(f"kafka-{p.node_id}", p.advertised, p.client)
        for name, server in mongos.items():
            toxiproxy.proxy(f"mongo-{name}", mongo_proxy_ports[name], server.port)
        cluster.start()
        for server in mongos.values():
            server.start()
        sink.up()
        ensure_topics(system.settings())
        _processes(system, workdir / "logs", broken)
        print(f"Starting {len(system.processes)} service processes ...", flush=True)
        for process in system.processes.values():
            process.start()
        for name, process in system.processes.items():
            services.wait_ready(process, system.ready_url(name), timeout=180.0)
        yield system
    finally:
        for process in system.processes.values():
            process.stop(timeout=15)
        sink.down()
        receiver.close()
        cluster.stop()
        for server in mongos.values():
            server.stop()
        toxiproxy.stop()


def web_is_up(url: str) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(f"{url}/healthz", timeout=2).ok
    return False


if __name__ == "__main__":  # bring the system up, say where, and wait: a manual look
    import tempfile
    import time

    with tempfile.TemporaryDirectory(prefix="mlp-chaos-") as tmp, running(Path(tmp)) as s:
        print({name: s.url(name) for name in s.stack.service_ports}, file=sys.stderr)
        print(f"up; logs in {tmp}/logs; pid {os.getpid()}", flush=True)
        time.sleep(float(os.environ.get("CHAOS_HOLD_S", "30")))

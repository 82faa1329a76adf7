"""The settings of the local stack (``make run``, ``python -m deploy.local``),
read from the environment once.

With nothing set, every value is a constant of :mod:`shared.config`, the same
ones the services fall back to, so the servers and the services meet without
anyone exporting a default. Each service gets a Mongo-wire server of its own
(as in production), on ``MLP_MONGO_PORT`` + its port - 8000 (27018, 27019,
...). Setting ``MLP_KAFKA_PORT`` or ``MLP_MONGO_PORT`` moves the local servers,
and the connection strings the services get follow them
(:meth:`LocalStack.environment`); ``MLP_KAFKA_BOOTSTRAP``, ``MLP_MONGO_URI``
(every service) or ``MLP_<SERVICE>_MONGO_URI`` (one) name servers someone else
runs, which the stack does not start. The services are those of :mod:`deploy.catalog`, each on
``MLP_<NAME>_PORT`` or its ``config.DEFAULT_PORT``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy import catalog
from shared.config import (
    DEFAULT_KAFKA_BOOTSTRAP,
    DEVELOPMENT_JWT_SECRET,
    LOCAL_KAFKA_CONTROLLER_PORT,
    LOCAL_KAFKA_PORT,
    LOCAL_MAIL_DIR,
    LOCAL_MONGO_PORT,
    LOCAL_SMTP_PORT,
    LOOPBACK,
    Env,
    local_mongo_port,
    local_mongo_uri,
)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
KAFKA_DATA_DIR = "var/kafka"
MONGO_DATA_DIR = "var/mongo"


@dataclass(frozen=True)
class LocalStack:
    """Where each piece of the local stack listens and keeps its data."""

    kafka_port: int = LOCAL_KAFKA_PORT
    kafka_controller_port: int = LOCAL_KAFKA_CONTROLLER_PORT
    kafka_bootstrap: str = DEFAULT_KAFKA_BOOTSTRAP
    kafka_data_dir: Path = Path(KAFKA_DATA_DIR)
    mongo_port: int = LOCAL_MONGO_PORT
    # What each service connects to, and the servers the stack starts for them:
    # one per service (as in production), unless MLP_MONGO_URI or
    # MLP_<SERVICE>_MONGO_URI names a server someone else runs.
    mongo_uris: Mapping[str, str] = field(default_factory=dict)
    local_mongo_ports: Mapping[str, int] = field(default_factory=dict)
    mongo_data_dir: Path = Path(MONGO_DATA_DIR)
    smtp_host: str = LOOPBACK
    smtp_port: int = LOCAL_SMTP_PORT
    mail_dir: Path = Path(LOCAL_MAIL_DIR)
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    service_ports: Mapping[str, int] = field(default_factory=dict)
    # Where each worker answers /readyz and /metrics.
    worker_ports: Mapping[str, int] = field(default_factory=dict)
    # Where the catalogue links papers (the documents service) and itself: where they listen.
    public_urls: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LocalStack:
        """The stack the ``MLP_`` variables of ``environ`` (default: this process's) ask for."""
        env = Env(environ)
        kafka_port = env.int("KAFKA_PORT", LOCAL_KAFKA_PORT)
        mongo_port = env.int("MONGO_PORT", LOCAL_MONGO_PORT)
        mongo_uris: dict[str, str] = {}
        local_mongo_ports: dict[str, int] = {}
        for s in catalog.DEPLOYED:
            given = env.str(f"{s.upper}_MONGO_URI", "") or env.str("MONGO_URI", "")
            if given:
                mongo_uris[s.name] = given
            else:
                local_mongo_ports[s.name] = local_mongo_port(s.port, mongo_port)
                mongo_uris[s.name] = local_mongo_uri(local_mongo_ports[s.name])
        ports = {s.name: env.int(f"{s.upper}_PORT", s.port) for s in catalog.DEPLOYED}
        public_urls = {
            f"MLP_{name.upper()}_PUBLIC_URL": env.str(
                f"{name.upper()}_PUBLIC_URL", f"http://{LOOPBACK}:{ports[name]}"
            )
            for name in ("documents", "catalogue")
            if name in ports
        }
        return cls(
            kafka_port=kafka_port,
            kafka_controller_port=env.int("KAFKA_CONTROLLER_PORT", LOCAL_KAFKA_CONTROLLER_PORT),
            kafka_bootstrap=env.str("KAFKA_BOOTSTRAP", f"{LOOPBACK}:{kafka_port}"),
            kafka_data_dir=Path(env.str("KAFKA_DATA_DIR", KAFKA_DATA_DIR)),
            mongo_port=mongo_port,
            mongo_uris=mongo_uris,
            local_mongo_ports=local_mongo_ports,
            mongo_data_dir=Path(env.str("MONGO_DATA_DIR", MONGO_DATA_DIR)),
            smtp_host=env.str("SMTP_HOST", LOOPBACK),
            smtp_port=env.int("SMTP_PORT", LOCAL_SMTP_PORT),
            mail_dir=Path(env.str("MAIL_DIR", LOCAL_MAIL_DIR)),
            jwt_secret=env.str("JWT_SECRET", DEVELOPMENT_JWT_SECRET),
            service_ports=ports,
            worker_ports={
                s.name: env.int(f"{s.upper}_WORKER_METRICS_PORT", s.worker_metrics_port)
                for s in catalog.DEPLOYED
            },
            public_urls=public_urls,
        )

    @property
    def runs_kafka(self) -> bool:
        """Whether the bootstrap servers are the one local broker on ``kafka_port``."""
        servers = [s for s in self.kafka_bootstrap.split(",") if s.strip()]
        if len(servers) != 1:
            return False
        host, port = _host_port(servers[0], LOCAL_KAFKA_PORT)
        return host in LOCAL_HOSTS and port == self.kafka_port

    @property
    def runs_mongo(self) -> bool:
        """Whether the stack starts any Mongo-wire server (one per service)."""
        return bool(self.local_mongo_ports)

    def mongo_dir(self, service: str) -> Path:
        """Where the local server of ``service`` keeps its data."""
        return self.mongo_data_dir / service

    def websites(self) -> dict[str, str]:
        """``service -> URL`` of the public websites the services serve."""
        return {
            s.name: f"{self.service_url(s.name)}{s.website}"
            for s in catalog.DEPLOYED
            if s.website and s.name in self.service_ports
        }

    def service_url(self, name: str) -> str:
        """Where the ``web`` process of service ``name`` answers."""
        return f"http://{LOOPBACK}:{self.service_ports[name]}"

    def worker_url(self, name: str) -> str:
        """Where the ``worker`` of service ``name`` answers ``/readyz`` and ``/metrics``."""
        return f"http://{LOOPBACK}:{self.worker_ports[name]}"

    def environment(self) -> dict[str, str]:
        """The ``MLP_`` variables every process of the stack gets, so that the
        services connect where the stack's servers listen."""
        env = {
            "MLP_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            **{f"MLP_{name.upper()}_MONGO_URI": uri for name, uri in self.mongo_uris.items()},
            "MLP_SMTP_HOST": self.smtp_host,
            "MLP_SMTP_PORT": str(self.smtp_port),
        }
        env.update(self.public_urls)
        return env


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    if not host:
        return port, default_port
    return host.strip("[]"), int(port) if port.isdigit() else default_port

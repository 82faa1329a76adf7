"""Kafka, MongoDB and SMTP for the test suite, chosen by ``MLP_TEST_INFRA``.

- unset or ``local``: real servers started as plain processes on free ports, with
  their data in pytest's temp folder (``deploy/local/kafka.py``, ``mongo.py``); nothing in ``var/``.
- ``external``: the servers named by ``MLP_KAFKA_BOOTSTRAP`` and ``MLP_MONGO_URI``
  (MongoDB must be a replica set: the services use transactions).
- ``docker``: testcontainers' ``KafkaContainer`` (KRaft) and ``MongoDbContainer``
  started as a one-member replica set without authentication (MongoDB refuses a
  replica set with authentication but without a key file).

Brokers that fault tests stop and restart (``kafka_factory``) exist only in ``local``.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from deploy.local.kafka import KafkaServer, SaslListeners
from deploy.local.mongo import MongoServer, initiate_replica_set, mongo_answers
from deploy.local.ports import free_port

MODES = ("local", "external", "docker")


class KafkaHandle(Protocol):
    """What tests need from a Kafka: where to connect."""

    @property
    def bootstrap(self) -> str: ...


class MongoHandle(Protocol):
    """What tests need from a MongoDB: where to connect."""

    @property
    def uri(self) -> str: ...


@dataclass(frozen=True)
class ExternalKafka:
    """A Kafka somebody else runs."""

    bootstrap: str


@dataclass(frozen=True)
class ExternalMongo:
    """A MongoDB somebody else runs."""

    uri: str


def infra_mode() -> str:
    """The value of ``MLP_TEST_INFRA`` (default ``local``), checked."""
    mode = os.environ.get("MLP_TEST_INFRA", "local").strip().lower() or "local"
    if mode not in MODES:
        raise RuntimeError(f"MLP_TEST_INFRA must be one of {', '.join(MODES)}, got {mode!r}.")
    return mode


def _required_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"MLP_TEST_INFRA=external needs {name}.")
    return value


def start_kafka(data_dir: Path) -> tuple[KafkaHandle, Callable[[], None]]:
    """Start (or locate) the session's Kafka; return it and its teardown."""
    mode = infra_mode()
    if mode == "external":
        return ExternalKafka(_required_env("MLP_KAFKA_BOOTSTRAP")), lambda: None
    if mode == "docker":
        from testcontainers.community.kafka import KafkaContainer

        container: Any = (
            KafkaContainer("confluentinc/cp-kafka:7.6.0")
            .with_kraft()
            .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        )
        container.start()
        return ExternalKafka(container.get_bootstrap_server()), container.stop
    server = KafkaServer(free_port(), free_port(), data_dir).start()
    return server, server.stop


def start_mongo(data_dir: Path) -> tuple[MongoHandle, Callable[[], None]]:
    """Start (or locate) the session's MongoDB; return it and its teardown."""
    mode = infra_mode()
    if mode == "external":
        return ExternalMongo(_required_env("MLP_MONGO_URI")), lambda: None
    if mode == "docker":
        from testcontainers.community.mongodb import MongoDbContainer

        class ReplicaSetMongo(MongoDbContainer):
            """``mongod --replSet rs0`` without a root user (no auth, so no key file)."""

            def _configure(self) -> None:
                pass

        container: Any = ReplicaSetMongo("mongo:7.0").with_command("--replSet rs0 --bind_ip_all")
        container.start()
        host, port = container.get_container_host_ip(), container.get_exposed_port(27017)
        uri = f"mongodb://{host}:{port}/?directConnection=true"
        deadline = time.monotonic() + 60
        while not mongo_answers(uri, need_primary=True):
            if time.monotonic() > deadline:
                container.stop()
                raise RuntimeError("The MongoDB container did not become a primary in 60 s.")
            initiate_replica_set(uri, "localhost:27017")
            time.sleep(0.5)
        return ExternalMongo(uri), container.stop
    server = MongoServer(free_port(), data_dir).start()
    return server, server.stop


class KafkaFactory:
    """Starts fresh brokers of their own (ports, data) and stops them all at teardown."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.servers: list[KafkaServer] = []

    def __call__(self, *, sasl: bool = False) -> KafkaServer:
        """A new running broker; call ``stop``/``kill``/``restart`` on it freely.

        ``sasl``: authenticated as in docker-compose.yml (SCRAM clients, the
        admin on ``server.sasl``'s internal listener, ACLs enforced).
        """
        listeners = SaslListeners(secrets.token_hex(16), free_port()) if sasl else None
        server = KafkaServer(
            free_port(),
            free_port(),
            self.base_dir / f"kafka-{len(self.servers) + 1}",
            sasl=listeners,
        )
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        """Stop every broker this factory started."""
        for server in self.servers:
            server.stop()

"""The real Apache Kafka broker in combined broker+controller KRaft mode on
loopback, as a plain local process (its jars: :mod:`deploy.local.jars`).

``make run`` runs it in the foreground (:meth:`KafkaServer.run_foreground`); the
test fixtures in ``tests/infra.py`` and the benchmarks start and stop brokers of
their own on free ports with data in a temporary folder.

Locally the broker speaks PLAINTEXT on loopback. With :class:`SaslListeners` it
authenticates and authorises everyone the way ``docker-compose.yml`` does (the
listener layout, mechanisms and JAAS file below are the ones the compose file
is generated from): clients log in with SCRAM-SHA-512 on the client listener,
the provisioning admin, a super user that is also the broker's own login, with
PLAIN on the internal and controller listeners, and the StandardAuthorizer
denies whatever no ACL allows.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.local.errors import StartError
from deploy.local.jars import ensure_kafka_jars, kafka_libs_dir
from deploy.local.ports import port_in_use, refuse_taken_port
from deploy.local.process import START_TIMEOUT, ServerProcess, require_command
from shared.config import LOOPBACK

LOG4J_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"

# --- the authenticated broker (compose, production-like, one integration test) ---

ADMIN_USER = "admin"  # the super user: provisioning, and the broker's own logins
CLIENT_MECHANISM = "SCRAM-SHA-512"  # services and partners (users live in the metadata log)
ADMIN_MECHANISM = "PLAIN"  # static JAAS users: usable before any SCRAM user exists
CLIENT_LISTENERS = ("CLIENT",)  # compose adds HOST (partners outside the network)
INTERNAL_LISTENERS = ("INTERNAL", "CONTROLLER")
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def sasl_properties(client_listeners: tuple[str, ...] = CLIENT_LISTENERS) -> dict[str, str]:
    """The broker properties of the authenticated layout, ports aside.

    The admin logs in with PLAIN against static JAAS users, so provisioning
    works on a fresh cluster before any SCRAM user exists, and the broker's own
    connections (to its controller, to itself for transactions) need nothing
    from the metadata log either. Every listener is SASL; the admin's are not
    meant to be published.
    """
    props = {
        "listener.security.protocol.map": ",".join(
            f"{name}:SASL_PLAINTEXT" for name in (*client_listeners, *INTERNAL_LISTENERS)
        ),
        "inter.broker.listener.name": "INTERNAL",
        "controller.listener.names": "CONTROLLER",
        "sasl.mechanism.inter.broker.protocol": ADMIN_MECHANISM,
        "sasl.mechanism.controller.protocol": ADMIN_MECHANISM,
    }
    for name in client_listeners:
        props[f"listener.name.{name.lower()}.sasl.enabled.mechanisms"] = CLIENT_MECHANISM
    for name in INTERNAL_LISTENERS:
        props[f"listener.name.{name.lower()}.sasl.enabled.mechanisms"] = ADMIN_MECHANISM
    props.update(
        {
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{ADMIN_USER}",
        }
    )
    return props


def jaas_config(admin_password: str, client_listeners: tuple[str, ...] = CLIENT_LISTENERS) -> str:
    """The broker's JAAS file (``-Djava.security.auth.login.config``): one
    section per listener, SCRAM on the client ones, the static admin on the others."""
    if any(c in admin_password for c in '"\\\n'):
        raise ValueError(
            "the Kafka admin password must not contain quotes, backslashes or newlines"
        )
    admin = (
        f"  {PLAIN_LOGIN} required\n"
        f'  username="{ADMIN_USER}" password="{admin_password}" '
        f'user_{ADMIN_USER}="{admin_password}";\n'
    )
    sections = [
        f"{name.lower()}.KafkaServer {{\n  {SCRAM_LOGIN} required;\n}};\n"
        for name in client_listeners
    ]
    sections += [f"{name.lower()}.KafkaServer {{\n{admin}}};\n" for name in INTERNAL_LISTENERS]
    return "".join(sections)


@dataclass(frozen=True)
class SaslListeners:
    """Run the broker authenticated (see :func:`sasl_properties`): SCRAM clients
    on the server's ``port``, the admin on ``internal_port``."""

    admin_password: str
    internal_port: int

    def admin_client_config(self) -> dict[str, Any]:
        """kafka-python settings of the admin on the internal listener."""
        return {
            "bootstrap_servers": f"{LOOPBACK}:{self.internal_port}",
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": ADMIN_MECHANISM,
            "sasl_plain_username": ADMIN_USER,
            "sasl_plain_password": self.admin_password,
        }


def new_cluster_id() -> str:
    """A Kafka cluster id, as ``StorageTool random-uuid`` makes it, without a JVM."""
    while True:
        raw = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not raw.startswith("-"):
            return raw


class KafkaServer(ServerProcess):
    """One Apache Kafka broker+controller (KRaft) on loopback."""

    name = "kafka"

    def __init__(
        self,
        port: int,
        controller_port: int,
        data_dir: Path,
        log_file: Path | None = None,
        heap: str = "512m",
        sasl: SaslListeners | None = None,
    ) -> None:
        super().__init__(data_dir, log_file)
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.sasl = sasl
        self.cluster_id = new_cluster_id()

    def format_options(self) -> list[str]:
        """How the storage is formatted: a quorum of this one controller."""
        return ["--standalone"]

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` value that reaches this broker."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def properties_file(self) -> Path:
        """The broker's ``server.properties``."""
        return self.data_dir / "server.properties"

    @property
    def jaas_file(self) -> Path:
        """The broker's JAAS file (written only in SASL mode)."""
        return self.data_dir / "kafka_server_jaas.conf"

    @property
    def log_dir(self) -> Path:
        """The folder holding the broker's partitions and metadata log."""
        return self.data_dir / "data"

    def properties(self) -> dict[str, str]:
        """``server.properties`` for the current ports and data folder, as a dict."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{LOOPBACK}:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.log_dir.resolve()),
            "num.partitions": "3",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        if self.sasl is not None:
            internal = f"{LOOPBACK}:{self.sasl.internal_port}"
            props.update(sasl_properties())
            props["listeners"] = (
                f"CLIENT://{self.bootstrap},INTERNAL://{internal},"
                f"CONTROLLER://{LOOPBACK}:{self.controller_port}"
            )
            props["advertised.listeners"] = f"CLIENT://{self.bootstrap},INTERNAL://{internal}"
        return props

    def write_properties(self) -> Path:
        """Write ``server.properties`` (and in SASL mode the JAAS file)."""
        props = self.properties()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.sasl is not None:
            self.jaas_file.write_text(jaas_config(self.sasl.admin_password))
            self.jaas_file.chmod(0o600)
        text = "".join(f"{key}={value}\n" for key, value in props.items())
        self.properties_file.write_text(text)
        return self.properties_file

    def _java(self, main: str, *args: str, heap: str | None = None) -> list[str]:
        java = require_command("java", "a Java 17+ runtime runs the local Kafka broker")
        command = [java]
        if heap:
            command.append(f"-Xmx{heap}")
        if self.sasl is not None:
            command.append(f"-Djava.security.auth.login.config={self.jaas_file.resolve()}")
        command += [
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{kafka_libs_dir()}/*",
            main,
            *args,
        ]
        return command

    def prepare(self) -> list[str]:
        """Fetch jars, write the config and format storage if needed; return the java command."""
        ensure_kafka_jars()
        props = self.write_properties()
        if not (self.log_dir / "meta.properties").exists():
            result = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    *self.format_options(),
                    "--ignore-formatted",
                    "-t",
                    self.cluster_id,
                    "-c",
                    str(props),
                    heap="256m",
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise StartError(
                    f"Formatting Kafka storage in {self.log_dir} failed:\n"
                    f"{result.stdout}{result.stderr}"
                )
        return self._java("kafka.Kafka", str(props), heap=self.heap)

    def _check_ports(self) -> None:
        hint = (
            "set MLP_KAFKA_PORT/MLP_KAFKA_CONTROLLER_PORT, "
            "or MLP_KAFKA_BOOTSTRAP to use another Kafka"
        )
        refuse_taken_port(self.port, "Kafka", hint)
        refuse_taken_port(self.controller_port, "Kafka controller", hint)
        if self.sasl is not None:
            refuse_taken_port(self.sasl.internal_port, "Kafka internal listener", hint)

    def start(self, timeout: float = START_TIMEOUT) -> KafkaServer:
        """Start the broker and wait until it answers metadata requests."""
        if self.running:
            return self
        self._check_ports()
        command = self.prepare()
        self._spawn(command)
        self._wait_ready(timeout)
        return self

    def _ready(self) -> bool:
        if not port_in_use(LOOPBACK, self.port):
            return False
        if self.sasl is not None:
            return kafka_answers(**self.sasl.admin_client_config())
        return kafka_answers(self.bootstrap)

    def restart(self, timeout: float = START_TIMEOUT) -> KafkaServer:
        """Stop and start again on the same ports with the same data."""
        self.stop()
        return self.start(timeout)

    def run_foreground(self) -> None:
        """Replace this process with the broker, so signals reach java directly."""
        self._check_ports()
        command = self.prepare()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(command[0], command)  # noqa: S606 - hand signals to the server


def kafka_answers(bootstrap_servers: str, timeout_ms: int = 3000, **client: Any) -> bool:
    """Whether the Kafka cluster at ``bootstrap_servers`` answers a metadata
    request (``client``: kafka-python security settings, when it authenticates)."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
            client_id="mlp-infra-probe",
            **client,
        )
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            admin.close()

"""The real Apache Kafka broker in combined broker+controller KRaft mode on
loopback, as a plain local process (its jars: :mod:`deploy.local.jars`).

``make run`` runs it in the foreground (:meth:`KafkaServer.run_foreground`); the
test fixtures in ``tests/infra.py`` and the benchmarks start and stop brokers of
their own on free ports with data in a temporary folder.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
from pathlib import Path

from deploy.local.errors import StartError
from deploy.local.jars import ensure_kafka_jars, kafka_libs_dir
from deploy.local.ports import port_in_use, refuse_taken_port
from deploy.local.process import START_TIMEOUT, ServerProcess, require_command
from shared.config import LOOPBACK

LOG4J_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"


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
    ) -> None:
        super().__init__(data_dir, log_file)
        self.port = port
        self.controller_port = controller_port
        self.heap = heap

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` value that reaches this broker."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def properties_file(self) -> Path:
        """The broker's ``server.properties``."""
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        """The folder holding the broker's partitions and metadata log."""
        return self.data_dir / "data"

    def write_properties(self) -> Path:
        """Write ``server.properties`` for the current ports and data folder."""
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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in props.items())
        self.properties_file.write_text(text)
        return self.properties_file

    def _java(self, main: str, *args: str, heap: str | None = None) -> list[str]:
        java = require_command("java", "a Java 17+ runtime runs the local Kafka broker")
        command = [java]
        if heap:
            command.append(f"-Xmx{heap}")
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
                    "--standalone",
                    "--ignore-formatted",
                    "-t",
                    new_cluster_id(),
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


def kafka_answers(bootstrap: str, timeout_ms: int = 3000) -> bool:
    """Whether the Kafka cluster at ``bootstrap`` answers a metadata request."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
            client_id="mlp-infra-probe",
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

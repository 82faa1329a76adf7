"""A three-broker KRaft cluster on loopback: three ``kafka.Kafka`` processes from
the local stack's jars, each broker and controller, a static quorum of three
controllers, topics replicated three times with ``min.insync.replicas=2``.

Clients reach each broker through its Toxiproxy proxy (the broker advertises the
proxy's port on its ``CLIENT`` listener); the brokers talk to each other on an
``INTERNAL`` listener and to the quorum on ``CONTROLLER``, both unproxied, so a
toxic on the clients' links does not split the cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploy.local.kafka import KafkaServer, kafka_answers, new_cluster_id
from deploy.local.ports import port_in_use, restartable_port
from shared.config import LOOPBACK

REPLICATION = 3
MIN_INSYNC = 2


@dataclass(frozen=True)
class BrokerPorts:
    """Where broker ``node_id`` listens: ``client`` (behind ``advertised``, the
    proxy's port), ``internal`` and ``controller``."""

    node_id: int
    client: int
    advertised: int
    internal: int
    controller: int

    @classmethod
    def free(cls, node_id: int) -> BrokerPorts:
        ports = (restartable_port() for _ in range(4))
        return cls(node_id, *ports)


class ClusterBroker(KafkaServer):
    """One of the cluster's brokers (broker and controller)."""

    def __init__(
        self, ports: BrokerPorts, voters: str, cluster_id: str, data_dir: Path, heap: str
    ) -> None:
        super().__init__(ports.client, ports.controller, data_dir, heap=heap)
        self.name = f"kafka-{ports.node_id}"
        self.ports = ports
        self.voters = voters
        self.cluster_id = cluster_id

    def format_options(self) -> list[str]:
        return []  # the static quorum of controller.quorum.voters

    def properties(self) -> dict[str, str]:
        p = self.ports
        props = super().properties()
        props.pop("controller.quorum.bootstrap.servers")
        props.update(
            {
                "node.id": str(p.node_id),
                "controller.quorum.voters": self.voters,
                "listeners": (
                    f"CLIENT://{LOOPBACK}:{p.client},INTERNAL://{LOOPBACK}:{p.internal},"
                    f"CONTROLLER://{LOOPBACK}:{p.controller}"
                ),
                "advertised.listeners": (
                    f"CLIENT://{LOOPBACK}:{p.advertised},INTERNAL://{LOOPBACK}:{p.internal}"
                ),
                "listener.security.protocol.map": (
                    "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
                ),
                "inter.broker.listener.name": "INTERNAL",
                "default.replication.factor": str(REPLICATION),
                "min.insync.replicas": str(MIN_INSYNC),
                "unclean.leader.election.enable": "false",
                "offsets.topic.replication.factor": str(REPLICATION),
                "transaction.state.log.replication.factor": str(REPLICATION),
                "transaction.state.log.min.isr": str(MIN_INSYNC),
                "share.coordinator.state.topic.replication.factor": str(REPLICATION),
                "share.coordinator.state.topic.min.isr": str(MIN_INSYNC),
            }
        )
        return props

    def _ready(self) -> bool:
        # Up once it answers on its own listener; the cluster is checked as a whole.
        return port_in_use(LOOPBACK, self.ports.client) and port_in_use(
            LOOPBACK, self.ports.internal
        )


class Cluster:
    """The three brokers, started and stopped together, killed one at a time."""

    def __init__(self, data_dir: Path, size: int = 3, heap: str = "384m") -> None:
        self.ports = [BrokerPorts.free(node) for node in range(1, size + 1)]
        voters = ",".join(f"{p.node_id}@{LOOPBACK}:{p.controller}" for p in self.ports)
        cluster_id = new_cluster_id()
        self.brokers = {
            p.node_id: ClusterBroker(p, voters, cluster_id, data_dir / f"kafka-{p.node_id}", heap)
            for p in self.ports
        }

    @property
    def bootstrap(self) -> str:
        """What clients are given: every broker's proxy."""
        return ",".join(f"{LOOPBACK}:{p.advertised}" for p in self.ports)

    def start(self, timeout: float = 120.0) -> None:
        """Start every broker (they wait for each other's votes), then wait for all."""
        for broker in self.brokers.values():
            broker._check_ports()
            broker._spawn(broker.prepare())
        for broker in self.brokers.values():
            broker._wait_ready(timeout)

    def answers(self) -> bool:
        return kafka_answers(self.bootstrap)

    def stop(self) -> None:
        for broker in self.brokers.values():
            broker.stop()

"""The authenticated path, once, against a real broker: SASL/SCRAM listeners and
the StandardAuthorizer as in docker-compose.yml, the checked-in ACL model
(deploy/kafka-acls.json) applied by the very command compose and Kubernetes run,
and a partner added with ``python -m shared.bus partner``. A partner reads
partner topics only and writes nothing; a service writes its own topics only;
a worker that may not create topics waits for the provisioning job."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)

from deploy.acls import MODEL_FILE, consumed_topics
from deploy.local.kafka import ADMIN_MECHANISM, ADMIN_USER, KafkaServer
from shared import acls
from shared.bus import client_config, ensure_topics, make_admin, make_producer
from shared.config import Settings
from shared.topics import TOPIC_NAMES
from tests.infra import KafkaFactory, infra_mode

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
PARTNER = "acme"


@dataclass
class Cluster:
    server: KafkaServer
    passwords: dict[str, str]
    admin: Settings
    worker_wait: dict[str, object]

    def login(self, principal: str, **changes: object) -> Settings:
        """Settings of a client that logs in as ``principal`` on the client listener."""
        settings = Settings(
            service=principal,
            kafka_bootstrap=self.server.bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_username=principal,
            kafka_password=self.passwords[principal],
            kafka_bootstrap_timeout_s=5.0,
        )
        return replace(settings, **changes)

    def cli(self, *args: str, **env: str) -> str:
        """``python -m shared.bus ...`` as the admin, as the compose one-shot runs it."""
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "MLP_KAFKA_BOOTSTRAP": self.admin.kafka_bootstrap,
            "MLP_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "MLP_KAFKA_SASL_MECHANISM": ADMIN_MECHANISM,
            "MLP_KAFKA_USERNAME": ADMIN_USER,
            "MLP_KAFKA_PASSWORD": self.admin.kafka_password,
            "MLP_KAFKA_PARTITIONS": "1",
            **env,
        }
        out = subprocess.run(
            [sys.executable, "-m", "shared.bus", *args],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One SASL broker for the module; users and ACLs of the checked-in model
    first, then a worker waiting for topics, then the provisioning command."""
    if infra_mode() != "local":
        pytest.skip("the ACL test starts a local SASL broker; MLP_TEST_INFRA is not local")
    factory = KafkaFactory(tmp_path_factory.mktemp("kafka-acls"))
    try:
        server = factory(sasl=True)
        assert server.sasl is not None
        model = acls.AclModel.from_json(MODEL_FILE.read_text())
        passwords = {user: secrets.token_hex(16) for user in model.users}
        passwords[acls.partner_principal(PARTNER)] = secrets.token_hex(16)
        admin = Settings(
            service="provision",
            kafka_bootstrap=f"127.0.0.1:{server.sasl.internal_port}",
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism=ADMIN_MECHANISM,
            kafka_username=ADMIN_USER,
            kafka_password=server.sasl.admin_password,
            kafka_partitions=1,
        )
        c = Cluster(server, passwords, admin, {})
        with_users = make_admin(admin)
        try:
            acls.apply(with_users, model, passwords)
        finally:
            with_users.close()

        # A worker starting before the topics exist may not create them: it waits.
        worker = c.login("svc-invitations", service="invitations")
        needed = acls.service_topics("invitations", consumed_topics("invitations"))

        def start_worker() -> None:
            try:
                c.worker_wait["created"] = ensure_topics(worker, timeout_s=90, needed=needed)
            except BaseException as exc:
                c.worker_wait["error"] = exc
            c.worker_wait["done_at"] = time.monotonic()

        waiting = threading.Thread(target=start_worker, daemon=True)
        waiting.start()
        time.sleep(3)
        c.worker_wait["still_waiting"] = waiting.is_alive()
        c.worker_wait["provisioned_at"] = time.monotonic()
        model_env = {variable: passwords[user] for user, variable in model.users.items()}
        c.worker_wait["provision_out"] = c.cli("provision", "--acls", str(MODEL_FILE), **model_env)
        waiting.join(60)
        partner_env = {"MLP_KAFKA_PARTNER_PASSWORD": passwords[acls.partner_principal(PARTNER)]}
        c.cli("partner", PARTNER, **partner_env)
        yield c
    finally:
        factory.close()


def _partner_consumer(c: Cluster, topic: str, group: str = "partner-acme.portal") -> KafkaConsumer:
    """A partner's consumer of ``topic`` by ``assign()``: kafka-python's
    ``subscribe()`` to a topic it may not read only logs and stays empty."""
    consumer = KafkaConsumer(
        **client_config(c.login("partner-acme")),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.assign([TopicPartition(topic, 0)])
    return consumer


def test_a_worker_that_may_not_create_topics_waits_for_the_provisioning_job(cluster):
    wait = cluster.worker_wait
    assert wait["still_waiting"] is True
    assert "error" not in wait, wait.get("error")
    assert wait["created"] == []  # it created nothing: the provisioning job did
    assert wait["done_at"] > wait["provisioned_at"]
    assert f"created {len(TOPIC_NAMES)}" in str(wait["provision_out"])
    assert "'acls_created': 0, 'acls_deleted': 0" in str(wait["provision_out"])


@pytest.mark.parametrize("topic", ["internal.invitation.issued", "internal.survey.link_issued"])
def test_a_partner_cannot_read_an_internal_topic(cluster, topic):
    consumer = _partner_consumer(cluster, topic)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            consumer.poll(timeout_ms=5000)
        assert topic not in consumer.topics()
    finally:
        consumer.close()


def test_a_partner_cannot_write_a_partner_topic(cluster):
    partner = cluster.login("partner-acme")
    plain = make_producer(partner, enable_idempotence=False, max_block_ms=5000)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            plain.send("invitation.accepted", key=b"e1", value=b"{}").get(timeout=10)
    finally:
        plain.close(timeout=2)
    # The platform's own (idempotent) producer is refused its producer id at once.
    idempotent = make_producer(partner, max_block_ms=5000)
    try:
        with pytest.raises(KafkaError, match="ClusterAuthorizationFailed"):
            idempotent.send("invitation.accepted", key=b"e1", value=b"{}").get(timeout=10)
    finally:
        idempotent.close(timeout=2)


@pytest.mark.parametrize(
    ("service", "topic"),
    [("invitations", "invitation.accepted"), ("surveys", "survey.results_published")],
)
def test_a_service_writes_its_topic_and_a_partner_reads_it(cluster, service, topic):
    producer = make_producer(cluster.login(f"svc-{service}", service=service))
    value = secrets.token_hex(8).encode()
    try:
        producer.send(topic, key=b"e1", value=value).get(timeout=15)
    finally:
        producer.close(timeout=5)
    consumer = _partner_consumer(cluster, topic)
    try:
        got: list[bytes] = []
        deadline = time.monotonic() + 20
        while value not in got and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got += [r.value for r in records]
        assert value in got
        consumer.commit()  # its own group prefix: it may keep its offsets
    finally:
        consumer.close()


@pytest.mark.parametrize(
    ("service", "topic"),
    [("notifications", "invitation.accepted"), ("surveys", "internal.invitation.issued")],
)
def test_a_service_cannot_write_a_topic_another_service_owns(cluster, service, topic):
    producer = make_producer(cluster.login(f"svc-{service}", service=service))
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(topic, key=b"e1", value=b"{}").get(timeout=10)
    finally:
        producer.close(timeout=2)


def test_a_partner_cannot_join_a_services_consumer_group(cluster):
    consumer = _partner_consumer(cluster, "invitation.accepted", group="invitations")
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            consumer.poll(timeout_ms=5000)
    finally:
        consumer.close()


def test_a_wrong_password_does_not_log_in(cluster):
    wrong = cluster.login("partner-acme", kafka_password="not-" + secrets.token_hex(8))
    with pytest.raises(KafkaTimeoutError):
        make_admin(replace(wrong, kafka_bootstrap_timeout_s=2.0))


def test_a_revoked_partner_has_no_acls_and_no_login(cluster):
    name = "globex"
    principal = acls.partner_principal(name)
    cluster.passwords[principal] = secrets.token_hex(16)
    cluster.cli("partner", name, MLP_KAFKA_PARTNER_PASSWORD=cluster.passwords[principal])
    make_admin(cluster.login(principal)).close()  # it logs in
    revoked = cluster.cli("partner", name, "--revoke")
    assert f"deleted {len(acls.partner_grants(name))} ACLs" in revoked
    admin = make_admin(cluster.admin)
    try:
        assert acls.granted(admin, principal) == set()
    finally:
        admin.close()
    gone = replace(cluster.login(principal), kafka_bootstrap_timeout_s=2.0)
    deadline = time.monotonic() + 10
    while True:  # the broker drops the credential from its cache asynchronously
        try:
            make_admin(gone).close()
        except KafkaTimeoutError:
            break
        assert time.monotonic() < deadline, "the revoked partner still logs in"


def test_a_worker_whose_topics_are_never_provisioned_stops_with_a_sentence(cluster):
    admin = make_admin(cluster.admin)
    try:
        admin.delete_topics(["dlq.events"])
        deadline = time.monotonic() + 20
        while "dlq.events" in admin.list_topics():
            assert time.monotonic() < deadline, "dlq.events was not deleted"
            time.sleep(0.2)
    finally:
        admin.close()
    worker = cluster.login("svc-events", service="events")
    with pytest.raises(SystemExit, match=r"svc-events may not create them: run the provisioning"):
        ensure_topics(worker, timeout_s=3, needed=["dlq.events", "event.created"])

"""docker-compose.yml without a Docker engine: it is what deploy/manifests.py
generates, it parses, and everything it names exists (build contexts,
Dockerfiles, commands, ports, MLP_ variables, topics). Each check is shown to
fail on a deliberately broken copy."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kafka import KafkaAdminClient

from deploy import manifests
from deploy.local import kafka as kafka_local
from shared.topics import TOPIC_NAMES
from tests.deploy.checks import check_compose

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_checked_in_files_are_what_the_generator_writes():
    assert manifests.stale() == [], "run: make manifests"


def test_compose_is_sound(compose):
    assert check_compose(compose) == []


def _broken(compose: dict, mutate) -> list[str]:
    doc = copy.deepcopy(compose)
    mutate(doc["services"])
    return check_compose(doc)


BREAKAGES = {
    "build context": lambda s: s["events-web"]["build"].update(context="nowhere"),
    "Dockerfile deploy/Dockerfile.gone": lambda s: s["events-web"]["build"].update(
        dockerfile="deploy/Dockerfile.gone"
    ),
    "SERVICE=evnts names no service": lambda s: s["events-worker"]["build"]["args"].update(
        SERVICE="evnts"
    ),
    "module shared.buss does not exist": lambda s: s["kafka-init"].update(
        command=["python", "-m", "shared.buss", "provision"]
    ),
    "has no command 'provisoin'": lambda s: s["kafka-init"].update(
        command=["python", "-m", "shared.bus", "provisoin"]
    ),
    "unknown command": lambda s: s["events-worker"].update(command=["serve"]),
    "container port 8080": lambda s: s["events-web"].update(ports=["8001:8080"]),
    "MLP_EVENTS_PORT does not match": lambda s: s["events-web"]["environment"].update(
        MLP_EVENTS_PORT="9000"
    ),
    "MLP_EVENTS_SECRET_SAUCE is not documented": lambda s: s["events-web"]["environment"].update(
        MLP_EVENTS_SECRET_SAUCE="1"
    ),
    "depends on unknown service": lambda s: s["events-web"]["depends_on"].update(
        redis={"condition": "service_healthy"}
    ),
    "but it has no healthcheck": lambda s: s["kafka"].pop("healthcheck"),
    "restarts forever": lambda s: s["mongo-init"].update(restart="always"),
    "events-worker: no healthcheck": lambda s: s["events-worker"].pop("healthcheck"),
    "no events-web in compose": lambda s: s.pop("events-web"),
    "different images": lambda s: s["events-worker"].update(image="mlp-ops/events:old"),
    "automatic topic creation": lambda s: s["kafka"]["environment"].update(
        KAFKA_AUTO_CREATE_TOPICS_ENABLE="true"
    ),
    "no topic-provisioning": lambda s: s.pop("kafka-init"),
    "not started as a replica set": lambda s: s["mongo"].update(command=["mongod"]),
    "does not name replica set": lambda s: s["events-web"]["environment"].update(
        MLP_MONGO_URI="mongodb://mongo:27017/"
    ),
    # Credentials: required variables only, never a default or a literal.
    "MLP_JWT_SECRET may fall back to a default": lambda s: s["events-web"]["environment"].update(
        MLP_JWT_SECRET="${MLP_JWT_SECRET:-mlp-development-secret-change-me}"
    ),
    "MLP_KAFKA_PASSWORD is not a required variable": lambda s: s["events-worker"][
        "environment"
    ].update(MLP_KAFKA_PASSWORD="hunter2"),
    "MONGO_INITDB_ROOT_PASSWORD is not a required variable": lambda s: s["mongo"][
        "environment"
    ].update(MONGO_INITDB_ROOT_PASSWORD="${MLP_MONGO_ROOT_PASSWORD-root}"),
    # MongoDB: authenticated, not on the host.
    "mongo: published on the host": lambda s: s["mongo"].update(ports=["27017:27017"]),
    "mongo: runs without a key file": lambda s: s["mongo"].update(
        command=["mongod", "--replSet", "rs0", "--bind_ip_all"]
    ),
    "events-web: no MongoDB credentials of its own": lambda s: s["events-web"][
        "environment"
    ].update(MLP_MONGO_USERNAME="svc-invitations"),
    # Kafka: every listener authenticates, ACLs apply, each worker has its principal.
    "listener HOST does not authenticate (PLAINTEXT)": lambda s: s["kafka"]["environment"].update(
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CLIENT:SASL_PLAINTEXT,HOST:PLAINTEXT"
    ),
    "kafka: no authorizer": lambda s: s["kafka"]["environment"].pop("KAFKA_AUTHORIZER_CLASS_NAME"),
    "allows everyone where no ACL is found": lambda s: s["kafka"]["environment"].update(
        KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND="true"
    ),
    "events-worker: no Kafka credentials of its own": lambda s: s["events-worker"][
        "environment"
    ].pop("MLP_KAFKA_USERNAME"),
    "events-worker: does not log in to Kafka": lambda s: s["events-worker"]["environment"].update(
        MLP_KAFKA_SECURITY_PROTOCOL="PLAINTEXT"
    ),
    "events-web: holds a Kafka password": lambda s: s["events-web"]["environment"].update(
        MLP_KAFKA_PASSWORD="${MLP_EVENTS_KAFKA_PASSWORD:?set it}"
    ),
    "applies no ACL model": lambda s: s["kafka-init"].update(
        command=["python", "-m", "shared.bus", "provision"]
    ),
    "mounts ./deploy/gone.json, which does not exist": lambda s: s["kafka-init"].update(
        volumes=["./deploy/gone.json:/etc/mlp/kafka-acls.json:ro"]
    ),
}


@pytest.mark.parametrize("expected", list(BREAKAGES))
def test_compose_checker_reports_a_breakage(compose, expected):
    problems = _broken(compose, BREAKAGES[expected])
    assert any(expected in p for p in problems), problems


def test_compose_requires_every_secret_and_falls_back_to_none(compose):
    """Without MLP_JWT_SECRET (and notifications' MLP_UNSUBSCRIBE_SECRET) set,
    `docker compose` refuses to start instead of using the development values."""
    for name, spec in compose["services"].items():
        env = spec.get("environment") or {}
        if name.endswith(("-web", "-worker")):
            assert env["MLP_JWT_SECRET"].startswith("${MLP_JWT_SECRET:?"), name
        if name.startswith("notifications-"):
            assert env["MLP_UNSUBSCRIBE_SECRET"].startswith("${MLP_UNSUBSCRIBE_SECRET:?"), name
    assert "mlp-development-secret-change-me" not in (ROOT / "docker-compose.yml").read_text()


def test_a_hand_edit_of_the_generated_file_is_stale(tmp_path, monkeypatch):
    edited = tmp_path / "docker-compose.yml"
    edited.write_text((ROOT / "docker-compose.yml").read_text().replace("8001:8001", "8001:80"))
    monkeypatch.setattr(manifests, "ROOT", tmp_path)
    monkeypatch.setattr(
        manifests, "rendered", lambda: {edited: (ROOT / "docker-compose.yml").read_text()}
    )
    assert manifests.stale() == ["docker-compose.yml"]


def test_provision_cli_creates_exactly_the_catalogue(kafka_factory):
    """What the compose `kafka-init` step runs (here without ACLs), against a
    fresh real broker; tests/integration/test_kafka_acls.py runs it with them."""
    server = kafka_factory()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "MLP_KAFKA_BOOTSTRAP": server.bootstrap,
        "MLP_KAFKA_PARTITIONS": "2",
    }
    for _ in range(2):  # the second run finds everything there and creates nothing
        out = subprocess.run(
            [sys.executable, "-m", "shared.bus", "provision", "--timeout", "60"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
    assert "created 0" in out.stdout
    admin = KafkaAdminClient(bootstrap_servers=server.bootstrap)
    try:
        topics = {t for t in admin.list_topics() if not t.startswith("__")}
        assert topics == set(TOPIC_NAMES)
        described = admin.describe_topics(["event.created"])
        assert len(described[0]["partitions"]) == 2
    finally:
        admin.close()


def test_the_kafka_start_script_writes_the_jaas_file_the_local_sasl_broker_runs_with(tmp_path):
    """The compose broker's login configuration is the one the ACL integration
    test proves on a real broker (plus the host's listener); a password that
    would break its quoting is refused before Kafka starts."""
    script = manifests.compose()["services"]["kafka"]["command"][2]
    local = (
        script.replace("$$", "$")  # what compose hands the shell
        .replace(manifests.KAFKA_SECRETS, str(tmp_path))
        .replace("exec /etc/kafka/docker/run", "exit 0")
    )
    run = subprocess.run(
        ["bash", "-c", local], env={"MLP_KAFKA_ADMIN_PASSWORD": "pw-0123"}, capture_output=True
    )
    assert run.returncode == 0, run.stderr
    jaas = (tmp_path / Path(manifests.KAFKA_JAAS).name).read_text()
    assert jaas == kafka_local.jaas_config("pw-0123", manifests.KAFKA_COMPOSE_CLIENT_LISTENERS)
    assert (
        'password="pw-0123"' in (tmp_path / Path(manifests.KAFKA_ADMIN_PROPERTIES).name).read_text()
    )
    for unsafe in ('pw"0', "pw\\0"):
        run = subprocess.run(
            ["bash", "-c", local], env={"MLP_KAFKA_ADMIN_PASSWORD": unsafe}, capture_output=True
        )
        assert run.returncode == 1 and b"must not hold quotes" in run.stderr


def _image_property(name: str) -> str:
    """The property the apache/kafka image makes of a ``KAFKA_*`` variable
    (its ConvertKey: '_' between two other characters is '.', '___' '-', '__' '_')."""
    key = re.sub(r"[^_]_[^_]", lambda m: m.group(0).replace("_", "."), name.removeprefix("KAFKA_"))
    return key.replace("___", "-").replace("__", "_").lower()


def test_the_kafka_variables_are_the_sasl_properties_of_the_local_broker(compose):
    env = compose["services"]["kafka"]["environment"]
    props = {_image_property(k): str(v) for k, v in env.items() if k.startswith("KAFKA_")}
    expected = kafka_local.sasl_properties(manifests.KAFKA_COMPOSE_CLIENT_LISTENERS)
    assert {k: props.get(k) for k in expected} == expected
    assert not any(
        "=" in str(v) for k, v in env.items() if k.startswith("KAFKA_") and k != "KAFKA_OPTS"
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="node checks the mongosh script's syntax")
def test_the_mongo_init_scripts_are_javascript(tmp_path):
    for initiate in (True, False):
        script = tmp_path / f"init-{initiate}.js"
        script.write_text(manifests.mongo_init_script(initiate=initiate))
        run = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr


def test_the_mongo_on_host_override_publishes_on_loopback_only():
    override = yaml.safe_load(manifests.MONGO_ON_HOST.read_text())
    assert override == {"services": {"mongo": {"ports": ["127.0.0.1:27017:27017"]}}}

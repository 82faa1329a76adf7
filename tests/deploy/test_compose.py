"""docker-compose.yml without a Docker engine: it is what deploy/manifests.py
generates, it parses, and everything it names exists (build contexts,
Dockerfiles, commands, ports, MLP_ variables, topics). Each check is shown to
fail on a deliberately broken copy."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kafka import KafkaAdminClient

from deploy import manifests
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
    "module shared.buss does not exist": lambda s: s["topics"].update(
        command=["python", "-m", "shared.buss", "provision"]
    ),
    "has no command 'provisoin'": lambda s: s["topics"].update(
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
    "no topic-provisioning": lambda s: s.pop("topics"),
    "not started as a replica set": lambda s: s["mongo"].update(command=["mongod"]),
    "does not name replica set": lambda s: s["events-web"]["environment"].update(
        MLP_MONGO_URI="mongodb://mongo:27017/"
    ),
    "MLP_JWT_SECRET falls back to a default": lambda s: s["events-web"]["environment"].update(
        MLP_JWT_SECRET="${MLP_JWT_SECRET:-mlp-development-secret-change-me}"
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
    """What the compose `topics` step runs, against a fresh real broker."""
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

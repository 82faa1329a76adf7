"""`python -m shared.dlq replay` against a real broker: dead-lettered records go
back to their original topic as they came (key, value, ce_id), the replay commits
so a second run replays nothing, --dry-run changes nothing, and a record with an
unknown original topic blocks its partition and fails the command."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from devkit.kafka import dead_letter_headers
from shared.bus import ensure_topics
from shared.config import Settings
from shared.dlq import replay

ROOT = Path(__file__).resolve().parents[2]


def _dead_letter(producer: KafkaProducer, original: str, key: str, partition: int = 0) -> str:
    ce_id = str(uuid.uuid4())
    headers = dead_letter_headers(ce_id, original, "KeyError: 'event'")
    producer.send(
        "dlq.events",
        key=key.encode(),
        value=json.dumps({"invitation_id": ce_id}).encode(),
        headers=headers,
        partition=partition,
    ).get(timeout=10)
    return ce_id


def _read_all(bootstrap: str, topic: str) -> list:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


def test_replay_republishes_to_the_original_topic_and_commits(kafka_factory):
    server = kafka_factory()
    settings = Settings(service="events", kafka_bootstrap=server.bootstrap)
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=server.bootstrap)
    first = _dead_letter(producer, "invitation.accepted", "evt-1", partition=0)
    second = _dead_letter(producer, "invitation.declined", "evt-2", partition=1)

    out = io.StringIO()
    dry = replay(settings, "events", dry_run=True, out=out)
    assert dry.replayed == 2 and dry.blocked == []
    assert {json.loads(line)["ce_id"] for line in out.getvalue().splitlines()} == {first, second}
    assert _read_all(server.bootstrap, "invitation.accepted") == []  # dry run: nothing sent

    report = replay(settings, "events", out=io.StringIO())
    assert report.by_topic == {"invitation.accepted": 1, "invitation.declined": 1}
    [accepted] = _read_all(server.bootstrap, "invitation.accepted")
    headers = dict(accepted.headers)
    assert headers["ce_id"].decode() == first and accepted.key == b"evt-1"
    assert json.loads(accepted.value) == {"invitation_id": first}
    assert not [h for h in headers if h.startswith("dlq_") and h != "dlq_replayed_from"]
    assert headers["dlq_replayed_from"] == b"dlq.events/0@0"
    assert len(_read_all(server.bootstrap, "invitation.declined")) == 1

    assert replay(settings, "events", out=io.StringIO()).replayed == 0  # committed

    # An unknown original topic blocks its partition (order kept) and fails the CLI;
    # the other partition is still replayed.
    _dead_letter(producer, "no.such.topic", "evt-3", partition=0)
    after_blocked = _dead_letter(producer, "invitation.accepted", "evt-3", partition=0)
    third = _dead_letter(producer, "invitation.revoked", "evt-4", partition=1)
    producer.close()
    cli = subprocess.run(
        [sys.executable, "-m", "shared.dlq", "replay", "--service", "events"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "MLP_KAFKA_BOOTSTRAP": server.bootstrap,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1, cli.stderr
    summary = json.loads(cli.stderr.strip().splitlines()[-1])
    assert summary["by_topic"] == {"invitation.revoked": 1}
    assert "no.such.topic unknown" in summary["blocked"][0]
    revoked = _read_all(server.bootstrap, "invitation.revoked")
    assert [dict(r.headers)["ce_id"].decode() for r in revoked] == [third]
    accepted_ids = [
        dict(r.headers)["ce_id"].decode()
        for r in _read_all(server.bootstrap, "invitation.accepted")
    ]
    assert after_blocked not in accepted_ids

"""The operator console against the session's real Kafka and Mongo-wire server:
the status functions (outbox backlog, consumer lag, dead-letter depth), who may
use it (401 anonymous, 403 without the ops role), the dead-letter listing and
redrive (one, a selection, a filter's matches, a dry run that moves nothing,
the guard after N redrives, the rate limit, the audit row) and the problem
documents bad input gets. Dead letters are produced as the consumer runner
sends them (``dlq_*`` headers), each test's tagged with an error of its own."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from devkit.auth import auth
from devkit.kafka import dead_letter_headers
from services.events.app import create_app
from shared.dlq import REDRIVE_COUNT, RedriveLog
from shared.ops import consumer_lag, dlq_depth, outbox_backlog
from tests.helpers import running_app

OPS = auth("ops", sub="operator-1")


@pytest.fixture(autouse=True)
def _catalogue_topics(topics: str) -> None:
    """Every catalogue topic exists (the dead-letter topics among them)."""


ORIGINAL = "invitation.accepted"


def dead_letter(
    bootstrap: str, tag: str, *, original: str = ORIGINAL, redrives: int = 0, partition: int = 0
) -> str:
    """A record in ``dlq.events`` as the consumer runner puts it there; its ce_id."""
    ce_id = str(uuid.uuid4())
    headers = dead_letter_headers(
        ce_id, original, f"KeyError: {tag}", partition=2, offset=17, correlation_id=f"corr-{tag}"
    )
    if redrives:
        headers.append((REDRIVE_COUNT, str(redrives).encode()))
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        producer.send(
            "dlq.events",
            key=b"evt-1",
            value=json.dumps({"invitation_id": ce_id}).encode(),
            headers=headers,
            partition=partition,
        ).get(timeout=10)
    finally:
        producer.close()
    return ce_id


def ends(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return consumer.end_offsets(tps)
    finally:
        consumer.close()


def arrived(bootstrap: str, topic: str, since: dict[TopicPartition, int]) -> list[Any]:
    """The records of ``topic`` after the offsets ``since``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        consumer.assign(list(since))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        found = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            found += [r for records in batch.values() for r in records]
            if all(consumer.position(tp) >= end for tp, end in ends(bootstrap, topic).items()):
                break
        return found
    finally:
        consumer.close()


def listed(client: Any, tag: str) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/ops/dlq?error={tag}", headers=OPS)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["records"]


def ce_id_of(record: Any) -> str:
    return dict(record.headers)["ce_id"].decode()


def test_anonymous_is_401_and_other_roles_403_on_every_console_route(events_client):
    for path in ("/v1/ops/status", "/v1/ops/dlq", "/v1/ops/audit", "/v1/ops/overview"):
        anonymous = events_client.get(path)
        assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"
        other = events_client.get(path, headers=auth("secretariat", "participant"))
        assert other.status_code == 403 and other.mimetype == "application/problem+json"
    post = events_client.post("/v1/ops/dlq/redrive", json={"filter": {}})
    assert post.status_code == 401
    post = events_client.post("/v1/ops/dlq/redrive", json={"filter": {}}, headers=auth("partner"))
    assert post.status_code == 403
    # The page: a browser goes to the sign-in page, an API client gets a problem.
    page = events_client.get("/ops", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["Location"].startswith("/ops/login")
    login = events_client.get("/ops/login")
    assert login.status_code == 200 and "<textarea" in login.get_data(as_text=True)
    assert events_client.get("/ops").mimetype == "application/problem+json"
    refused = events_client.get("/ops", headers={"Accept": "text/html", **auth("secretariat")})
    assert refused.status_code == 403 and "ops" in refused.get_data(as_text=True)


def test_status_shows_health_outbox_lag_and_dead_letters(events_app, events_client, kafka):
    ctx = events_app.extensions["mlp"]
    old = datetime.now(UTC) - timedelta(seconds=90)
    ctx.db["outbox"].insert_many([{"ce_id": "a", "time": old}, {"ce_id": "b", "time": old}])
    backlog = outbox_backlog(ctx.db)
    assert backlog.pending == 2 and backlog.oldest_age_s is not None
    assert backlog.oldest_age_s >= 90

    # A group that committed 1 of the 3 records it has on a partition lags by 2.
    group = f"ops-lag-{uuid.uuid4().hex[:6]}"
    topic = "invitation.declined"
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for _ in range(3):
        producer.send(topic, b"x", partition=1).get(timeout=10)
    producer.close()
    end = ends(kafka.bootstrap, topic)[TopicPartition(topic, 1)]
    committer = KafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group)
    committer.commit({TopicPartition(topic, 1): OffsetAndMetadata(end - 2, "", -1)})
    committer.close()
    rows = {(r.topic, r.partition): r for r in consumer_lag(ctx.settings, {group: [topic]})}
    assert rows[(topic, 1)].lag == 2 and rows[(topic, 1)].committed == end - 2
    assert rows[(topic, 0)].committed is None

    log = RedriveLog(ctx.db)
    before = dlq_depth(ctx.settings, "events", log).depth
    tag = uuid.uuid4().hex
    dead_letter(kafka.bootstrap, tag)
    assert dlq_depth(ctx.settings, "events", log).depth == before + 1

    status = events_client.get("/v1/ops/status", headers=OPS).get_json()
    assert status["service"] == "events"
    assert status["web"]["checks"] == {"mongo": "ok", "kafka": "ok"}
    assert status["worker"]["status"] == "unknown"  # the tests' worker serves no port
    assert status["outbox"]["pending"] == 2 and status["outbox"]["oldest_age_s"] >= 90
    assert status["dlq"]["depth"] == before + 1 and status["dlq"]["topic"] == "dlq.events"
    assert {r["topic"] for r in status["consumer_lag"]["partitions"]} >= {"invitation.accepted"}


def test_redrive_one_a_selection_and_a_filter_after_a_dry_run(events_app, events_client, kafka):
    ctx = events_app.extensions["mlp"]
    tag = uuid.uuid4().hex
    ce_ids = [dead_letter(kafka.bootstrap, tag, partition=i % 2) for i in range(4)]
    records = listed(events_client, tag)
    assert [r["ce_id"] for r in sorted(records, key=lambda r: r["ce_id"])] == sorted(ce_ids)
    first = next(r for r in records if r["ce_id"] == ce_ids[0])
    assert first["original_topic"] == ORIGINAL and first["original_partition"] == 2
    assert first["original_offset"] == 17 and first["attempts"] == 4
    assert first["correlation_id"] == f"corr-{tag}" and first["error"] == f"KeyError: {tag}"
    depth = dlq_depth(ctx.settings, "events", RedriveLog(ctx.db)).depth
    since = ends(kafka.bootstrap, ORIGINAL)

    dry = events_client.post(
        "/v1/ops/dlq/redrive", json={"filter": {"error": tag}, "dry_run": True}, headers=OPS
    )
    assert dry.status_code == 200 and dry.get_json()["dry_run"] is True
    assert sorted(m["ce_id"] for m in dry.get_json()["moved"]) == sorted(ce_ids)
    assert ends(kafka.bootstrap, ORIGINAL) == since  # nothing moved
    assert len(listed(events_client, tag)) == 4  # nothing marked

    one = events_client.post("/v1/ops/dlq/redrive", json={"records": [first["id"]]}, headers=OPS)
    assert [m["ce_id"] for m in one.get_json()["moved"]] == [ce_ids[0]]
    [back] = arrived(kafka.bootstrap, ORIGINAL, since)
    assert ce_id_of(back) == ce_ids[0] and back.key == b"evt-1"  # the same ce_id: deduped
    assert json.loads(back.value) == {"invitation_id": ce_ids[0]}
    headers = dict(back.headers)
    assert headers[REDRIVE_COUNT] == b"1"
    assert headers["dlq_replayed_from"] == f"dlq.events/{first['id']}".encode()
    assert not [h for h in headers if h.startswith("dlq_") and h != "dlq_replayed_from"]
    assert len(listed(events_client, tag)) == 3

    rest = listed(events_client, tag)
    chosen = sorted(r["id"] for r in rest[:2])
    selection = events_client.post("/v1/ops/dlq/redrive", json={"records": chosen}, headers=OPS)
    assert sorted(m["id"] for m in selection.get_json()["moved"]) == chosen
    matching = events_client.post(
        "/v1/ops/dlq/redrive",
        json={"filter": {"original_topic": ORIGINAL, "error": tag}},
        headers=OPS,
    )
    assert len(matching.get_json()["moved"]) == 1
    assert listed(events_client, tag) == []
    assert sorted(ce_id_of(r) for r in arrived(kafka.bootstrap, ORIGINAL, since)) == sorted(ce_ids)
    assert dlq_depth(ctx.settings, "events", RedriveLog(ctx.db)).depth == depth - 4

    # Each action is audited with who did it; the dry run too.
    audit = events_client.get("/v1/ops/audit", headers=OPS).get_json()["audit"]
    assert [row["action"] for row in audit] == ["redrive", "redrive", "redrive", "dry-run"]
    assert {row["by"] for row in audit} == {"operator-1"}
    assert [len(row["moved"]) for row in audit] == [1, 2, 1, 4]
    assert audit[-1]["selection"] == {"records": None, "original_topic": None, "error": tag}

    # A record already redriven is no longer pending: naming it is 404.
    again = events_client.post("/v1/ops/dlq/redrive", json={"records": [first["id"]]}, headers=OPS)
    assert again.status_code == 404 and again.mimetype == "application/problem+json"


def test_the_guard_refuses_a_record_redriven_n_times(events_client, kafka):
    tag = uuid.uuid4().hex
    tired = dead_letter(kafka.bootstrap, tag, redrives=3)
    fresh = dead_letter(kafka.bootstrap, tag, redrives=2)
    answer = events_client.post(
        "/v1/ops/dlq/redrive", json={"filter": {"error": tag}}, headers=OPS
    ).get_json()
    assert [m["ce_id"] for m in answer["moved"]] == [fresh]
    [refused] = answer["refused"]
    assert "redriven 3 times already" in refused["reason"]
    assert [r["ce_id"] for r in listed(events_client, tag)] == [tired]  # still waiting


def test_the_redrive_keeps_to_its_rate(events_settings, kafka):
    slow = replace(events_settings, dlq_redrive_rate=5.0)
    tag = uuid.uuid4().hex
    for _ in range(4):
        dead_letter(kafka.bootstrap, tag)
    with running_app(create_app, slow) as app:
        client = app.test_client()
        started = time.monotonic()
        answer = client.post("/v1/ops/dlq/redrive", json={"filter": {"error": tag}}, headers=OPS)
        elapsed = time.monotonic() - started
    assert len(answer.get_json()["moved"]) == 4
    assert elapsed >= 3 / 5.0  # four records, 0.2 s apart


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"records": ["0@999999999"]}, 404),
        ({"records": ["zero"]}, 422),
        ({"records": []}, 422),
        ({"filter": {"original_topic": "no.such.topic"}}, 422),
        ({"filter": {"original_topic": "dlq.events"}}, 422),
        ({"filter": {"error": "x" * 201}}, 422),
        ({"filter": {"colour": "red"}}, 422),
        ({"records": ["0@1"], "filter": {}}, 422),
        ({}, 422),
        ({"filter": {}, "dry_run": "yes"}, 422),
        ([1, 2], 400),
    ],
)
def test_bad_redrive_requests_are_problems(events_client, body, status):
    answer = events_client.post("/v1/ops/dlq/redrive", json=body, headers=OPS)
    assert answer.status_code == status, answer.get_json()
    assert answer.mimetype == "application/problem+json"


def test_a_bad_listing_filter_is_a_problem(events_client):
    answer = events_client.get("/v1/ops/dlq?original_topic=nope", headers=OPS)
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert "original_topic" in answer.get_json()["errors"]


def test_a_form_without_its_csrf_token_is_refused(events_client, kafka):
    tag = uuid.uuid4().hex
    dead_letter(kafka.bootstrap, tag)
    [record] = listed(events_client, tag)
    login = events_client.post("/ops/login", data={"token": OPS["Authorization"][7:]})
    assert login.status_code == 303
    forged = events_client.post(
        "/ops/dlq/redrive", data={"one": record["id"]}, headers={"Accept": "text/html"}
    )
    assert forged.status_code == 403
    assert [r["id"] for r in listed(events_client, tag)] == [record["id"]]


def test_the_overview_shows_a_service_that_is_down(events_settings):
    settings = replace(
        events_settings,
        ops_service_urls=(("events", "http://127.0.0.1:1"), ("surveys", "http://127.0.0.1:9")),
    )
    with running_app(create_app, settings) as app:
        client = app.test_client()
        services = client.get("/v1/ops/overview", headers=OPS).get_json()["services"]
        page = client.get("/ops/overview", headers={"Accept": "text/html", **OPS})
    assert [(s["service"], s["state"]) for s in services] == [("events", "up"), ("surveys", "down")]
    assert page.status_code == 200 and "surveys" in page.get_data(as_text=True)


def test_the_notifications_console_shows_its_mail_queue_and_webhook_deliveries(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    now = datetime.now(UTC)
    ctx.db["mails"].insert_many(
        [
            {"status": "pending", "attempts": 0, "next_attempt_at": now - timedelta(seconds=5)},
            {"status": "pending", "attempts": 2, "next_attempt_at": now + timedelta(minutes=5)},
            {"status": "failed", "attempts": 8, "next_attempt_at": now},
            {"status": "sent", "attempts": 1, "next_attempt_at": now},
        ]
    )
    ctx.db["deliveries"].insert_many(
        [
            {"subscription_id": "s-1", "ce_id": str(i), "status": status}
            for i, status in enumerate(("pending", "dead", "dead", "succeeded"))
        ]
    )
    client = notifications_app.test_client()
    sections = client.get("/v1/ops/status", headers=OPS).get_json()["sections"]
    assert sections["mail"] == {"due": 1, "retrying": 1, "failed": 1}
    assert sections["webhook_deliveries"] == {"pending": 1, "dead": 2, "succeeded": 1}
    page = client.get("/ops?lang=de", headers={"Accept": "text/html", **OPS})
    assert page.status_code == 200 and "Mail-Warteschlange" in page.get_data(as_text=True)

"""Internal topics against real Kafka and MongoDB: the personal fields of
``internal.invitation.issued`` rest in the outbox and travel on Kafka sealed,
the notifications service still gets them; a record claiming another
``ce_source`` than its topic's producer is dead-lettered, and so is one whose
key is gone, without a personal value in the dead-letter headers or the
replay's listing; replayed once the key is back, it is handled."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from email import message_from_string

import bson
from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from deploy import contracts
from devkit.kafka import collect, header, partner_consumer, wire_record
from devkit.samples import event_payload, issued_payload, status_payload
from services.notifications.handlers import subscriptions as notification_handlers
from services.notifications.store import NotificationStore
from shared.bus import ensure_topics, make_producer
from shared.config import Settings
from shared.consumer import ConsumerRunner
from shared.dlq import replay
from shared.envelope import KafkaRecord
from shared.outbox import OutboxRelay
from shared.sealing import DEVELOPMENT_KEYS, KEY_ID_HEADER, KeyRing
from tests.fixtures.invitations import SEC, invitee
from tests.helpers import RecordDeliverer, outbox_payload

TOPIC = "internal.invitation.issued"
NEXT_MONTH = KeyRing.parse("2026-12:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")


def _consumer_record(wire: KafkaRecord, offset: int = 0) -> ConsumerRecord:
    return ConsumerRecord(
        wire.topic, 0, None, offset, 0, 0, wire.key, wire.value, wire.headers, None, 0, 0, 0
    )


def _runner(ctx, bootstrap: str, max_attempts: int = 1) -> ConsumerRunner:
    """The notifications consumer runner; records are handed to it one by one,
    dead letters go to ``bootstrap``."""
    runner = ConsumerRunner(
        group="notifications",
        subscriptions=notification_handlers,
        ctx=ctx,
        consumer_factory=lambda: None,
        producer_factory=lambda: KafkaProducer(bootstrap_servers=bootstrap, acks="all"),
        max_attempts=max_attempts,
        backoff_s=0.01,
    )
    runner.ensure_indexes()
    return runner


def _ours(records, ce_ids) -> dict[str, ConsumerRecord]:
    return {header(r, "ce_id"): r for r in records if header(r, "ce_id") in ce_ids}


def _in_clear(raw: bytes, *secrets: str) -> list[str]:
    return [s for s in secrets if s.lower().encode() in raw.lower()]


def test_invitation_issued_is_sealed_in_the_outbox_and_on_kafka_and_opened_by_notifications(
    invitations_app,
    invitations_client,
    invitations_published_event,
    notifications_app,
    topics,
):
    event = invitations_published_event()
    event_id = event["event_id"]
    person = invitee(7, name="Kadri Tamm", organisation="Sotsiaalministeerium")
    created = invitations_client.post(
        f"/v1/events/{event_id}/invitations", json={"invitees": [person]}, headers=SEC
    )
    assert created.status_code == 201, created.json
    [invitation] = created.json["created"]
    email = invitation["email"]
    secrets = (email, "Kadri Tamm", "Sotsiaalministeerium", "/v1/rsvp/")

    ctx = invitations_app.extensions["mlp"]
    [row] = list(ctx.db.outbox.find({"topic": TOPIC, "key": event_id}))
    assert _in_clear(bson.encode(row), *secrets) == []  # the outbox document, as stored
    assert row["key_id"] == "development"
    # The published schema describes what travels: the sealed form passes, the clear one not.
    assert contracts.payload_errors(TOPIC, row["payload"]) == []
    clear = outbox_payload(row)
    assert clear["email"] == email and clear["rsvp_url"].startswith("https://rsvp.example.eu/")
    assert contracts.payload_errors(TOPIC, clear) != []

    mailer = partner_consumer(topics, TOPIC)
    try:
        OutboxRelay(ctx.db, lambda: make_producer(ctx.settings)).drain()
        got = collect(mailer, lambda rs: row["ce_id"] in _ours(rs, {row["ce_id"]}))
    finally:
        mailer.close()
    record = _ours(got, {row["ce_id"]})[row["ce_id"]]
    on_the_wire = record.value + b"".join(k.encode() + v for k, v in record.headers)
    assert _in_clear(on_the_wire, *secrets) == []
    assert header(record, KEY_ID_HEADER) == "development"
    assert header(record, "ce_source") == "/mlp/invitations"

    # The notifications service handles that very record through its real runner.
    notifications = notifications_app.extensions["mlp"]
    RecordDeliverer(notifications_app, notification_handlers)("event.published", event)
    _runner(notifications, topics).handle_record(record)
    contact = notifications.store.contact(invitation["id"])
    assert contact is not None, "the record was not handled"
    assert (contact["email"], contact["name"]) == (email, "Kadri Tamm")
    assert "rsvp_url" not in contact  # the link is for the mail only
    [queued] = notifications.db.mails.find({"cause_id": row["ce_id"]})
    texts = [
        part.get_payload(decode=True).decode()
        for part in message_from_string(queued["raw"]).walk()
        if part.get_content_type() == "text/plain"
    ]
    assert any(clear["rsvp_url"] in text for text in texts)


def test_a_foreign_source_or_a_record_sealed_by_no_one_is_dead_lettered(notifications_app, topics):
    ctx = notifications_app.extensions["mlp"]
    event_id, inv = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"forged-{inv[:6]}@example.org"
    issued = issued_payload(event_id, inv, email, rsvp_url="https://phish.example/rsvp")
    forged = wire_record(TOPIC, issued, key=event_id, source="/mlp/events")
    claims_notifications = wire_record(
        "invitation.accepted",
        status_payload(event_id, inv, "accepted", 2),
        key=event_id,
        source="/mlp/notifications",
    )
    unsealed = wire_record(TOPIC, issued, key=event_id, keys=DEVELOPMENT_KEYS)
    unsealed = dataclasses.replace(
        unsealed,
        value=json.dumps(issued).encode(),
        headers=[(k, v) for k, v in unsealed.headers if k != KEY_ID_HEADER],
    )
    records = (forged, claims_notifications, unsealed)
    ids = {header(r, "ce_id") for r in records}

    dlq = partner_consumer(topics, "dlq.notifications")
    try:
        runner = _runner(ctx, topics, max_attempts=3)
        for offset, wire in enumerate(records):
            runner.handle_record(_consumer_record(wire, offset))
        dead = _ours(collect(dlq, lambda rs: len(_ours(rs, ids)) == 3), ids)
    finally:
        dlq.close()
    assert len(dead) == 3
    for wire in records:
        letter = dead[header(wire, "ce_id")]
        assert header(letter, "dlq_attempts") == "0"
        assert letter.value == wire.value  # as it came
    forged_error = header(dead[header(forged, "ce_id")], "dlq_error")
    assert forged_error.startswith("ForeignSource: ce_source '/mlp/events' is not")
    assert "'/mlp/invitations', the producer of internal.invitation.issued" in forged_error
    assert "ForeignSource" in header(dead[header(claims_notifications, "ce_id")], "dlq_error")
    assert "NotSealed" in header(dead[header(unsealed, "ce_id")], "dlq_error")
    assert ctx.store.contact(inv) is None  # no handler ran


def test_a_record_whose_key_is_gone_waits_in_the_dlq_without_leaking_and_replays(
    kafka_factory, notifications_app, monkeypatch
):
    server = kafka_factory()
    ensure_topics(Settings(service="notifications", kafka_bootstrap=server.bootstrap))
    ctx = notifications_app.extensions["mlp"]
    event_id = str(uuid.uuid4())
    RecordDeliverer(notifications_app, notification_handlers)(
        "event.published", event_payload(event_id, version=2)
    )
    people = {str(uuid.uuid4()): f"person-{n}@example.eu" for n in range(2)}
    (early, early_email), (failing, failing_email) = people.items()
    # Sealed with next month's key, which this service does not hold yet:
    sealed_ahead = wire_record(
        TOPIC, issued_payload(event_id, early, early_email), key=event_id, keys=NEXT_MONTH
    )
    # Opens, but its handler fails with the address in the error:
    fails = wire_record(TOPIC, issued_payload(event_id, failing, failing_email), key=event_id)

    def refuse(self, invitation_id, version, fields, s):
        raise ValueError(f"no room for {fields['name']} <{fields['email']}>")

    monkeypatch.setattr(NotificationStore, "apply_contact", refuse)
    runner = _runner(ctx, server.bootstrap)
    runner.handle_record(_consumer_record(sealed_ahead, 0))
    runner.handle_record(_consumer_record(fails, 1))
    runner.producer.flush()
    monkeypatch.undo()
    secrets = (early_email, failing_email, "Kadri Tamm", "/v1/rsvp/")

    letters = KafkaConsumer(
        "dlq.notifications",
        bootstrap_servers=server.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    dead = list(letters)
    letters.close()
    assert len(dead) == 2
    for letter in dead:
        assert _in_clear(letter.value + b"".join(v for _k, v in letter.headers), *secrets) == []
    errors = sorted(header(letter, "dlq_error") for letter in dead)
    assert errors[0].startswith("UnknownKey: sealed with key '2026-12'")
    assert errors[1] == "ValueError: no room for [personal] <[personal]>"

    settings = Settings(service="notifications", kafka_bootstrap=server.bootstrap)
    listing = io.StringIO()
    assert replay(settings, "notifications", dry_run=True, out=listing).replayed == 2
    assert _in_clear(listing.getvalue().encode(), *secrets) == []

    # The key is deployed (second in the ring: it opens, the development key still seals).
    rotated = KeyRing(DEVELOPMENT_KEYS.keys + NEXT_MONTH.keys)
    deployed = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, internal_topic_keys=rotated)
    )
    back = partner_consumer(server.bootstrap, TOPIC)
    try:
        assert replay(settings, "notifications", out=io.StringIO()).replayed == 2
        ids = {header(sealed_ahead, "ce_id"), header(fails, "ce_id")}
        replayed = _ours(collect(back, lambda rs: len(_ours(rs, ids)) == 2), ids)
    finally:
        back.close()
    runner = _runner(deployed, server.bootstrap)
    for offset, record in enumerate(replayed.values()):
        runner.handle_record(record._replace(offset=offset))
    assert ctx.store.contact(early)["email"] == early_email
    assert ctx.store.contact(failing)["email"] == failing_email

"""The survey link from the surveys outbox to the participant's mail, against
real Kafka and MongoDB (issue 10, findings 3, 6 and 7, for the surveys
service): it rests in the surveys outbox and travels on
``internal.survey.link_issued`` sealed; the notifications service opens it for
the mail alone: never in a contact or a feed item; a link that waits for its
address waits sealed, until its survey closes, and is gone once mailed; the
mail's ``To`` is built as every mail's is, whatever the name holds."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy

import bson
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from deploy import contracts
from devkit.auth import auth
from devkit.kafka import collect, header, partner_consumer, wire_record
from devkit.samples import event_payload, issued_payload
from services.notifications.handlers import subscriptions as notification_handlers
from shared.bus import make_producer
from shared.consumer import ConsumerRunner
from shared.outbox import OutboxRelay
from shared.sealing import KEY_ID_HEADER, KeyRing
from tests.fixtures.surveys import completed_event
from tests.helpers import RecordDeliverer, outbox_payload

TOPIC = "internal.survey.link_issued"
LINK_PATH = "/v1/survey-responses/"
SHREDDED = KeyRing.parse("2025-01:" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=")


def _in_clear(raw: bytes, *secrets: str) -> list[str]:
    return [s for s in secrets if s.lower().encode() in raw.lower()]


def _texts(raw: str) -> str:
    return "".join(
        part.get_payload(decode=True).decode()
        for part in message_from_string(raw).walk()
        if part.get_content_type() == "text/plain"
    )


def _link(event_id: str, invitation_id: str, token: str, closes_at: datetime) -> dict:
    return {
        "invitation_id": invitation_id,
        "event_id": event_id,
        "survey_url": f"https://surveys.example.eu{LINK_PATH}{token}",
        "reminder": False,
        "closes_at": closes_at.isoformat(),
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def _runner(ctx, bootstrap: str) -> ConsumerRunner:
    runner = ConsumerRunner(
        group="notifications",
        subscriptions=notification_handlers,
        ctx=ctx,
        consumer_factory=lambda: None,
        producer_factory=lambda: KafkaProducer(bootstrap_servers=bootstrap, acks="all"),
        max_attempts=1,
    )
    runner.ensure_indexes()
    return runner


def _record(wire, offset: int = 0) -> ConsumerRecord:
    return ConsumerRecord(
        wire.topic, 0, None, offset, 0, 0, wire.key, wire.value, wire.headers, None, 0, 0, 0
    )


def test_the_link_is_sealed_in_the_outbox_and_on_kafka_and_reaches_only_the_mail(
    surveys_app, deliver_to_surveys, notifications_app, notifications_client, topics
):
    event_id, [invitation_id] = completed_event(deliver_to_surveys, ["LT"])
    ctx = surveys_app.extensions["mlp"]
    [row] = list(ctx.db.outbox.find({"topic": TOPIC, "key": event_id}))
    clear = outbox_payload(row)
    url = clear["survey_url"]
    token = url.rsplit("/", 1)[1]
    assert url.startswith(f"https://surveys.example.eu{LINK_PATH}")
    assert _in_clear(bson.encode(row), LINK_PATH, token) == []  # the outbox row as stored
    assert row["payload"]["survey_url"] == "" and row["key_id"] == "development"
    assert contracts.payload_errors(TOPIC, row["payload"]) == []  # the sealed form is the contract

    mailer = partner_consumer(topics, TOPIC)
    try:
        OutboxRelay(ctx.db, lambda: make_producer(ctx.settings)).drain()
        got = collect(mailer, lambda rs: any(header(r, "ce_id") == row["ce_id"] for r in rs))
    finally:
        mailer.close()
    [record] = [r for r in got if header(r, "ce_id") == row["ce_id"]]
    on_the_wire = record.value + b"".join(k.encode() + v for k, v in record.headers)
    assert _in_clear(on_the_wire, LINK_PATH, token) == []
    assert header(record, KEY_ID_HEADER) == "development"
    assert header(record, "ce_source") == "/mlp/surveys"

    # The notifications service knows the address from the invitation, then
    # handles that very record through its real runner.
    notifications = notifications_app.extensions["mlp"]
    email = f"ona-{invitation_id[:6]}@example.lt"
    deliver = RecordDeliverer(notifications_app, notification_handlers)
    deliver("event.published", event_payload(event_id, version=2))
    deliver("internal.invitation.issued", issued_payload(event_id, invitation_id, email))
    _runner(notifications, topics).handle_record(record)
    [mail] = list(notifications.db.mails.find({"cause_id": row["ce_id"]}))
    assert mail["template"] == "survey_invitation"
    assert f"{url}?lang=en" in _texts(mail["raw"])  # the mail alone carries it, until sent
    [item] = list(notifications.db.feed.find({"key": mail["_id"]}))
    assert item["link"] is None
    assert _in_clear(bson.encode(item), LINK_PATH, token) == []
    contact = notifications.db.contacts.find_one({"_id": invitation_id})
    assert _in_clear(bson.encode(contact), LINK_PATH, token) == []
    feed = notifications_client.get("/v1/notifications", headers=auth("participant", email=email))
    assert feed.status_code == 200, feed.json
    [shown] = [i for i in feed.json["items"] if i["kind"] == "survey_invitation"]
    assert shown["link"] is None
    assert _in_clear(feed.data, LINK_PATH, token) == []


def test_a_link_that_waits_for_its_address_waits_sealed_until_closing_and_goes_once_mailed(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    deliver = RecordDeliverer(notifications_app, notification_handlers)
    event_id, invitation_id = str(uuid.uuid4()), str(uuid.uuid4())
    closes_at = (datetime.now(UTC) + timedelta(days=21)).replace(microsecond=0)
    link = _link(event_id, invitation_id, "early-token", closes_at)
    cause = deliver(TOPIC, link)
    [waiting] = list(ctx.db.deferred.find({"invitation_id": invitation_id}))
    assert _in_clear(bson.encode(waiting), LINK_PATH, "early-token") == []
    assert waiting["data"]["survey_url"] == "" and "sealed" in waiting["data"]
    assert waiting["expires_at"] == closes_at  # a TTL index drops it when the survey closes
    assert "retention" in {index["name"] for index in ctx.db.deferred.list_indexes()}

    email = f"jonas-{invitation_id[:6]}@example.lt"
    deliver("internal.invitation.issued", issued_payload(event_id, invitation_id, email))
    [mail] = list(ctx.db.mails.find({"cause_id": cause}))
    assert f"{link['survey_url']}?lang=en" in _texts(mail["raw"])
    assert ctx.db.deferred.count_documents({"invitation_id": invitation_id}) == 0


def test_a_waiting_link_of_a_shredded_key_or_a_closed_survey_is_dropped_not_the_invitation(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    event_id = str(uuid.uuid4())
    shredded, late = str(uuid.uuid4()), str(uuid.uuid4())
    # Sealed with a key the ring held when it came and has given up since (shredding):
    ring = KeyRing(ctx.settings.internal_topic_keys.keys + SHREDDED.keys)
    then = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, internal_topic_keys=ring)
    )
    soon = datetime.now(UTC) + timedelta(days=21)
    wire = wire_record(
        TOPIC, _link(event_id, shredded, "shredded", soon), key=event_id, keys=SHREDDED
    )
    _runner(then, "127.0.0.1:1").handle_record(_record(wire))
    assert ctx.db.deferred.count_documents({"invitation_id": shredded}) == 1
    # A link consumed after its survey closed: it would open nothing.
    deliver = RecordDeliverer(notifications_app, notification_handlers)
    closed = datetime.now(UTC) - timedelta(hours=1)
    deliver(TOPIC, _link(event_id, late, "closed", closed))

    for invitation_id in (shredded, late):
        email = f"p-{invitation_id[:6]}@example.lt"
        deliver("internal.invitation.issued", issued_payload(event_id, invitation_id, email))
    templates = [m["template"] for m in ctx.db.mails.find({"event_id": event_id})]
    assert templates == ["invitation", "invitation"]  # the invitations went, no dead link
    assert ctx.db.deferred.count_documents({"invitation_id": {"$in": [shredded, late]}}) == 0


def test_a_survey_mail_goes_to_the_one_address_whatever_the_name_holds(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    deliver = RecordDeliverer(notifications_app, notification_handlers)
    event_id, invitation_id = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"ona-{invitation_id[:6]}@example.lt"
    name = 'Jonaitė, Ona <boss@example.org>, "x" y@example.org'  # commas, brackets: a name
    deliver("internal.invitation.issued", issued_payload(event_id, invitation_id, email, name=name))
    soon = datetime.now(UTC) + timedelta(days=21)
    cause = deliver(TOPIC, _link(event_id, invitation_id, "tok", soon))
    [mail] = list(ctx.db.mails.find({"cause_id": cause}))
    message = message_from_string(mail["raw"], policy=policy.default)
    [to] = message["To"].addresses
    assert to.addr_spec == email and to.display_name == name
    assert "boss@example.org" not in {a.addr_spec for a in message["To"].addresses}


def test_a_link_record_not_from_the_surveys_service_is_dead_lettered_unmailed(
    notifications_app, topics
):
    ctx = notifications_app.extensions["mlp"]
    event_id, invitation_id = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"ona-{invitation_id[:6]}@example.lt"
    deliver = RecordDeliverer(notifications_app, notification_handlers)
    deliver("internal.invitation.issued", issued_payload(event_id, invitation_id, email))
    link = _link(event_id, invitation_id, "phish", datetime.now(UTC) + timedelta(days=21))
    link["survey_url"] = "https://phish.example/v1/survey-responses/phish"
    forged = wire_record(TOPIC, link, key=event_id, source="/mlp/invitations")
    dlq = partner_consumer(topics, "dlq.notifications")
    try:
        _runner(ctx, topics).handle_record(_record(forged))
        ce_id = header(forged, "ce_id")
        dead = collect(dlq, lambda rs: any(header(r, "ce_id") == ce_id for r in rs))
    finally:
        dlq.close()
    [letter] = [r for r in dead if header(r, "ce_id") == ce_id]
    assert header(letter, "dlq_error").startswith("ForeignSource: ce_source '/mlp/invitations'")
    assert ctx.db.mails.count_documents({"cause_id": ce_id}) == 0
    assert ctx.db.deferred.count_documents({"invitation_id": invitation_id}) == 0

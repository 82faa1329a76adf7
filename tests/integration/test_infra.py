"""Smoke tests of the test infrastructure itself: real Kafka, MongoDB and SMTP sink."""

from __future__ import annotations

import mailbox
import smtplib
import uuid
from email.message import EmailMessage

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError
from pymongo import MongoClient

pytestmark = pytest.mark.infra


def _create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for value in values:
            producer.send(topic, value).get(timeout=30)
    finally:
        producer.close()


def _consume(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"smoke-{uuid.uuid4().hex}",
        consumer_timeout_ms=20_000,
    )
    try:
        seen: list[bytes] = []
        for record in consumer:
            seen.append(record.value)
            if len(seen) == count:
                break
        return seen
    finally:
        consumer.close()


def test_kafka_roundtrip(kafka):
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    _create_topic(kafka.bootstrap, topic)
    _produce(kafka.bootstrap, topic, [b"one", b"two", b"three"])
    assert _consume(kafka.bootstrap, topic, 3) == [b"one", b"two", b"three"]


def test_kafka_does_not_create_topics_on_demand(kafka):
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, max_block_ms=2000)
    try:
        with pytest.raises(KafkaError):
            producer.send(f"unknown-{uuid.uuid4().hex[:8]}", b"x").get(timeout=5)
    finally:
        producer.close(timeout=1)


def test_mongo_multi_document_transaction(mongo):
    client: MongoClient = MongoClient(mongo.uri, serverSelectionTimeoutMS=10_000)
    db = client[f"smoke_{uuid.uuid4().hex[:8]}"]
    db.create_collection("a")
    db.create_collection("b")
    try:
        with client.start_session() as session, session.start_transaction():
            db.a.insert_one({"_id": 1}, session=session)
            db.b.insert_one({"_id": 1}, session=session)
        assert db.a.count_documents({}) == 1
        assert db.b.count_documents({}) == 1

        with (
            pytest.raises(RuntimeError),
            client.start_session() as session,
            session.start_transaction(),
        ):
            db.a.insert_one({"_id": 2}, session=session)
            db.b.insert_one({"_id": 2}, session=session)
            raise RuntimeError("abort")
        assert db.a.count_documents({}) == 1
        assert db.b.count_documents({}) == 1
    finally:
        client.drop_database(db.name)
        client.close()


def test_smtp_sink_delivers_into_maildir(smtp_sink):
    message = EmailMessage()
    message["From"] = "noreply@mlp.example"
    message["To"] = "ana@example.org"
    message["Subject"] = "Welcome to the programme"
    message.set_content("Hello Ana")
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.send_message(message, to_addrs=["ana@example.org", "bcc@example.org"])

    delivered = list(mailbox.Maildir(smtp_sink.maildir))
    assert len(delivered) == 1
    mail = delivered[0]
    assert mail["Subject"] == "Welcome to the programme"
    assert mail.get_all("Delivered-To") == ["ana@example.org", "bcc@example.org"]
    assert "Hello Ana" in mail.get_payload()


def test_broker_restart_keeps_topic_data(kafka_factory):
    broker = kafka_factory()
    topic = "durable"
    _create_topic(broker.bootstrap, topic, partitions=2)
    _produce(broker.bootstrap, topic, [b"before-restart"])

    broker.restart()
    _produce(broker.bootstrap, topic, [b"after-restart"])
    assert sorted(_consume(broker.bootstrap, topic, 2)) == [b"after-restart", b"before-restart"]

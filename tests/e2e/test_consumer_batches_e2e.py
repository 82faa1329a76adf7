"""Batch consumption end to end: a worker (the events service's, a real process)
SIGKILLed while it handles a partition's records in batches loses nothing and
doubles nothing once it is restarted."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from kafka import KafkaProducer
from pymongo import MongoClient

from devkit.kafka import header, wire_record
from devkit.waiting import wait_until

TOPIC = "invitation.accepted"
RECORDS = 400  # four batches and more: the kill lands between or inside them


def test_a_worker_killed_mid_batch_leaves_every_effect_exactly_once(start_service, topics, mongo):
    service = start_service("events", topics)
    event_id = f"evt-{uuid.uuid4()}"
    with MongoClient(mongo.uri) as client:
        db = client[service.env["MLP_EVENTS_DB"]]
        db.events.insert_one({"_id": event_id, "title": "Peer review", "version": 1})
        records = [
            wire_record(
                TOPIC,
                {
                    "event_id": event_id,
                    "invitation_id": f"inv-{n}-{uuid.uuid4()}",
                    "country": "LV",
                    "role": "government_official",
                    "status": "accepted",
                    "version": 1,
                    "occurred_at": datetime.now(UTC).isoformat(),
                },
                key=event_id,  # one key, one partition: the worker polls them in batches
            )
            for n in range(RECORDS)
        ]
        ce_ids = [header(r, "ce_id") for r in records]
        producer = KafkaProducer(bootstrap_servers=topics, acks="all", linger_ms=20)
        for r in records:
            producer.send(TOPIC, key=r.key, value=r.value, headers=r.headers)
        producer.flush(30)
        producer.close()

        def handled() -> int:
            return db.processed_records.count_documents({"ce_id": {"$in": ce_ids}})

        assert wait_until(lambda: handled() > 0, 90, step=0.02), service.worker.tail(60)
        service.worker.kill()  # SIGKILL: in a batch's transaction or before its offset commit
        at_kill = handled()
        assert at_kill < RECORDS, "the worker was done before the kill: nothing was tested"
        service.restart_worker()
        assert wait_until(lambda: handled() == RECORDS, 180), (handled(), service.worker.tail(60))
        time.sleep(2)  # anything handled twice would show by now
        # Each record's idempotency row and its effect exist exactly once.
        rows = list(db.processed_records.find({"ce_id": {"$in": ce_ids}}, {"ce_id": 1}))
        assert sorted(row["ce_id"] for row in rows) == sorted(ce_ids)
        participants = db.participants.count_documents({"event_id": event_id})
        assert participants == RECORDS
        participation = db.events.find_one({"_id": event_id})["participation"]
        assert participation == {"accepted": RECORDS, "waitlisted": 0}
        print(f"{at_kill} of {RECORDS} records handled when the worker was killed")

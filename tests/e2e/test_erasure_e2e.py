"""The right to be forgotten end to end: all six services as real processes
(gunicorn ``web`` and ``worker``), real Kafka and MongoDB, the SMTP sink.

Kadri is invited to two events and accepts one: she gets the mail with its
calendar invitation, reads the approved paper, has feed items, answers the
survey. The documents worker is down when her erasure is requested: the
request waits for it and completes once it is back, with no manual step. Then
a direct scan of every service's database and of every Kafka topic finds her
address, her name and her address's sha256 nowhere; seats and the survey's
aggregates are what they were; a second request completes with zero counts.
"""

from __future__ import annotations

import hashlib
import io
import uuid

import requests
from kafka import KafkaConsumer, TopicPartition
from pymongo import MongoClient

from deploy.local.ports import free_port
from devkit import mail
from devkit.auth import auth
from devkit.samples import event_body
from devkit.waiting import wait_until
from shared.topics import PRODUCERS, TOPIC_NAMES

SEC = auth("secretariat")
T = 30
ANSWERS = {
    "answers": [
        {"question_id": "knowledge", "value": 4},
        {"question_id": "understanding", "value": 4},
        {"question_id": "needs_matched", "value": 5},
        {"question_id": "overall", "value": 4},
        {"question_id": "use_learning", "value": "yes"},
    ]
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _people(tag: str) -> list[dict[str, str]]:
    return [
        {
            "email": f"kadri.tamm-{tag}@gov.example.ee",
            "name": f"Kadri Tamm {tag}",
            "country": "EE",
            "organisation": "Ministry of Social Affairs",
            "role": "government_official",
            "language": "en",
        },
        {
            "email": f"colleague-{tag}@gov.example.lv",
            "name": "Colleague Ozola",
            "country": "LV",
            "organisation": "Ministry of Welfare",
            "role": "government_official",
            "language": "en",
        },
    ]


def _links(sink, email: str, path: str) -> list[str]:
    return [
        link for m in sink.messages() if mail.recipient(m) == email for link in mail.links(m, path)
    ]


def _databases(running) -> dict[str, tuple[MongoClient, str]]:
    return {
        s.name: (MongoClient(s.env["MLP_MONGO_URI"]), s.env[f"MLP_{s.name.upper()}_DB"])
        for s in running
    }


def _found_in_databases(running, needles: list[str]) -> list[str]:
    """Where (service.collection) any needle occurs, read straight from MongoDB."""
    found = []
    for name, (client, db_name) in _databases(running).items():
        db = client[db_name]
        for collection in db.list_collection_names():
            text = " ".join(repr(doc) for doc in db[collection].find()).lower()
            found += [f"{name}.{collection}: {n}" for n in needles if n.lower() in text]
        client.close()
    return found


def _found_on_kafka(bootstrap: str, needles: list[str]) -> list[str]:
    """Where any needle occurs in a record (key, value, headers) of any catalogue
    topic, read from the beginning as raw bytes: what anyone who can read a topic sees."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [
        TopicPartition(topic, p)
        for topic in sorted(TOPIC_NAMES)
        for p in sorted(consumer.partitions_for_topic(topic) or [])
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    found: list[str] = []
    lowered = [n.lower().encode() for n in needles]
    while any(consumer.position(tp) < end for tp, end in ends.items()):
        for tp, records in consumer.poll(timeout_ms=500).items():
            for r in records:
                raw = b" ".join(
                    [r.key or b"", r.value or b"", *(v or b"" for _, v in r.headers)]
                ).lower()
                found += [f"{tp.topic}: {n.decode()}" for n in lowered if n in raw]
    consumer.close()
    return found


def _ledger(invitations, request_id: str) -> dict:
    url = f"{invitations.base_url}/v1/erasure-requests/{request_id}"
    return requests.get(url, headers=SEC, timeout=T).json()


def _counts(invitations, event_id: str) -> dict:
    url = f"{invitations.base_url}/v1/events/{event_id}/invitations"
    return requests.get(url, headers=SEC, timeout=T).json()["counts"]


def test_an_erased_person_is_found_nowhere_and_the_programme_counts_stay(
    start_service, topics, smtp_sink
):
    mail_env = {"MLP_SMTP_PORT": str(smtp_sink.port), "MLP_MAIL_POLL_SECONDS": "0.1"}
    invitations_port, surveys_port = free_port(), free_port()
    events = start_service("events", topics)
    invitations = start_service(
        "invitations",
        topics,
        port=invitations_port,
        env={"MLP_PUBLIC_BASE_URL": f"http://127.0.0.1:{invitations_port}"},
    )
    documents = start_service("documents", topics)
    notifications = start_service("notifications", topics, env=mail_env)
    surveys = start_service(
        "surveys",
        topics,
        port=surveys_port,
        env={
            "MLP_SURVEYS_PUBLIC_URL": f"http://127.0.0.1:{surveys_port}",
            "MLP_SURVEY_JOB_INTERVAL_S": "0.5",
            "MLP_SURVEY_MIN_GROUP": "2",
        },
    )
    catalogue = start_service("catalogue", topics)
    running = [events, invitations, documents, notifications, surveys, catalogue]
    assert {s.name for s in running} == set(PRODUCERS)
    tag = uuid.uuid4().hex[:8]
    kadri, colleague = _people(tag)
    sub = f"sub-kadri-{tag}"
    kadri_token = auth("participant", email=kadri["email"], sub=sub)

    # Two events; Kadri and a colleague are invited to both.
    event_ids = []
    for _ in range(2):
        created = requests.post(
            f"{events.base_url}/v1/events", json=event_body(capacity=10), headers=SEC, timeout=T
        )
        assert created.status_code == 201, created.text
        event_ids.append(created.json()["id"])
        assert requests.post(f"{events.base_url}/v1/events/{event_ids[-1]}/publish", headers=SEC).ok
    for event_id in event_ids:
        url = f"{invitations.base_url}/v1/events/{event_id}/invitations"
        assert wait_until(
            lambda url=url: (
                requests.post(
                    url, json={"invitees": [kadri, colleague]}, headers=SEC, timeout=T
                ).status_code
                == 201
            ),
            timeout_s=60,
            step=0.5,
        )

    # Both accept the first event through their mail's link (with its calendar part).
    rsvp = wait_until(
        lambda: (
            len(_links(smtp_sink, kadri["email"], "/v1/rsvp/")) == 2
            and len(_links(smtp_sink, colleague["email"], "/v1/rsvp/")) == 2
        ),
        timeout_s=90,
    )
    assert rsvp, notifications.worker.tail(40)
    invitation_mail = next(m for m in smtp_sink.messages() if mail.recipient(m) == kadri["email"])
    parts = {part.get_content_type() for part in invitation_mail.walk()}
    assert "text/calendar" in parts
    for person in (kadri, colleague):
        for link in _links(smtp_sink, person["email"], "/v1/rsvp/"):
            shown = requests.get(link, timeout=T).json()
            if shown["event"]["id"] == event_ids[0]:
                answer = requests.post(link, json={"response": "accept"}, timeout=T)
                assert answer.json()["status"] == "accepted"

    # A paper circulates: Kadri reads it; her feed has items.
    form = {"kind": "host_country_paper", "title": "Host country paper", "language": "en"}
    uploaded = requests.post(
        f"{documents.base_url}/v1/events/{event_ids[0]}/documents",
        data=form,
        files={"file": ("paper.pdf", io.BytesIO(PDF))},
        headers=SEC,
        timeout=T,
    )
    assert uploaded.status_code == 201, uploaded.text
    doc_url = f"{documents.base_url}/v1/documents/{uploaded.json()['id']}"
    assert requests.post(f"{doc_url}/submit", headers=SEC, timeout=T).status_code == 200
    seen = requests.get(doc_url, headers=SEC, timeout=T).headers["ETag"]
    approved = requests.post(f"{doc_url}/approve", headers={**SEC, "If-Match": seen}, timeout=T)
    assert approved.status_code == 200, approved.text
    assert wait_until(
        lambda: (
            requests.get(f"{doc_url}/content", headers=kadri_token, timeout=T).status_code == 200
        ),
        timeout_s=60,
    ), documents.worker.tail(40)
    feed_url = f"{notifications.base_url}/v1/notifications"
    assert wait_until(
        lambda: requests.get(feed_url, headers=kadri_token, timeout=T).json()["items"],
        timeout_s=60,
    )

    # The event takes place; both answer the survey; it closes.
    done = requests.post(f"{events.base_url}/v1/events/{event_ids[0]}/complete", headers=SEC)
    assert done.status_code == 200
    survey_links = wait_until(
        lambda: (
            [_links(smtp_sink, p["email"], "/v1/survey-responses/")[:1] for p in (kadri, colleague)]
            if all(
                _links(smtp_sink, p["email"], "/v1/survey-responses/") for p in (kadri, colleague)
            )
            else None
        ),
        timeout_s=90,
    )
    assert survey_links, surveys.worker.tail(40)
    for [link] in survey_links:
        assert requests.post(link, json=ANSWERS, timeout=T).status_code == 201
    results_url = f"{surveys.base_url}/v1/events/{event_ids[0]}/survey/results"
    close_url = f"{surveys.base_url}/v1/events/{event_ids[0]}/survey/close"
    assert requests.post(close_url, headers=SEC, timeout=T).status_code == 200
    results = requests.get(results_url, headers=SEC, timeout=T).json()
    assert (results["responses"], results["invited"]) == (2, 2)
    seats = [_counts(invitations, e) for e in event_ids]
    assert seats[0]["by_status"]["accepted"] == 2

    needles = [kadri["email"], kadri["name"], hashlib.sha256(kadri["email"].encode()).hexdigest()]
    assert _found_in_databases(running, needles)  # the scan finds her before

    # The documents worker is down when the erasure is requested.
    documents.worker.stop()
    requested = requests.post(
        f"{invitations.base_url}/v1/erasure-requests",
        json={"email": kadri["email"], "reason": "data subject request", "accounts": [sub]},
        headers=SEC,
        timeout=T,
    )
    assert requested.status_code == 202, requested.text
    request_id = requested.json()["id"]
    others = set(PRODUCERS) - {"documents"}
    waiting = wait_until(
        lambda: (
            (view := _ledger(invitations, request_id))
            and {n for n, s in view["services"].items() if s["status"] == "completed"} == others
            and view
        ),
        timeout_s=90,
    )
    assert waiting, _ledger(invitations, request_id)
    assert waiting["status"] == "in_progress" and waiting["certificate"] is None
    documents.restart_worker()  # back: the request completes, no manual step
    view = wait_until(
        lambda: (v := _ledger(invitations, request_id))["status"] == "completed" and v,
        timeout_s=90,
    )
    assert view, (_ledger(invitations, request_id), documents.worker.tail(40))
    cert = view["certificate"]
    assert {s["service"] for s in cert["services"]} == set(PRODUCERS)
    by_service = {s["service"]: s["counts"] for s in cert["services"]}
    assert by_service["invitations"]["invitations"] == 2
    assert (
        by_service["notifications"]["contacts"] == 2 and by_service["notifications"]["mails"] >= 3
    )
    assert by_service["documents"]["invitees"] == 2
    assert by_service["surveys"]["respondents"] == 1
    assert set(by_service["events"].values()) <= {0}
    assert all(s["retained"] for s in cert["services"])

    # Found nowhere: not in any service's database, not in any Kafka topic.
    assert _found_in_databases(running, needles) == []
    assert _found_on_kafka(topics, needles) == []
    assert _found_on_kafka(topics, [event_ids[0]])  # the scan does read the records
    # The counts stay: seats, the survey's aggregates.
    assert [_counts(invitations, e) for e in event_ids] == seats
    after = requests.get(results_url, headers=SEC, timeout=T).json()
    assert after == results
    assert requests.get(f"{doc_url}/content", headers=SEC, timeout=T).content == PDF

    # A second request for the same person completes with zero counts.
    second = requests.post(
        f"{invitations.base_url}/v1/erasure-requests",
        json={"email": kadri["email"]},
        headers=SEC,
        timeout=T,
    )
    assert second.status_code == 202
    again = wait_until(
        lambda: (v := _ledger(invitations, second.json()["id"]))["status"] == "completed" and v,
        timeout_s=90,
    )
    assert again and again["certificate"]["total"] == 0

"""The invitations service end to end, with the events service: both as real
processes (gunicorn ``web`` and ``worker``), real Kafka and MongoDB, and a
partner's plain kafka-python consumer. RSVP links are read from the internal
topic (the notifications service that mails them does not exist yet)."""

from __future__ import annotations

import json
import time

import requests

from devkit.auth import auth
from devkit.kafka import collect, partner_consumer, payload_of
from devkit.samples import event_body
from tests.helpers import not_yet_published_there

SEC = auth("secretariat")
PARTNER_TOPICS = (
    "invitation.sent",
    "invitation.accepted",
    "invitation.declined",
    "invitation.waitlisted",
    "invitation.revoked",
)


def _invite_when_known(base_url: str, event_id: str, people: list[dict]) -> dict:
    """The invitations service learns of the event from event.published (a draft
    from event.created before it): retry until then."""
    deadline = time.monotonic() + 60
    while True:
        response = requests.post(
            f"{base_url}/v1/events/{event_id}/invitations",
            json={"invitees": people},
            headers=SEC,
            timeout=30,
        )
        if not not_yet_published_there(response) or time.monotonic() > deadline:
            assert response.status_code == 201, response.text
            return response.json()
        time.sleep(0.3)


def _of_event(records, event_id):
    return [r for r in records if r.key == event_id.encode()]


def test_capacity_waitlist_promotion_and_cancellation(start_service, topics):
    events = start_service("events", topics)
    invitations = start_service("invitations", topics)
    partner = partner_consumer(topics, *PARTNER_TOPICS)
    mailer = partner_consumer(topics, "internal.invitation.issued")

    created = requests.post(
        f"{events.base_url}/v1/events", json=event_body(capacity=2), headers=SEC, timeout=30
    )
    assert created.status_code == 201
    event_id = created.json()["id"]
    published = requests.post(f"{events.base_url}/v1/events/{event_id}/publish", headers=SEC)
    assert published.status_code == 200

    people = [
        {
            "email": f"official{i}@gov.example.eu",
            "name": f"Official {i}",
            "country": c,
            "role": "government_official",
            "language": "en",
        }
        for i, c in enumerate(("EE", "LV", "FI"))
    ]
    result = _invite_when_known(invitations.base_url, event_id, people)
    ids = {c["email"]: c["id"] for c in result["created"]}
    assert len(ids) == 3

    issued = collect(mailer, lambda rs: len(_of_event(rs, event_id)) >= 3, timeout_s=90)
    links = {}
    for record in _of_event(issued, event_id):
        payload = payload_of(record)
        assert payload["rsvp_url"].startswith("http://127.0.0.1:8002/v1/rsvp/")  # the base URL
        links[payload["email"]] = payload["rsvp_url"].rsplit("/", 1)[1]
    assert set(links) == set(ids)

    def rsvp(email, response):
        answer = requests.post(
            f"{invitations.base_url}/v1/rsvp/{links[email]}",
            json={"response": response},
            timeout=30,
        )
        return answer

    emails = [p["email"] for p in people]
    statuses = [rsvp(e, "accept").json()["status"] for e in emails]
    assert statuses == ["accepted", "accepted", "waitlisted"]

    assert rsvp(emails[0], "decline").json()["status"] == "declined"
    waitlisted = ids[emails[2]]
    records = collect(
        partner,
        lambda rs: any(
            json.loads(r.value).get("promoted")
            and json.loads(r.value)["invitation_id"] == waitlisted
            for r in rs
            if r.topic == "invitation.accepted"
        ),
        timeout_s=90,
    )
    promoted = [
        json.loads(r.value)
        for r in _of_event(records, event_id)
        if r.topic == "invitation.accepted" and json.loads(r.value).get("promoted")
    ]
    assert [p["invitation_id"] for p in promoted] == [waitlisted]
    for record in _of_event(records, event_id):
        assert "email" not in json.loads(record.value) and "name" not in json.loads(record.value)

    cancelled = requests.post(
        f"{events.base_url}/v1/events/{event_id}/cancel",
        json={"reason": "Host withdrew"},
        headers=SEC,
    )
    assert cancelled.status_code == 200
    revoked = collect(
        partner,
        lambda rs: (
            len([r for r in _of_event(rs, event_id) if r.topic == "invitation.revoked"]) >= 3
        ),
        timeout_s=90,
    )
    assert {
        json.loads(r.value)["invitation_id"] for r in revoked if r.topic == "invitation.revoked"
    } == set(ids.values())
    listed = requests.get(
        f"{invitations.base_url}/v1/events/{event_id}/invitations", headers=SEC, timeout=30
    ).json()
    assert listed["counts"]["by_status"] == {"revoked": 3}
    for email in emails:
        assert rsvp(email, "accept").status_code == 410
    partner.close()
    mailer.close()

"""Hosting proposals end to end: the events and notifications services as real
processes (gunicorn ``web`` and ``worker``), real Kafka and MongoDB, the SMTP
sink and a partner's plain kafka-python consumer. A proposal from the LT
coordinator accepted makes a draft event with its ``proposal_id``, and the
coordinator gets the mail; a declined one tells them why, in their language."""

from __future__ import annotations

import json
from email.header import decode_header, make_header

import requests

from devkit.auth import auth
from devkit.kafka import collect, partner_consumer
from devkit.samples import proposal_body
from tests.helpers import wait_for

SEC = auth("secretariat")
LT_EMAIL = "nacionalinis.koordinatorius@socmin.example.lt"
LT = auth("coordinator", country="LT", email=LT_EMAIL)
DE = auth("coordinator", country="DE", email="koordination@bmas.example.de")
TOPICS = ("proposal.submitted", "proposal.accepted", "proposal.declined", "event.created")


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _text(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def _mails_to(sink, email: str) -> list:
    return [m for m in sink.messages() if email in (m["To"] or "")]


def test_an_accepted_proposal_becomes_a_draft_event_and_the_coordinator_is_told(
    start_service, topics, smtp_sink, monkeypatch
):
    monkeypatch.setenv("MLP_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("MLP_MAIL_POLL_SECONDS", "0.1")
    events = start_service("events", topics)
    notifications = start_service("notifications", topics)
    partner = partner_consumer(topics, *TOPICS)
    url = f"{events.base_url}/v1/proposals"

    submitted = requests.post(url, json=proposal_body(contact=None), headers=LT, timeout=30)
    assert submitted.status_code == 201, submitted.text
    proposal = submitted.json()
    # The DE coordinator neither sees LT's proposal nor decides on it.
    assert requests.get(f"{url}/{proposal['id']}", headers=DE, timeout=30).status_code == 404
    assert requests.get(url, headers=DE, timeout=30).json()["total"] == 0
    nowhere = auth("coordinator", email=LT_EMAIL)  # no country claim
    refused = requests.post(url, json=proposal_body(), headers=nowhere, timeout=30)
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"

    accepted = requests.post(
        f"{url}/{proposal['id']}/accept",
        json={"programme": "employment", "timezone": "Europe/Vilnius"},
        headers=SEC,
        timeout=30,
    )
    assert accepted.status_code == 200, accepted.text
    event_id = accepted.json()["event_id"]
    event = requests.get(f"{events.base_url}/v1/events/{event_id}", headers=SEC, timeout=30)
    assert event.status_code == 200
    assert event.json()["status"] == "draft"
    assert event.json()["proposal_id"] == proposal["id"]
    assert event.json()["host_country"] == "LT"
    shown = requests.get(f"{url}/{proposal['id']}", headers=LT, timeout=30).json()
    assert (shown["status"], shown["event_id"]) == ("accepted", event_id)

    try:
        [mail] = wait_for(lambda: _mails_to(smtp_sink, LT_EMAIL), timeout_s=60)
    except AssertionError as exc:
        raise AssertionError(notifications.worker.tail(60)) from exc
    assert _subject(mail) == f"Accepted: your proposal to host {proposal['title']}"
    assert "A draft event has been made from your proposal" in _text(mail)

    # Partners hear of the proposal and its event, with no address or name.
    wanted = {proposal["id"].encode(), event_id.encode()}
    records = collect(partner, lambda rs: len([r for r in rs if r.key in wanted]) >= 3)
    ours = {r.topic: json.loads(r.value) for r in records if r.key in wanted}
    assert set(ours) == {"proposal.submitted", "proposal.accepted", "event.created"}
    assert ours["proposal.accepted"]["event_id"] == event_id
    assert all(LT_EMAIL not in json.dumps(p) for p in ours.values())
    partner.close()

    # A declined proposal: the reason reaches the coordinator, in French.
    second = requests.post(
        url,
        json=proposal_body(title="Municipal employment pacts", language="fr", contact=None),
        headers=LT,
        timeout=30,
    ).json()
    reason = "Le calendrier du programme est complet pour cette période."
    declined = requests.post(
        f"{url}/{second['id']}/decline", json={"reason": reason}, headers=SEC, timeout=30
    )
    assert declined.status_code == 200, declined.text
    mails = wait_for(lambda: (ms := _mails_to(smtp_sink, LT_EMAIL)) and len(ms) == 2 and ms, 60)
    [notice] = [m for m in mails if "Municipal" in _subject(m)]
    assert _subject(notice).startswith("Non retenue : votre proposition d'accueillir")
    assert f"Motif : {reason}" in _text(notice)
    listing = requests.get(f"{events.base_url}/v1/events", headers=SEC, timeout=30).json()
    assert [e["id"] for e in listing["items"]] == [event_id]  # a decline makes no event

"""The notifications service end to end: gunicorn ``web`` and ``worker`` as
processes, records produced on the other services' topics, mail in the sink."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from email.header import decode_header, make_header

import requests
from icalendar import Calendar

from devkit.auth import auth
from devkit.kafka import Producer
from devkit.samples import event_payload, issued_payload, status_payload
from tests.helpers import wait_for


def _story(event_id: str) -> tuple[list[tuple[str, dict, str]], dict[str, str]]:
    """The records of one invitation story, each with a fixed ce_id (for replays)."""
    people = {p: (str(uuid.uuid4()), f"{p}-{uuid.uuid4().hex[:6]}@example.eu") for p in "abc"}
    langs = {"a": "en", "b": "fr", "c": "de"}
    records: list[tuple[str, dict, str]] = [
        ("event.published", event_payload(event_id, version=2), str(uuid.uuid4()))
    ]
    for p, (inv, email) in people.items():
        records.append(
            (
                "internal.invitation.issued",
                issued_payload(event_id, inv, email, language=langs[p]),
                str(uuid.uuid4()),
            )
        )
    a, b, c = (people[p][0] for p in "abc")
    for topic, data in (
        ("invitation.accepted", status_payload(event_id, a, "accepted", 2)),
        ("invitation.waitlisted", status_payload(event_id, b, "waitlisted", 2)),
        ("invitation.declined", status_payload(event_id, c, "declined", 2)),
        ("invitation.accepted", status_payload(event_id, b, "accepted", 3, promoted=True)),
        (
            "internal.document.approved",
            {
                "document_id": "d1",
                "event_id": event_id,
                "kind": "host_country_paper",
                "title": "Host country paper",
                "language": "en",
                "country": "EE",
                "version": 1,
                "sha256": "0" * 64,
                "status": "approved",
                "revision": 3,
                "occurred_at": datetime.now(UTC).isoformat(),
            },
        ),
        ("event.cancelled", event_payload(event_id, version=3, status="cancelled")),
    ):
        records.append((topic, data, str(uuid.uuid4())))
    return records, {p: email for p, (_, email) in people.items()}


def _send(producer: Producer, event_id: str, records) -> None:
    for topic, data, ce_id in records:
        producer.send(topic, data, key=event_id, ce_id=ce_id)


def _mine(sink, emails: dict[str, str]) -> list[tuple[str, str]]:
    return [(email, subject) for email, subject, _ in _delivered(sink, emails)]


def _delivered(sink, emails: dict[str, str]) -> list[tuple[str, str, str]]:
    """(recipient, subject, Message-ID) of each message the sink received for ``emails``."""
    wanted = set(emails.values())
    out = []
    for message in sink.messages():
        to = message["To"] or ""
        for email in wanted:
            if email in to:
                subject = str(make_header(decode_header(message["Subject"])))
                out.append((email, subject, str(message["Message-ID"])))
    return out


def test_the_invitation_story_mails_each_once_by_message_id_after_a_kill_and_a_replay(
    start_service, topics, smtp_sink, monkeypatch
):
    monkeypatch.setenv("MLP_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("MLP_MAIL_POLL_SECONDS", "0.1")
    # A mail the killed worker had claimed goes to the next one after 6 x 2 s.
    monkeypatch.setenv("MLP_SMTP_TIMEOUT_SECONDS", "2")
    service = start_service("notifications", topics)
    producer = Producer(topics)
    event_id = str(uuid.uuid4())
    records, emails = _story(event_id)

    def reach(count: int, timeout_s: float = 60) -> None:
        try:
            wait_for(lambda: len(set(_mine(smtp_sink, emails))) >= count, timeout_s=timeout_s)
        except AssertionError as exc:
            raise AssertionError(f"{_mine(smtp_sink, emails)}\n{service.worker.tail(60)}") from exc

    # Stage by stage, as time separates them in life (records of different topics
    # have no order between them).
    _send(producer, event_id, records[:4])  # published, three invitations
    reach(3)
    _send(producer, event_id, records[4:7])  # accepted, waitlisted, declined
    service.worker.kill()  # mid-stream: no chance to commit offsets or mark mails sent
    service.restart_worker()
    # A kill inside a transaction leaves it open on the server until its lifetime
    # runs out (60 s, MongoDB's transactionLifetimeLimitSeconds and SecantusDB's):
    # the record it was handling waits for that, then goes through once.
    reach(6, timeout_s=120)
    _send(producer, event_id, records[7:8])  # promoted from the waiting list
    reach(7)
    _send(producer, event_id, records[8:9])  # papers approved
    reach(9)
    _send(producer, event_id, records[9:])  # cancelled
    reach(11)
    before_replay = _delivered(smtp_sink, emails)
    # Replay the whole story (the same ce_ids): nothing new goes out.
    _send(producer, event_id, records)
    time.sleep(5)
    delivered = _delivered(smtp_sink, emails)
    assert len(delivered) == len(before_replay), Counter(delivered)
    # SMTP has no idempotency: a mail the killed worker had handed to the server
    # but not yet marked sent goes again, with the same Message-ID (derived from
    # its idempotency key) so a mail client shows it once. That one mail at most.
    message_ids: dict[tuple[str, str], set[str]] = {}
    for email, subject, message_id in delivered:
        message_ids.setdefault((email, subject), set()).add(message_id)
    assert all(len(ids) == 1 for ids in message_ids.values()), message_ids
    assert len(delivered) - len(message_ids) <= 1, Counter(delivered)
    mails = list(message_ids)
    per_person = Counter(email for email, _ in mails)
    assert per_person == {emails["a"]: 4, emails["b"]: 5, emails["c"]: 2}
    subjects_b = [s for e, s in mails if e == emails["b"]]
    assert any(s.startswith("Une place s'est libérée") for s in subjects_b)
    assert any(s.startswith("Annulé") for s in subjects_b)
    # The invitation's calendar part parses, and its RSVP link is the one issued.
    for message in smtp_sink.messages():
        if emails["a"] in (message["To"] or "") and "calendar" in message.as_string():
            for part in message.walk():
                if part.get_content_type() == "text/calendar":
                    cal = Calendar.from_ical(part.get_payload(decode=True))
                    assert str(cal["METHOD"]) in {"REQUEST", "CANCEL"}
    # The feed over HTTP, from the web process.
    feed = requests.get(
        f"{service.base_url}/v1/notifications",
        headers=auth("participant", email=emails["a"]),
        timeout=10,
    ).json()
    assert feed["total"] == 4 and feed["unread"] == 4
    producer.close()

"""The mails of national nominations against real Kafka, MongoDB and the SMTP
sink, in each coordinator's language: the request for nominations, the
secretariat's decisions, a place freed, and the places left unused at the
deadline (to the secretariat, with a notice in its feed)."""

from __future__ import annotations

import uuid
from email.header import decode_header, make_header

from devkit.auth import auth
from devkit.samples import (
    nomination_changed_payload,
    nomination_requested_payload,
    quota_unused_payload,
)
from tests.helpers import wait_for


def _to(sink, email):
    return [m for m in sink.messages() if email in (m.get("To") or "")]


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _text(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def _ncp(event_id: str, lang: str) -> str:
    return f"ncp-{lang}-{event_id[:8]}@socmin.example.lt"


def test_coordinators_are_asked_for_nominations_in_their_language(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id = str(uuid.uuid4())
    payload = nomination_requested_payload(event_id, languages=("en", "fr", "de"))
    notifications_producer.send("internal.nomination.requested", payload, key=event_id)
    mails = {
        lang: wait_for(lambda lang=lang: _to(smtp_sink, _ncp(event_id, lang)))[0]
        for lang in ("en", "fr", "de")
    }
    expected = {
        "en": (
            "Lithuania: please nominate up to 2 participants",
            "31 March 2027",
            "Tallinn, Estonia",
        ),
        "fr": (
            "Lituanie : merci de désigner jusqu'à 2 participants",
            "31 mars 2027",
            "Tallinn, Estonie",
        ),
        "de": (
            "Litauen: Bitte benennen Sie bis zu 2 Teilnehmende",
            "31. März 2027",
            "Tallinn, Estland",
        ),
    }
    for lang, (subject, day, place) in expected.items():
        message = mails[lang]
        assert _subject(message).startswith(subject) and day in _subject(message)
        text = _text(message)
        # The deadline in the event's zone (23:59 in Tallinn), the venue by name, the API.
        assert "23:59" in text and place in text
        assert f"/v1/events/{event_id}/nominations" in text


def test_decisions_and_freed_places_are_told_to_the_coordinators(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id = str(uuid.uuid4())
    approved = nomination_changed_payload(event_id, str(uuid.uuid4()), languages=("en",))
    rejected = nomination_changed_payload(
        event_id,
        str(uuid.uuid4()),
        "rejected",
        languages=("fr",),
        reason="Pas un agent du ministère.",
        moved_up_name="Ona Kazlauskaitė",
    )
    freed = nomination_changed_payload(
        event_id, str(uuid.uuid4()), "declined", languages=("de",), remaining=1
    )
    notifications_producer.send("internal.nomination.decided", approved, key=event_id)
    notifications_producer.send("internal.nomination.decided", rejected, key=event_id)
    notifications_producer.send("internal.nomination.place_freed", freed, key=event_id)
    [en] = wait_for(lambda: _to(smtp_sink, _ncp(event_id, "en")))
    [fr] = wait_for(lambda: _to(smtp_sink, _ncp(event_id, "fr")))
    [de] = wait_for(lambda: _to(smtp_sink, _ncp(event_id, "de")))
    assert _subject(en).startswith("Approved: Jonas Petraitis is invited to Peer review")
    assert "Lithuania has 0 place(s) left" in _text(en)
    assert _subject(fr).startswith("Non retenue")
    assert "Pas un agent du ministère." in _text(fr) and "Ona Kazlauskaitė" in _text(fr)
    assert "Jonas Petraitis" in _subject(de) or "Jonas Petraitis" in _text(de)
    assert "Litauen" in _subject(de) + _text(de) and "1" in _text(de)


def test_places_left_unused_are_mailed_to_the_secretariat_and_in_its_feed(
    notifications_worker, notifications_producer, notifications_client, smtp_sink
):
    event_id = str(uuid.uuid4())
    notifications_producer.send(
        "internal.nomination.quota_unused", quota_unused_payload(event_id), key=event_id
    )
    [message] = wait_for(
        lambda: [
            m
            for m in _to(smtp_sink, "secretariat@mlp-ops.local")
            if event_id in _text(m) or "Estonian unemployment" in _subject(m)
        ]
    )
    assert _subject(message).startswith("Nomination deadline passed")
    assert "Germany: 2 of 2 places unused" in _text(message)
    feed = notifications_client.get("/v1/notifications", headers=auth("secretariat", sub="sec-2"))
    assert any(i["link"] == f"/v1/events/{event_id}/quotas" for i in feed.json["items"])
    other = notifications_client.get("/v1/notifications", headers=auth("participant", sub="p-1"))
    assert not any(i["event_id"] == event_id for i in other.json["items"])

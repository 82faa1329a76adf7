"""Mail against real Kafka, MongoDB and the SMTP sink: each cause produces its
mail once, iCalendar parts are valid, SMTP outages delay but lose nothing."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.policy import default as default_policy

from icalendar import Calendar

from devkit.samples import event_payload, issued_payload, status_payload
from services.notifications.domain import email_hash
from tests.helpers import wait_for


def _ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


def _to(sink, email: str):
    return [m for m in sink.messages() if email in (m.get("To") or "")]


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _ics(message) -> Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no calendar part")


def _text(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def test_invitation_story_mails_each_once_even_when_records_are_replayed(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, inv = _ids()
    email = f"kadri-{inv[:6]}@example.ee"
    notifications_producer.send("event.published", event_payload(event_id, version=2), key=event_id)
    issued = issued_payload(event_id, inv, email)
    cause = notifications_producer.send(
        "internal.invitation.issued", issued, key=event_id, subject=inv
    )
    [invite] = wait_for(lambda: _to(smtp_sink, email))
    assert _subject(invite).startswith("Please reply by 2027-02-20")
    assert f"/v1/rsvp/tok-{inv}" in _text(invite)
    cal = _ics(invite)
    assert str(cal["METHOD"]) == "REQUEST"
    [vevent] = cal.walk("VEVENT")
    assert str(vevent["UID"]) == f"{event_id}.{inv}@mlp-ops"
    assert int(vevent["SEQUENCE"]) == 2
    assert invite["Message-ID"].startswith("<") and "List-Unsubscribe" not in invite

    accepted = status_payload(event_id, inv, "accepted", 2)
    acc_id = notifications_producer.send("invitation.accepted", accepted, key=event_id, subject=inv)
    wait_for(lambda: len(_to(smtp_sink, email)) == 2)
    # The same records again (a redelivery) and the acceptance again: nothing new.
    notifications_producer.send(
        "internal.invitation.issued", issued, key=event_id, subject=inv, ce_id=cause
    )
    notifications_producer.send(
        "invitation.accepted", accepted, key=event_id, subject=inv, ce_id=acc_id
    )
    time.sleep(2.0)
    mails = _to(smtp_sink, email)
    assert len(mails) == 2
    assert mails[1]["Subject"].startswith("Confirmed, no action needed")
    assert len({m["Message-ID"] for m in mails}) == 2
    db = notifications_worker.db
    assert db.mails.count_documents({"cause_id": {"$in": [cause, acc_id]}}) == 2
    sent = list(db.outbox.find({"topic": "notification.sent"}))
    assert {r["payload"]["cause_id"] for r in sent} == {cause, acc_id}
    assert all(email not in str(r["payload"]) for r in sent)  # no addresses on the topic


def test_an_answer_before_the_address_waits_for_it_and_promotion_is_its_own_mail(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, inv = _ids()
    email = f"jean-{inv[:6]}@example.fr"
    notifications_producer.send(
        "invitation.accepted",
        status_payload(event_id, inv, "accepted", 3, promoted=True),
        key=event_id,
    )
    time.sleep(1.0)
    assert _to(smtp_sink, email) == []
    notifications_producer.send(
        "internal.invitation.issued",
        issued_payload(event_id, inv, email, language="fr"),
        key=event_id,
    )
    mails = wait_for(lambda: (ms := _to(smtp_sink, email)) and len(ms) == 2 and ms)
    subjects = sorted(_subject(m) for m in mails)
    assert any(s.startswith("Merci de répondre") for s in subjects)
    assert any(s.startswith("Une place s'est libérée") for s in subjects)


def test_cancellation_and_change_carry_calendar_cancel_and_update_with_same_uid(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id = str(uuid.uuid4())
    people = {}
    for status, version in (("accepted", 2), ("declined", 2), ("sent", 1)):
        inv = str(uuid.uuid4())
        email = f"{status}-{inv[:6]}@example.de"
        people[status] = (inv, email)
        notifications_producer.send(
            "internal.invitation.issued",
            issued_payload(event_id, inv, email, language="de"),
            key=event_id,
        )
        state = "pending" if status == "sent" else status
        notifications_producer.send(
            f"invitation.{status}", status_payload(event_id, inv, state, version), key=event_id
        )
    wait_for(lambda: all(_to(smtp_sink, e) for _, e in people.values()))
    notifications_producer.send(
        "event.updated",
        event_payload(
            event_id,
            version=5,
            starts_on="2027-04-01",
            ends_on="2027-04-02",
            changed=["ends_on", "starts_on"],
        ),
        key=event_id,
    )
    notifications_producer.send(
        "event.cancelled",
        event_payload(event_id, version=6, status="cancelled", reason="Venue unavailable"),
        key=event_id,
    )
    inv, email = people["accepted"]
    mails = wait_for(lambda: (ms := _to(smtp_sink, email)) and len(ms) == 4 and ms)
    change = next(m for m in mails if _subject(m).startswith("Geändert"))
    cal = _ics(change)
    [vevent] = cal.walk("VEVENT")
    assert str(cal["METHOD"]) == "REQUEST" and int(vevent["SEQUENCE"]) == 5
    assert vevent.decoded("DTSTART").isoformat() == "2027-04-01"
    cancel = next(m for m in mails if _subject(m).startswith("Abgesagt"))
    ccal = _ics(cancel)
    [cevent] = ccal.walk("VEVENT")
    assert str(ccal["METHOD"]) == "CANCEL"
    assert str(cevent["UID"]) == str(vevent["UID"]) == f"{event_id}.{inv}@mlp-ops"
    assert int(cevent["SEQUENCE"]) == 6
    assert "Venue unavailable" in _text(cancel)
    # The pending invitee hears of both; the one who declined of neither.
    wait_for(lambda: len(_to(smtp_sink, people["sent"][1])) == 3)
    time.sleep(1.0)
    declined_subjects = [_subject(m) for m in _to(smtp_sink, people["declined"][1])]
    # the decline notice, and the invitation unless the decline was consumed first
    # (no order across topics: then the invitation is rightly never sent)
    assert any(s.startswith("Vermerkt") for s in declined_subjects)
    assert not any(s.startswith(("Geändert", "Abgesagt")) for s in declined_subjects)
    assert len(declined_subjects) <= 2


def _recipients(message) -> list[tuple[str, str]]:
    """The To header's (display name, address) pairs, as a mail client reads them."""
    header = default_policy.header_factory("To", message["To"])
    return [(a.display_name, a.addr_spec) for a in header.addresses]


def test_a_cancellation_mails_everyone_it_can_and_records_the_one_it_cannot(
    notifications_worker, notifications_producer, smtp_sink
):
    """One recipient whose message cannot be built (an address only SMTPUTF8
    could carry, which the invitations API accepts) fails alone: recorded as a
    failed mail and announced on notification.failed, while the record commits
    and the others get their cancellation. A comma and angle brackets in a name
    are quoted, never a second recipient; a line separator shows as a space."""
    event_id = str(uuid.uuid4())
    suffix = event_id[:6]
    people = {
        "plain": (f"kadri-{suffix}@example.ee", "Kadri Tamm"),
        "comma": (f"mallory-{suffix}@example.org", "Mallory, <boss@evil.example>"),
        "unbuildable": (f"jürgen-{suffix}@example.de", "Jürgen Groß"),
    }
    invitations = {}
    for label, (email, name) in people.items():
        inv = str(uuid.uuid4())
        invitations[label] = inv
        notifications_producer.send(
            "internal.invitation.issued",
            issued_payload(event_id, inv, email, name=name),
            key=event_id,
        )
    # A contact whose name holds LINE SEPARATOR: the invitations API refuses such
    # names now, but the read model may hold one from before (or from elsewhere).
    separated = (f"ana-{suffix}@example.pt", "Ana\u2028Bcc: spy@evil.example")
    notifications_worker.store.apply_contact(
        str(uuid.uuid4()),
        1,
        {"event_id": event_id, "email": separated[0], "name": separated[1], "language": "en"},
        None,
    )
    wait_for(lambda: _to(smtp_sink, people["plain"][0]) and _to(smtp_sink, people["comma"][0]))
    db = notifications_worker.db
    unbuildable_hash = email_hash(people["unbuildable"][0])
    wait_for(lambda: db.mails.find_one({"email_hash": unbuildable_hash, "status": "failed"}))

    cause = notifications_producer.send(
        "event.cancelled",
        event_payload(event_id, version=6, status="cancelled", reason="Venue unavailable"),
        key=event_id,
    )
    for email in (people["plain"][0], people["comma"][0], separated[0]):
        wait_for(lambda e=email: any("Cancelled" in _subject(m) for m in _to(smtp_sink, e)))
    [to_mallory] = [m for m in _to(smtp_sink, people["comma"][0]) if "Cancelled" in _subject(m)]
    assert _recipients(to_mallory) == [("Mallory, <boss@evil.example>", people["comma"][0])]
    [to_ana] = _to(smtp_sink, separated[0])
    assert _recipients(to_ana) == [("Ana Bcc: spy@evil.example", separated[0])]
    assert "Bcc" not in str(to_ana.keys()) and "spy@evil.example" not in to_ana.get("Bcc", "")

    failed = db.mails.find_one({"cause_id": cause, "email_hash": unbuildable_hash})
    assert failed["status"] == "failed"
    assert "raw" not in failed and "to" not in failed  # a final outcome keeps neither
    assert failed["expires_at"] > failed["created_at"]  # and starts its retention
    assert "not an address" in failed["last_error"]
    [announced] = db.outbox.find({"topic": "notification.failed", "payload.cause_id": cause})
    assert announced["payload"]["notification_id"] == failed["notification_id"]
    assert announced["payload"]["notification_id"] != failed["_id"]
    assert announced["payload"]["channel"] == "email"
    assert people["unbuildable"][0] not in str(announced["payload"])  # no addresses
    assert db.processed_records.find_one({"ce_id": cause}) is not None  # not dead-lettered
    others = {"cause_id": cause, "status": {"$in": ["pending", "sent"]}}
    assert db.mails.count_documents(others) == 3


def test_smtp_down_keeps_the_mail_pending_and_sends_it_when_back(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, inv = _ids()
    email = f"later-{inv[:6]}@example.ee"
    smtp_sink.stop()
    notifications_producer.send(
        "internal.invitation.issued", issued_payload(event_id, inv, email), key=event_id
    )
    doc = wait_for(
        lambda: notifications_worker.db.mails.find_one({"to": email, "attempts": {"$gte": 1}})
    )
    assert doc["status"] == "pending" and doc["last_error"]
    # Do not wait out the backoff: make it due now, as time passing would.
    smtp_sink.start()
    notifications_worker.db.mails.update_one(
        {"_id": doc["_id"]}, {"$set": {"next_attempt_at": datetime.now(UTC)}}
    )
    [mail] = wait_for(lambda: _to(smtp_sink, email))
    assert mail["Message-ID"] == doc["message_id"]
    # The sink has the mail a moment before the sender has recorded it sent.
    final = wait_for(
        lambda: notifications_worker.db.mails.find_one({"_id": doc["_id"], "status": "sent"})
    )
    assert final["attempts"] >= 2


def test_opted_out_people_get_no_reminders_but_still_transactional_mail(
    notifications_worker, notifications_producer, smtp_sink, notifications_client
):
    event_id, inv = _ids()
    email = f"quiet-{inv[:6]}@example.ee"
    notifications_producer.send(
        "internal.invitation.issued", issued_payload(event_id, inv, email), key=event_id
    )
    notifications_producer.send(
        "internal.invitation.reminder_due",
        {
            "invitation_id": inv,
            "event_id": event_id,
            "step": "7d",
            "registration_deadline": "2027-02-20T17:00:00+02:00",
            "version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        key=event_id,
    )
    mails = wait_for(lambda: (ms := _to(smtp_sink, email)) and len(ms) == 2 and ms)
    reminder = next(m for m in mails if _subject(m).startswith("Reminder"))
    link = reminder["List-Unsubscribe"].strip().strip("<>")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = link.removeprefix("http://127.0.0.1:8004")
    shown = notifications_client.get(path)
    assert shown.status_code == 200, shown.json
    assert shown.json["unsubscribed"] is False  # GET changes nothing
    assert notifications_client.post(path).json["unsubscribed"] is True
    assert notifications_client.get(path + "x").status_code == 404
    notifications_producer.send(
        "internal.document.reminder_due",
        {
            "event_id": event_id,
            "kind": "comments_paper",
            "due_on": "2027-03-01",
            "recipients": [{"email": email, "name": "Q", "language": "en"}],
            "title": "Skills forecasting",
            "reminder_id": "r1",
            "version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        key=event_id,
    )
    notifications_producer.send(
        "event.cancelled", event_payload(event_id, version=3, status="cancelled"), key=event_id
    )
    wait_for(lambda: len(_to(smtp_sink, email)) == 3)
    suppressed = {"email_hash": email_hash(email), "status": "suppressed"}
    wait_for(lambda: notifications_worker.db.mails.find_one(suppressed))
    assert [_subject(m) for m in _to(smtp_sink, email)][-1].startswith("Cancelled")


def test_starts_tomorrow_goes_once_to_accepted_participants(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, inv = _ids()
    email = f"soon-{inv[:6]}@example.ee"
    notifications_producer.send("event.published", event_payload(event_id, version=2), key=event_id)
    notifications_producer.send(
        "internal.invitation.issued", issued_payload(event_id, inv, email), key=event_id
    )
    notifications_producer.send(
        "invitation.accepted", status_payload(event_id, inv, "accepted", 2), key=event_id
    )
    wait_for(lambda: len(_to(smtp_sink, email)) == 2)
    clock = lambda: datetime(2027, 3, 9, 9, 0, tzinfo=UTC)  # noqa: E731
    assert notifications_worker.starts_tomorrow(clock) == 1
    assert notifications_worker.starts_tomorrow(clock) == 0
    mails = wait_for(lambda: (ms := _to(smtp_sink, email)) and len(ms) == 3 and ms)
    assert mails[-1]["Subject"].startswith("Tomorrow:")


def test_survey_link_and_its_one_reminder_go_to_the_invitation_contact_in_its_language(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, inv = _ids()
    email = f"ona-{inv[:6]}@example.lt"
    notifications_producer.send("event.published", event_payload(event_id, version=2), key=event_id)
    issued = issued_payload(event_id, inv, email, language="fr", name="Ona Jonaitė")
    notifications_producer.send("internal.invitation.issued", issued, key=event_id, subject=inv)
    wait_for(lambda: _to(smtp_sink, email))
    closes = "2027-04-01T12:00:00+00:00"

    def link(token: str, reminder: bool, version: int) -> dict:
        return {
            "invitation_id": inv,
            "event_id": event_id,
            "survey_url": f"https://surveys.example.eu/v1/survey-responses/{token}",
            "reminder": reminder,
            "closes_at": closes,
            "version": version,
            "occurred_at": datetime.now(UTC).isoformat(),
        }

    first = notifications_producer.send(
        "internal.survey.link_issued", link("first", False, 1), key=event_id, subject=inv
    )
    wait_for(lambda: len(_to(smtp_sink, email)) == 2)
    notifications_producer.send(
        "internal.survey.link_issued", link("first", False, 1), key=event_id, ce_id=first
    )  # redelivered: no second mail
    notifications_producer.send(
        "internal.survey.link_issued", link("second", True, 2), key=event_id, subject=inv
    )
    wait_for(lambda: len(_to(smtp_sink, email)) == 3)
    time.sleep(1.0)
    _invitation, survey, reminder = _to(smtp_sink, email)
    assert _subject(survey).startswith("Votre avis sur")
    assert "/v1/survey-responses/first?lang=fr" in _text(survey)
    assert "2027-04-01" in _text(survey)
    assert "List-Unsubscribe" not in survey  # the link itself: essential
    assert _subject(reminder).startswith("Rappel : votre avis")
    assert "/v1/survey-responses/second?lang=fr" in _text(reminder)
    assert "first" not in _text(reminder)
    assert reminder["List-Unsubscribe"]  # a reminder respects opt-outs
    db = notifications_worker.db
    assert (
        db.mails.count_documents(
            {
                "template": {"$in": ["survey_invitation", "survey_reminder"]},
                "email_hash": email_hash(email),  # a sent mail keeps no address
            }
        )
        == 2
    )


def test_a_survey_link_that_comes_before_the_address_waits_for_it(
    notifications_worker, notifications_producer, smtp_sink
):
    """Records of different topics have no order: the link may be consumed
    before the invitation that names the address."""
    event_id, inv = _ids()
    email = f"jonas-{inv[:6]}@example.lt"
    link = {
        "invitation_id": inv,
        "event_id": event_id,
        "survey_url": "https://surveys.example.eu/v1/survey-responses/early",
        "reminder": False,
        "closes_at": None,
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    notifications_producer.send("internal.survey.link_issued", link, key=event_id, subject=inv)
    time.sleep(2.0)
    assert _to(smtp_sink, email) == []
    issued = issued_payload(event_id, inv, email)
    notifications_producer.send("internal.invitation.issued", issued, key=event_id, subject=inv)
    mails = wait_for(lambda: len(_to(smtp_sink, email)) == 2 and _to(smtp_sink, email))
    assert any("/v1/survey-responses/early?lang=en" in _text(m) for m in mails)

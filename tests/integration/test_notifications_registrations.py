"""The mails of open registration against real Kafka, MongoDB and the SMTP
sink: the double opt-in link, the confirmation with its iCalendar entry and
the cancellation link, the waiting list, promotion, cancellation, rejection."""

from __future__ import annotations

import time
import uuid
from email.header import decode_header, make_header

from icalendar import Calendar

from devkit.samples import (
    event_payload,
    issued_payload,
    registration_rejected_payload,
    registration_requested_payload,
    status_payload,
)
from tests.helpers import wait_for


def _to(sink, email):
    return [m for m in sink.messages() if email in (m.get("To") or "")]


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _part(message, kind):
    for part in message.walk():
        if part.get_content_type() == kind:
            return part.get_payload(decode=True)
    return None


def _text(message) -> str:
    return (_part(message, "text/plain") or b"").decode()


def _calendar(message):
    raw = _part(message, "text/calendar")
    return Calendar.from_ical(raw) if raw else None


def _registrant(event_id, inv, email, status, **overrides):
    return issued_payload(
        event_id,
        inv,
        email,
        origin="registration",
        status=status,
        role="stakeholder",
        rsvp_url=f"http://127.0.0.1:8002/v1/registrations/cancel/tok-{inv}",
        **overrides,
    )


def test_the_double_opt_in_mail_holds_the_confirmation_link_once(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, reg = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"mari-{reg[:6]}@ngo.example.org"
    payload = registration_requested_payload(event_id, reg, email)
    cause = notifications_producer.send("internal.registration.requested", payload, key=event_id)
    [mail] = wait_for(lambda: _to(smtp_sink, email))
    assert (
        _subject(mail)
        == "Please confirm your registration for Skills forecasting: Estonia's OSKA system"
    )
    assert f"/v1/registrations/confirm/tok-{reg}" in _text(mail)
    assert f"/v1/registrations/confirm/tok-{reg}" in _part(mail, "text/html").decode()
    assert "List-Unsubscribe" not in mail and _calendar(mail) is None
    notifications_producer.send(
        "internal.registration.requested", payload, key=event_id, ce_id=cause
    )
    # A repeated registration is a new record with a new link: a new mail.
    notifications_producer.send(
        "internal.registration.requested",
        registration_requested_payload(
            event_id,
            reg,
            email,
            resend=True,
            confirm_url="http://127.0.0.1:8002/v1/registrations/confirm/new",
        ),
        key=event_id,
    )
    wait_for(lambda: len(_to(smtp_sink, email)) == 2)
    time.sleep(1.5)
    assert len(_to(smtp_sink, email)) == 2
    assert notifications_worker.db.contacts.count_documents({"email": email}) == 0


def test_a_confirmed_registration_gets_the_confirmation_with_its_calendar_and_cancel_link(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, inv = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"ana-{inv[:6]}@uni.example.pt"
    notifications_producer.send("event.published", event_payload(event_id, version=2), key=event_id)
    notifications_producer.send(
        "invitation.accepted",
        status_payload(event_id, inv, "accepted", 1, origin="registration", role="stakeholder"),
        key=event_id,
    )
    notifications_producer.send(
        "internal.invitation.issued", _registrant(event_id, inv, email, "accepted"), key=event_id
    )
    [confirmed] = wait_for(lambda: _to(smtp_sink, email))
    assert _subject(confirmed).startswith("Confirmed, no action needed: your place")
    text = _text(confirmed)
    assert f"/v1/registrations/cancel/tok-{inv}" in text and "invitation link" not in text
    cal = _calendar(confirmed)
    [vevent] = cal.walk("VEVENT")
    assert str(cal["METHOD"]) == "REQUEST" and str(vevent["UID"]) == f"{event_id}.{inv}@mlp-ops"
    time.sleep(1.5)
    assert len(_to(smtp_sink, email)) == 1  # the accepted record mails nothing more
    notifications_producer.send(
        "invitation.declined",
        status_payload(event_id, inv, "declined", 2, origin="registration", role="stakeholder"),
        key=event_id,
    )
    mails = wait_for(lambda: (ms := _to(smtp_sink, email)) and len(ms) == 2 and ms)
    cancelled = mails[1]
    assert _subject(cancelled).startswith("Cancelled, no action needed")
    ccal = _calendar(cancelled)
    assert str(ccal["METHOD"]) == "CANCEL"
    assert str(ccal.walk("VEVENT")[0]["UID"]) == str(vevent["UID"])


def test_a_waitlisted_registrant_hears_once_and_again_when_promoted(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, inv = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"jean-{inv[:6]}@asso.example.fr"
    notifications_producer.send(
        "internal.invitation.issued",
        _registrant(event_id, inv, email, "waitlisted", language="fr"),
        key=event_id,
    )
    notifications_producer.send(
        "invitation.waitlisted",
        status_payload(event_id, inv, "waitlisted", 1, origin="registration"),
        key=event_id,
    )
    [waiting] = wait_for(lambda: _to(smtp_sink, email))
    assert _subject(waiting).startswith("Vous êtes sur la liste d'attente")
    assert f"/v1/registrations/cancel/tok-{inv}" in _text(waiting) and _calendar(waiting) is None
    notifications_producer.send(
        "invitation.accepted",
        status_payload(event_id, inv, "accepted", 2, origin="registration", promoted=True),
        key=event_id,
    )
    mails = wait_for(lambda: (ms := _to(smtp_sink, email)) and len(ms) == 2 and ms)
    assert _subject(mails[1]).startswith("Une place s'est libérée")
    assert str(_calendar(mails[1])["METHOD"]) == "REQUEST"


def test_a_rejected_registration_is_told_the_reason(
    notifications_worker, notifications_producer, smtp_sink
):
    event_id, reg = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"jonas-{reg[:6]}@verband.example.de"
    notifications_producer.send(
        "internal.registration.rejected",
        registration_rejected_payload(event_id, reg, email, language="de"),
        key=event_id,
    )
    [mail] = wait_for(lambda: _to(smtp_sink, email))
    assert _subject(mail).startswith("Ihre Anmeldung für")
    assert "The places are kept for practitioners." in _text(mail)

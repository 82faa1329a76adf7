"""Open registration end to end: the events, invitations and notifications
services as real processes (gunicorn ``web`` and ``worker``), real Kafka and
MongoDB, and the SMTP sink, whose mails are where people find their links."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import requests

from devkit import mail
from devkit.auth import auth
from devkit.samples import event_body
from tests.helpers import wait_for

SEC = auth("secretariat")


def _person(n: int, **overrides):
    return {
        "email": f"participant.{n}@civil-society.example.org",
        "name": f"Participant {n}",
        "organisation": "European Anti-Poverty Network",
        "stakeholder_type": "ngo",
        "country": "BE",
        "language": "en",
        "consent": {"privacy_notice": "2027-01", "accepted": True},
        **overrides,
    }


PEOPLE = "198.51.100.10"  # the address people register from (behind the ingress)
BOT = "203.0.113.66"
LIMIT = 12


def _register(base_url: str, event_id: str, body: dict, client: str = PEOPLE) -> requests.Response:
    """Register as ``client``: the one trusted proxy in front of web forwards its address."""
    return requests.post(
        f"{base_url}/v1/events/{event_id}/registrations",
        json=body,
        headers={"X-Forwarded-For": client},
        timeout=30,
    )


def _register_when_known(base_url: str, event_id: str, body: dict) -> requests.Response:
    """The invitations service learns of the event from event.published: retry until then."""
    deadline = time.monotonic() + 90
    while True:
        response = _register(base_url, event_id, body)
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def _mails(sink, path: str) -> dict[str, list]:
    """Recipient -> the sink's messages to them holding a link containing ``path``."""
    out: dict[str, list] = {}
    for message in sink.messages():
        if mail.links(message, path):
            out.setdefault(mail.recipient(message), []).append(message)
    return out


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_public_conference_with_open_registration(start_service, topics, smtp_sink, monkeypatch):
    monkeypatch.setenv("MLP_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("MLP_MAIL_POLL_SECONDS", "0.1")
    # Short enough to watch the fifth registration expire, long enough to confirm four.
    monkeypatch.setenv("MLP_REGISTRATION_CONFIRM_WINDOW_S", "60")
    monkeypatch.setenv("MLP_REGISTRATION_RATE_LIMIT", str(LIMIT))
    monkeypatch.setenv("MLP_TRUSTED_PROXIES", "1")
    events = start_service("events", topics)
    invitations = start_service("invitations", topics)
    start_service("notifications", topics)

    created = requests.post(
        f"{events.base_url}/v1/events",
        json=event_body(
            title="European Platform against Poverty: annual convention",
            format="conference",
            guest_countries=[],
            capacity=3,
            visibility="public",
            registration="open",
        ),
        headers=SEC,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    published = requests.post(f"{events.base_url}/v1/events/{event_id}/publish", headers=SEC)
    assert published.status_code == 200

    # Five people register.
    people = [_person(n) for n in range(5)]
    assert _register_when_known(invitations.base_url, event_id, people[0]).status_code == 202
    for body in people[1:]:
        assert _register(invitations.base_url, event_id, body).status_code == 202
    confirm_path = "/v1/registrations/confirm/"
    links = wait_for(
        lambda: (found := _mails(smtp_sink, confirm_path)) and len(found) == 5 and found,
        timeout_s=90,
    )
    assert {p["email"] for p in people} == set(links)
    for messages in links.values():
        assert mail.subject(messages[0]).startswith("Please confirm your registration")

    # A duplicate creates nothing and, ten minutes not being up, sends nothing.
    again = _register(invitations.base_url, event_id, _person(0, name="Participant Zero"))
    assert again.status_code == 202
    # A bot filling the honeypot is refused, and so is its flood beyond the limit,
    # while people behind the same ingress still register.
    statuses = [
        _register(
            invitations.base_url, event_id, _person(90 + n, website="http://spam.example"), BOT
        )
        for n in range(LIMIT + 1)
    ]
    assert [r.status_code for r in statuses] == [422] * LIMIT + [429]
    assert statuses[0].json()["type"] == "/problems/registration-refused"
    assert statuses[LIMIT].headers["Retry-After"]

    # Four confirm: three seats, then the waiting list.
    tokens = {email: _token(mail.links(ms[-1], confirm_path)[0]) for email, ms in links.items()}
    answers = []
    for body in people[:4]:
        url = f"{invitations.base_url}/v1/registrations/confirm/{tokens[body['email']]}"
        shown = requests.get(url, timeout=30)
        assert shown.status_code == 200 and shown.json()["status"] == "unconfirmed"
        answers.append(requests.post(url, timeout=30).json()["status"])
    assert answers == ["accepted", "accepted", "accepted", "waitlisted"]

    cancel_path = "/v1/registrations/cancel/"
    confirmed = wait_for(
        lambda: (found := _mails(smtp_sink, cancel_path)) and len(found) == 4 and found,
        timeout_s=90,
    )
    subjects = {email: mail.subject(ms[0]) for email, ms in confirmed.items()}
    assert sum(s.startswith("Confirmed, no action needed") for s in subjects.values()) == 3
    assert subjects[people[3]["email"]].startswith("You are on the waiting list")
    with_calendar = [
        email
        for email, ms in confirmed.items()
        if any(part.get_content_type() == "text/calendar" for part in ms[0].walk())
    ]
    assert sorted(with_calendar) == sorted(p["email"] for p in people[:3])

    # One cancels through the link in their mail: the waitlisted one is promoted and told.
    cancel = _token(mail.links(confirmed[people[1]["email"]][0], cancel_path)[0])
    cancelled = requests.post(
        f"{invitations.base_url}/v1/registrations/cancel/{cancel}", timeout=30
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    def promoted() -> bool:
        return any(
            mail.subject(m).startswith("A seat is free")
            for m in smtp_sink.messages()
            if mail.recipient(m) == people[3]["email"]
        )

    wait_for(promoted, timeout_s=90)

    # The fifth never confirms: the registration expires and forgets the person.
    url = f"{invitations.base_url}/v1/events/{event_id}/registrations"

    def counted() -> dict:
        return requests.get(url, headers=SEC, timeout=30).json()["counts"]["by_status"]

    wait_for(lambda: counted().get("expired") == 1, timeout_s=150)
    assert counted() == {"accepted": 3, "cancelled": 1, "expired": 1}
    listed = requests.get(url + "?status=expired", headers=SEC, timeout=30).json()["items"]
    assert "email" not in listed[0] and listed[0]["stakeholder_type"] == "ngo"
    late = requests.post(
        f"{invitations.base_url}/v1/registrations/confirm/{tokens[people[4]['email']]}", timeout=30
    )
    assert late.status_code == 410

    # The duplicate created nothing and mailed nothing more.
    per_person = Counter(mail.recipient(m) for m in smtp_sink.messages())
    assert per_person[people[0]["email"]] == 2  # the link, the confirmation
    assert not any(email.startswith("participant.9") for email in per_person)
    participation = requests.get(
        f"{invitations.base_url}/v1/events/{event_id}/invitations?origin=registration",
        headers=SEC,
        timeout=30,
    ).json()
    assert participation["counts"]["by_status"] == {"accepted": 3, "declined": 1}

    # After the deadline the window is closed.
    event = requests.get(f"{events.base_url}/v1/events/{event_id}", headers=SEC, timeout=30)
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    patched = requests.patch(
        f"{events.base_url}/v1/events/{event_id}",
        json={"registration_deadline": past},
        headers={**SEC, "If-Match": event.headers["ETag"]},
        timeout=30,
    )
    assert patched.status_code == 200, patched.text

    counter = iter(range(1, 250))

    def closed() -> list[requests.Response]:
        # A list: a refused Response is falsy itself.
        answer = _register(
            invitations.base_url, event_id, _person(7), client=f"192.0.2.{next(counter)}"
        )
        return [answer] if answer.status_code != 202 else []

    [refused] = wait_for(closed, timeout_s=90, step=1.0)
    assert refused.status_code == 409 and refused.json()["registration_deadline"]

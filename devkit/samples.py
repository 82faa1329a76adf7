"""Sample bodies and valid payloads: ``POST /v1/events`` and ``POST /v1/proposals``
bodies, and the payloads of ``event.*``, ``invitation.*``,
``internal.invitation.issued``, the ``internal.registration.*`` topics and
``internal.proposal.decided`` as their producers publish them (each keyword
argument replaces a field)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any


def event_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /v1/events`` body: a peer review in Tallinn."""
    body = {
        "title": "Skills forecasting: Estonia's OSKA system",
        "summary": "How OSKA anticipates labour and skills needs.",
        "format": "peer_review",
        "programme": "employment",
        "host_country": "EE",
        "guest_countries": ["LV", "FI", "PT"],
        "starts_on": "2027-03-10",
        "ends_on": "2027-03-11",
        "timezone": "Europe/Tallinn",
        "venue": {"city": "Tallinn", "country": "EE", "online": False},
        "languages": ["en", "et"],
        "capacity": 40,
        "registration_deadline": "2027-02-20T17:00:00+02:00",
        "visibility": "public",
        "tags": ["skills", "forecasting"],
    }
    body.update(overrides)
    return body


def official(i: int, email: str) -> dict[str, str]:
    """The ``i``-th of a crowd of invitees (the benchmarks invite thousands):
    countries and languages in turn."""
    return {
        "email": email,
        "name": f"Official {i}",
        "country": ("EE", "LV", "FI", "PT", "DE", "FR")[i % 6],
        "organisation": "Ministry of Labour",
        "role": "government_official",
        "language": ("en", "fr", "de")[i % 3],
    }


def event_payload(
    event_id: str | None = None, version: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid ``event.*`` payload as the events service publishes it (published)."""
    body: dict[str, Any] = {
        **event_body(),
        "event_id": event_id or str(uuid.uuid4()),
        "status": "published",
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body.update(overrides)
    return body


def status_payload(
    event_id: str, invitation_id: str, status: str, version: int, **overrides: Any
) -> dict[str, Any]:
    """A valid ``invitation.*`` payload."""
    return {
        "invitation_id": invitation_id,
        "event_id": event_id,
        "country": "LV",
        "role": "government_official",
        "status": status,
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def issued_payload(
    event_id: str, invitation_id: str, email: str, version: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid ``internal.invitation.issued`` payload."""
    return {
        "invitation_id": invitation_id,
        "event_id": event_id,
        "version": version,
        "email": email,
        "name": "Kadri Tamm",
        "language": "en",
        "country": "EE",
        "organisation": "Ministry of Social Affairs",
        "role": "government_official",
        "rsvp_url": f"http://127.0.0.1:8002/v1/rsvp/tok-{invitation_id}",
        "registration_deadline": "2027-02-20T17:00:00+02:00",
        "resend": False,
        "event": {
            "title": "Skills forecasting: Estonia's OSKA system",
            "format": "peer_review",
            "starts_on": "2027-03-10",
            "ends_on": "2027-03-11",
            "timezone": "Europe/Tallinn",
            "venue": {"city": "Tallinn", "country": "EE", "online": False},
        },
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def _snapshot() -> dict[str, Any]:
    return {
        "title": "Skills forecasting: Estonia's OSKA system",
        "format": "conference",
        "starts_on": "2027-03-10",
        "ends_on": "2027-03-11",
        "timezone": "Europe/Tallinn",
        "venue": {"city": "Tallinn", "country": "EE", "online": False},
    }


def registration_requested_payload(
    event_id: str, registration_id: str, email: str, version: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid ``internal.registration.requested`` payload."""
    return {
        "registration_id": registration_id,
        "event_id": event_id,
        "version": version,
        "email": email,
        "name": "Mari Maasikas",
        "language": "en",
        "confirm_url": f"http://127.0.0.1:8002/v1/registrations/confirm/tok-{registration_id}",
        "resend": False,
        "expires_at": "2027-01-12T10:00:00+00:00",
        "registration_deadline": "2027-02-20T17:00:00+02:00",
        "event": _snapshot(),
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def registration_rejected_payload(
    event_id: str, registration_id: str, email: str, version: int = 3, **overrides: Any
) -> dict[str, Any]:
    """A valid ``internal.registration.rejected`` payload."""
    return {
        "registration_id": registration_id,
        "event_id": event_id,
        "version": version,
        "email": email,
        "name": "Mari Maasikas",
        "language": "en",
        "reason": "The places are kept for practitioners.",
        "event": _snapshot(),
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def proposal_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /v1/proposals`` body: Lithuania offers a peer review, some
    months from today."""
    first = date.today() + timedelta(days=150)
    body: dict[str, Any] = {
        "title": "Youth Guarantee outreach through municipal youth centres",
        "policy_summary": "How Lithuania's municipalities reach young people not in "
        "employment, education or training through youth centres and mobile workers.",
        "format": "peer_review",
        "preferred_period": {
            "from": first.isoformat(),
            "to": (first + timedelta(days=60)).isoformat(),
        },
        "languages": ["en", "lt"],
        "themes": ["youth", "outreach"],
        "contact": {
            "name": "Rūta Kazlauskienė",
            "email": "ruta.kazlauskiene@example.lt",
            "phone": "+370 5 266 4201",
            "organisation": "Ministry of Social Security and Labour",
        },
        "language": "en",
    }
    body.update(overrides)
    return body


def proposal_decided_payload(
    proposal_id: str | None = None, version: int = 2, **overrides: Any
) -> dict[str, Any]:
    """A valid ``internal.proposal.decided`` payload (an acceptance)."""
    return {
        "proposal_id": proposal_id or str(uuid.uuid4()),
        "country": "LT",
        "status": "accepted",
        "title": "Youth Guarantee outreach through municipal youth centres",
        "event_id": str(uuid.uuid4()),
        "reason": "",
        "recipients": [
            {"email": "coordinator@example.lt", "name": "Rūta Kazlauskienė", "language": "en"}
        ],
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def proposal_payload(
    proposal_id: str | None = None, version: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid ``proposal.*`` payload as the events service publishes it (submitted)."""
    body = proposal_body()
    return {
        **{k: body[k] for k in ("title", "policy_summary", "format", "preferred_period")},
        "languages": body["languages"],
        "themes": body["themes"],
        "proposal_id": proposal_id or str(uuid.uuid4()),
        "country": "LT",
        "status": "submitted",
        "event_id": None,
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def _peer_review() -> dict[str, Any]:
    return {
        "title": "Peer review: the Estonian unemployment insurance reform",
        "format": "peer_review",
        "starts_on": "2027-05-10",
        "ends_on": "2027-05-11",
        "timezone": "Europe/Tallinn",
        "venue": {"city": "Tallinn", "country": "EE", "online": False},
    }


def _coordinators(event_id: str, languages: tuple[str, ...]) -> list[dict[str, str]]:
    """LT's coordinators, one per language, their addresses unique to the event."""
    return [
        {
            "email": f"ncp-{lang}-{event_id[:8]}@socmin.example.lt",
            "name": f"NCP {lang}",
            "language": lang,
        }
        for lang in languages
    ]


def nomination_requested_payload(
    event_id: str, version: int = 1, languages: tuple[str, ...] = ("en",), **overrides: Any
) -> dict[str, Any]:
    """A valid ``internal.nomination.requested`` payload (LT has 2 places)."""
    return {
        "event_id": event_id,
        "country": "LT",
        "places": 2,
        "recipients": _coordinators(event_id, languages),
        "nominate_url": f"http://127.0.0.1:8002/v1/events/{event_id}/nominations",
        "nomination_deadline": "2027-03-31T20:59:00+00:00",
        "event": _peer_review(),
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def nomination_changed_payload(
    event_id: str,
    nomination_id: str,
    status: str = "approved",
    version: int = 2,
    languages: tuple[str, ...] = ("en",),
    **overrides: Any,
) -> dict[str, Any]:
    """A valid ``internal.nomination.decided`` / ``place_freed`` payload."""
    return {
        "nomination_id": nomination_id,
        "event_id": event_id,
        "country": "LT",
        "status": status,
        "nominee_name": "Jonas Petraitis",
        "reason": "",
        "moved_up_name": "",
        "remaining": 0,
        "recipients": _coordinators(event_id, languages),
        "event": _peer_review(),
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def quota_unused_payload(event_id: str, version: int = 2, **overrides: Any) -> dict[str, Any]:
    """A valid ``internal.nomination.quota_unused`` payload (DE left both places)."""
    return {
        "event_id": event_id,
        "countries": [{"country": "DE", "places": 2, "used": 0, "unused": 2}],
        "nomination_deadline": "2027-03-31T20:59:00+00:00",
        "event": _peer_review(),
        "version": version,
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }

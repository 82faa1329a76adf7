"""Sample bodies and valid payloads: a ``POST /v1/events`` body, the payloads
of ``event.*``, ``invitation.*``, ``internal.invitation.issued`` and the
``internal.registration.*`` topics as their producers publish them (each keyword
argument replaces a field)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
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

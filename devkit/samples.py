"""Sample bodies and valid payloads: a ``POST /v1/events`` body, the payloads
of ``event.*``, ``invitation.*`` and ``internal.invitation.issued`` as their
producers publish them (each keyword argument replaces a field), and a minimal PDF."""

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


# A minimal valid PDF (the documents service sniffs "%PDF-"): the demo's papers.
PDF_BYTES = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"

"""Rules of invitations, without I/O: tokens, the RSVP state machine, capacity
and the waiting list, who may see what, and the reminder schedule."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.auth import Principal
from shared.errors import Conflict, Gone, NotFound

RESPONSES = ("accept", "decline")
# What a cancellation revokes: every invitation whose link still works (a declined
# invitee may still change their mind), so that none of them stays answerable.
OPEN_STATUSES = ("pending", "accepted", "waitlisted", "declined")
ANSWERABLE_STATUSES = ("pending", "accepted", "declined", "waitlisted")
MAX_INVITEES = 5000
TOPIC_OF_STATUS = {
    "pending": "invitation.sent",
    "accepted": "invitation.accepted",
    "declined": "invitation.declined",
    "waitlisted": "invitation.waitlisted",
    "revoked": "invitation.revoked",
    "expired": "invitation.expired",
}


# --- the RSVP link ------------------------------------------------------------


def new_token() -> str:
    """A fresh RSVP token: 32 random bytes (256 bits), URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def rsvp_url(public_base_url: str, token: str) -> str:
    """The RSVP link; always from the configured base, never from the Host header."""
    return f"{public_base_url.rstrip('/')}/v1/rsvp/{token}"


# --- the state machine --------------------------------------------------------


def check_answerable(
    invitation: dict[str, Any], event: dict[str, Any], now: datetime, *, deadline_binds: bool
) -> None:
    """Refuse an answer to a revoked invitation or a cancelled event (410) and
    an answer after the deadline or to an expired invitation (409)."""
    if event.get("status") == "cancelled":
        raise Gone("The event has been cancelled.")
    if invitation["status"] == "revoked":
        raise Gone("This invitation has been revoked.")
    deadline = event.get("registration_deadline")
    deadline_text = deadline.isoformat() if isinstance(deadline, datetime) else None
    if invitation["status"] == "expired":
        raise Conflict(
            "This invitation expired at the deadline.", registration_deadline=deadline_text
        )
    if event.get("status") == "completed":
        raise Conflict("The event has already taken place.")
    if deadline_binds and isinstance(deadline, datetime) and now > deadline:
        raise Conflict(
            f"Answers closed at the registration deadline {deadline_text}.",
            registration_deadline=deadline_text,
        )


def next_status(current: str, response: str, seat_free: bool) -> str:
    """The status an answer leads to. Accepting keeps a seat or a waiting-list
    place already held; a new acceptance takes a free seat or waits."""
    if response == "decline":
        return "declined"
    if current in ("accepted", "waitlisted"):
        return current
    return "accepted" if seat_free else "waitlisted"


def seat_free(accepted: int, capacity: int | None) -> bool:
    return capacity is None or accepted < capacity


def seat_delta(before: str, after: str) -> dict[str, int]:
    """How the event's accepted and waitlisted counters move with a status change."""
    delta = {"accepted": 0, "waitlisted": 0}
    for status, sign in ((before, -1), (after, 1)):
        if status in delta:
            delta[status] += sign
    return delta


def free_seats(accepted: int, capacity: int | None, waitlisted: int) -> int:
    """How many waitlisted invitees may be promoted now."""
    if capacity is None:
        return waitlisted
    return max(0, min(capacity - accepted, waitlisted))


# --- who may see what ---------------------------------------------------------


def visibility_filter(principal: Principal) -> dict[str, Any] | None:
    """The MongoDB filter of the invitations ``principal`` may see; None: nothing.

    The secretariat sees everything; anyone else only the invitations sent to
    the verified e-mail address of their token (case-insensitive: both are
    lower-cased).
    """
    if principal.is_secretariat:
        return {}
    if principal.verified_email:
        return {"email": principal.verified_email}
    return None


def may_see(principal: Principal, invitation: dict[str, Any]) -> bool:
    if principal.is_secretariat:
        return True
    email = principal.verified_email
    return email is not None and email == invitation["email"]


# --- the event read model -----------------------------------------------------


def check_invitable(event: dict[str, Any] | None, event_id: str, now: datetime) -> None:
    """Invitations go only to a known, published event before its deadline."""
    if event is None:
        raise NotFound(f"There is no event {event_id} (or it is not known here yet).")
    if event.get("status") != "published":
        raise Conflict(f"The event is {event.get('status')}; invitations need a published event.")
    deadline = event.get("registration_deadline")
    if isinstance(deadline, datetime) and now > deadline:
        raise Conflict(f"The registration deadline {deadline.isoformat()} has passed.")


# --- reminders ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    days: int


def parse_schedule(raw: str) -> list[Step]:
    """``"7,2"`` -> steps 7d and 2d before the deadline (largest first)."""
    days = sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True)
    if any(d <= 0 for d in days):
        raise ValueError("Reminder days must be positive integers.")
    return [Step(f"{d}d", d) for d in days]


def due_step(
    schedule: list[Step], deadline: datetime, created_at: datetime, now: datetime
) -> Step | None:
    """The one reminder step due now for an invitation created at ``created_at``.

    A step is due once its point (deadline minus its days) has passed, before
    the deadline, for invitations created before that point; when several are
    due only the latest counts (an invitee does not get the 7-day reminder two
    days before the deadline).
    """
    if now >= deadline:
        return None
    due = None
    for step in schedule:  # largest first
        point = deadline - timedelta(days=step.days)
        if point <= now and created_at < point:
            due = step
    return due

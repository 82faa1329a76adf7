"""Rules of invitations, without I/O: tokens, the RSVP state machine, capacity
and the waiting list, who may see what, and the reminder schedule."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import auth
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, Gone, Invalid, NotFound

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


# --- open registration ----------------------------------------------------------

# A registration is unconfirmed until its confirmation link is used (double
# opt-in), then awaits the secretariat on a moderated event, then holds what its
# participation record holds: a seat, a waiting-list place, or nothing any more.
REGISTRATION_STATUSES = (
    "unconfirmed",
    "awaiting_approval",
    "accepted",
    "waitlisted",
    "cancelled",
    "rejected",
    "expired",
    "revoked",
)
# The participation record's status -> its registration's.
REGISTRATION_OF_STATUS = {
    "accepted": "accepted",
    "waitlisted": "waitlisted",
    "declined": "cancelled",
    "revoked": "revoked",
    "expired": "expired",
}
RESEND_AFTER = timedelta(minutes=10)
# Stakeholder types whose people attend as officials; everyone else as stakeholders.
OFFICIAL_STAKEHOLDERS = frozenset({"national_government", "regional_local_authority"})
# What an expired (never confirmed) registration forgets: everything that names the person.
ERASED_ON_EXPIRY = ("email", "name", "organisation", "consent")


def confirm_url(public_base_url: str, token: str) -> str:
    """The double opt-in link (from the configured base, never the Host header)."""
    return f"{public_base_url.rstrip('/')}/v1/registrations/confirm/{token}"


def cancel_url(public_base_url: str, token: str) -> str:
    """The link a registrant cancels with; its token is their participation record's."""
    return f"{public_base_url.rstrip('/')}/v1/registrations/cancel/{token}"


def _deadline_text(event: dict[str, Any]) -> str | None:
    deadline = event.get("registration_deadline")
    return deadline.isoformat() if isinstance(deadline, datetime) else None


def check_registrable(event: dict[str, Any] | None, event_id: str, now: datetime) -> None:
    """Anyone may register for a published public event open to registration,
    until its deadline. An event they may not know of is 404, one that takes no
    registrations 409, a closed window 409 with the deadline."""
    if event is None or event.get("visibility") != "public" or event.get("status") != "published":
        raise NotFound(f"There is no public event {event_id} to register for.")
    if event.get("registration") != "open":
        raise Conflict("This event does not take registrations; participation is by invitation.")
    deadline = event.get("registration_deadline")
    if isinstance(deadline, datetime) and now > deadline:
        raise Conflict(
            f"Registration closed at the deadline {_deadline_text(event)}.",
            registration_deadline=_deadline_text(event),
        )


def check_confirmable(registration: dict[str, Any], event: dict[str, Any], now: datetime) -> None:
    """A confirmation needs a live registration of an event still open to it."""
    if event.get("status") == "cancelled":
        raise Gone("The event has been cancelled.")
    if registration["status"] == "expired" or (
        registration["status"] == "unconfirmed" and now >= registration["expires_at"]
    ):
        raise Gone("This registration expired unconfirmed; please register again.")
    if registration["status"] in ("rejected", "revoked", "cancelled"):
        raise Gone(f"This registration was {registration['status']}.")
    check_registrable(event, registration["event_id"], now)


def check_cancellable(invitation: dict[str, Any], event: dict[str, Any]) -> None:
    """A registrant may give their place back until the event has taken place
    (the registration deadline does not bind: a freed seat helps the waiting list)."""
    if event.get("status") == "cancelled":
        raise Gone("The event has been cancelled.")
    if invitation["status"] == "revoked":
        raise Gone("This registration has been withdrawn by the secretariat.")
    if event.get("status") == "completed":
        raise Conflict("The event has already taken place.")


def resend_due(last_sent_at: datetime | None, now: datetime) -> bool:
    """A repeated registration re-sends the confirmation at most every ten minutes."""
    return last_sent_at is None or now - last_sent_at >= RESEND_AFTER


def role_of_stakeholder(stakeholder_type: str) -> str:
    """The participation role of a registrant (what partners count by)."""
    return "government_official" if stakeholder_type in OFFICIAL_STAKEHOLDERS else "stakeholder"


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower().rstrip(".")


def domain_blocked(email: str, blocked: frozenset[str]) -> bool:
    """Whether ``email``'s domain, or a domain it is under, is on the block-list."""
    domain = email_domain(email)
    return any(domain == b or domain.endswith(f".{b}") for b in blocked)


def parse_domains(raw: str) -> frozenset[str]:
    """``"mailinator.com, .example.org"`` -> {"mailinator.com", "example.org"}."""
    domains = set()
    for part in raw.split(","):
        name = part.strip().lower().strip(".")
        if not name:
            continue
        if "@" in name or " " in name or "." not in name:
            raise ValueError(f"{part.strip()!r} is not a domain such as 'mailinator.com'.")
        domains.add(name)
    return frozenset(domains)


# --- national nominations ---------------------------------------------------------

# A nomination awaits the secretariat (``nominated``), becomes an invitation
# (``approved``: the RSVP flow) or is ``rejected``; an approved nominee who
# declines, is revoked or expires gives the place back to their country.
NOMINATION_STATUSES = ("nominated", "approved", "rejected", "declined", "revoked", "expired")
# The participation record's status -> its nomination's, for those that free the place.
NOMINATION_OF_STATUS = {"declined": "declined", "revoked": "revoked", "expired": "expired"}
MAX_PLACES = 1000


def counts_against_quota(nomination: dict[str, Any]) -> bool:
    """Whether a nomination holds one of its country's places (substitutes do
    not, until they move up)."""
    return not nomination.get("substitute") and nomination["status"] in ("nominated", "approved")


def remaining(places: int, used: int) -> int:
    return max(0, places - used)


def nominating_country(principal: Principal, requested: str | None) -> tuple[str, bool]:
    """Which country a nomination is for, and whether it is made on its behalf.

    A coordinator nominates for the country of their token's ``country`` claim
    only (none, or no ISO code: 403; another country: 403); the secretariat
    names the country and acts on its behalf."""
    if principal.is_secretariat:
        if not requested:
            raise Invalid(
                "The secretariat names the country it nominates for.",
                errors={"country": ["Missing data for required field."]},
            )
        return requested, True
    country = auth.coordinator_country(principal)
    if requested and requested != country:
        raise Forbidden(f"You coordinate {country}; you cannot nominate for {requested}.")
    return country, False


def coordinator_country(principal: Principal) -> str | None:
    """The one country a caller sees nominations of (a coordinator's claim,
    :func:`shared.auth.coordinator_country`); None: every country (secretariat)."""
    if principal.is_secretariat:
        return None
    return auth.coordinator_country(principal)


def check_quota_event(event: dict[str, Any] | None, event_id: str) -> dict[str, Any]:
    """Quotas go on a known, published event run by nominations."""
    if event is None:
        raise NotFound(f"There is no event {event_id} (or it is not known here yet).")
    if event.get("registration") != "nomination":
        raise Conflict("This event is not run by nominations (registration: nomination).")
    if event.get("status") != "published":
        raise Conflict(f"The event is {event.get('status')}; quotas need a published event.")
    return event


def quota_errors(event: dict[str, Any], quotas: dict[str, int]) -> dict[str, list[str]]:
    """Only the host and the guest countries of the event get places."""
    invited = {event.get("host_country"), *(event.get("guest_countries") or [])}
    return {
        country: [f"{country} is neither the host nor a guest country of the event."]
        for country in sorted(quotas)
        if country not in invited
    }


def check_nominable(event: dict[str, Any] | None, event_id: str, now: datetime) -> dict:
    """Nominations go to a published nomination event before its nomination
    deadline (and its registration deadline)."""
    if event is None or event.get("registration") != "nomination":
        raise NotFound(f"There is no event {event_id} taking nominations.")
    if event.get("status") != "published":
        raise Conflict(f"The event is {event.get('status')}; it takes no nominations.")
    for name in ("nomination_deadline", "registration_deadline"):
        deadline = event.get(name)
        if isinstance(deadline, datetime) and now > deadline:
            raise Conflict(
                f"Nominations closed at the {name.replace('_', ' ')} {deadline.isoformat()}.",
                **{name: deadline.isoformat()},
            )
    return event


def nominate_url(public_base_url: str, event_id: str) -> str:
    """Where coordinators nominate (their token is the credential, not the link)."""
    return f"{public_base_url.rstrip('/')}/v1/events/{event_id}/nominations"


# --- the erasure ledger -------------------------------------------------------------

ERASURE_STATUSES = ("in_progress", "overdue", "completed")


def new_erasure(
    request_id: str,
    subject: str,
    *,
    kind: str,
    services: tuple[str, ...],
    at: datetime,
    reason: str = "",
    requested_by: str | None = None,
    account_keys: list[str] | None = None,
    invitation_ids: list[str] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A ledger entry waiting for every service's answer; it keeps keyed hashes
    and opaque ids, never an address, a name or an account id."""
    return {
        "_id": request_id,
        "kind": kind,  # "request" | "retention"
        "subject": subject,
        "account_keys": sorted(account_keys or []),
        "invitation_ids": sorted(invitation_ids or []),
        "event_id": event_id,
        "reason": reason,
        "requested_by": requested_by,
        "requested_at": at,
        "status": "in_progress",
        "completed_at": None,
        "services": {name: {"status": "pending"} for name in services},
        "runs": [],
    }


def record_answer(
    entry: dict[str, Any], service: str, answer: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """``entry`` with ``service``'s answer; completed once every service answered.
    A service it did not wait for (not in the catalogue then) is recorded too."""
    services = dict(entry["services"])
    services[service] = {"status": "completed", "completed_at": at, **answer}
    done = all(s["status"] == "completed" for s in services.values())
    return {
        **entry,
        "services": services,
        "status": "completed" if done else entry["status"],
        "completed_at": (entry.get("completed_at") or at) if done else None,
    }


def restart(entry: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A completed entry run again (a replay after a restore): the earlier
    certificate is kept in ``runs``, every service is waited for again."""
    return {
        **entry,
        "runs": [*entry.get("runs", []), certificate(entry)],
        "status": "in_progress",
        "completed_at": None,
        "replayed_at": at,
        "services": {name: {"status": "pending"} for name in entry["services"]},
    }


def erasure_view(entry: dict[str, Any], now: datetime, overdue_after_s: float) -> dict[str, Any]:
    """The ledger entry as the API shows it: a service that has not answered
    ``overdue_after_s`` after the request (or its replay) shows as ``overdue``."""
    since = entry.get("replayed_at") or entry["requested_at"]
    late = now - since > timedelta(seconds=overdue_after_s)
    services = {}
    for name, answer in entry["services"].items():
        status = answer["status"]
        if status == "pending" and late:
            status = "overdue"
        services[name] = {**answer, "status": status}
    status = entry["status"]
    if status != "completed" and any(s["status"] == "overdue" for s in services.values()):
        status = "overdue"
    view = {
        "id": entry["_id"],
        "kind": entry["kind"],
        "status": status,
        "reason": entry.get("reason") or "",
        "event_id": entry.get("event_id"),
        "requested_at": entry["requested_at"],
        "completed_at": entry.get("completed_at"),
        "replayed_at": entry.get("replayed_at"),
        "services": services,
        "overdue": sorted(n for n, s in services.items() if s["status"] == "overdue"),
        "certificate": certificate(entry) if entry["status"] == "completed" else None,
        "earlier_runs": entry.get("runs", []),
    }
    return view


def certificate(entry: dict[str, Any]) -> dict[str, Any]:
    """The proof of an erasure: who answered when, with what counts, keeping what."""
    services = [
        {
            "service": name,
            "completed_at": answer.get("completed_at"),
            "counts": answer.get("counts", {}),
            "retained": answer.get("retained", []),
        }
        for name, answer in sorted(entry["services"].items())
    ]
    return {
        "request_id": entry["_id"],
        "subject": entry["subject"],
        "requested_at": entry["requested_at"],
        "completed_at": entry.get("completed_at"),
        "services": services,
        "total": sum(sum(s["counts"].values()) for s in services),
    }

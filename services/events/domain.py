"""Rules of programme events, without I/O: what a valid event is, which
lifecycle transitions exist, who may see what, and the search terms."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from shared.auth import Principal
from shared.lifecycle import Lifecycle

MAX_PEER_REVIEW_GUESTS = 10

# action -> (statuses it may start from, status it leads to, topic it announces)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "publish": (frozenset({"draft"}), "published", "event.published"),
    "cancel": (frozenset({"draft", "published"}), "cancelled", "event.cancelled"),
    "complete": (frozenset({"published"}), "completed", "event.completed"),
}
EDITABLE_STATUSES = frozenset({"draft", "published"})
# Statuses the public catalogue shows: a completed event stays in the catalogue.
CATALOGUE_STATUSES = ("published", "completed")


LIFECYCLE = Lifecycle("event", TRANSITIONS)
next_status = LIFECYCLE.next_status


def validate_event(event: dict[str, Any]) -> dict[str, list[str]]:
    """Cross-field rules of a complete event; returns field errors (empty when valid)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    guests = event.get("guest_countries") or []
    host = event.get("host_country")
    if host and host in guests:
        add("guest_countries", f"The host country {host} cannot also be a guest.")
    if len(set(guests)) != len(guests):
        add("guest_countries", "A guest country is listed twice.")
    if event.get("format") == "peer_review" and len(guests) > MAX_PEER_REVIEW_GUESTS:
        add(
            "guest_countries",
            f"A peer review has at most {MAX_PEER_REVIEW_GUESTS} peer countries, "
            f"got {len(guests)}.",
        )
    starts, ends = _as_date(event.get("starts_on")), _as_date(event.get("ends_on"))
    if starts and ends and ends < starts:
        add("ends_on", "The event cannot end before it starts.")
    deadline = event.get("registration_deadline")
    if starts and isinstance(deadline, datetime) and deadline.date() >= starts:
        add("registration_deadline", "Registration must close before the event starts.")
    follows_up = event.get("follows_up") or []
    if event.get("id") and event["id"] in follows_up:
        add("follows_up", "An event cannot follow up itself.")
    if len(set(follows_up)) != len(follows_up):
        add("follows_up", "An event is listed twice.")
    return errors


def follow_up_errors(event: dict[str, Any], earlier: dict[str, date]) -> list[str]:
    """Why ``event.follows_up`` is wrong, given the start dates of the events it
    names that exist (``earlier``: id -> starts_on): each must exist and start no
    later than ``event`` (a follow-up continues something that came before)."""
    problems = []
    starts = _as_date(event.get("starts_on"))
    for event_id in event.get("follows_up") or []:
        if event_id not in earlier:
            problems.append(f"There is no event {event_id}.")
        elif starts and earlier[event_id] > starts:
            problems.append(
                f"The event {event_id} starts after this one ({earlier[event_id].isoformat()}); "
                "an event follows up only earlier ones."
            )
    return problems


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    return None


def changed_fields(before: dict[str, Any], changes: dict[str, Any]) -> list[str]:
    """Names of the fields whose value ``changes`` really alters."""
    return sorted(name for name, value in changes.items() if before.get(name) != value)


def visibility_filter(principal: Principal) -> dict[str, Any]:
    """The MongoDB filter of the events ``principal`` may see.

    The secretariat and ops see everything. Anonymous visitors see the public
    catalogue. Other officials also see invitation-only events of their country.
    """
    if principal.has_any({"secretariat", "ops"}):
        return {}
    catalogue: dict[str, Any] = {"status": {"$in": list(CATALOGUE_STATUSES)}}
    if principal.anonymous or not principal.country:
        return {**catalogue, "visibility": "public"}
    return {
        **catalogue,
        "$or": [
            {"visibility": "public"},
            {"host_country": principal.country},
            {"guest_countries": principal.country},
        ],
    }


_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MIN_PREFIX = 3


def words(text: str) -> list[str]:
    """Lower-case words of ``text``, accents kept (Unicode letters and digits)."""
    return [w.casefold() for w in _WORD.findall(text or "")]


def search_terms(event: dict[str, Any]) -> list[str]:
    """The indexed terms that free-text search ``q`` matches.

    Words of the title and tags match by prefix (``forecast`` finds
    *forecasting*); words of the summary match whole.
    """
    terms: set[str] = set()
    for word in words(event.get("title", "")) + words(" ".join(event.get("tags") or [])):
        terms.update(word[:n] for n in range(MIN_PREFIX, len(word) + 1))
        terms.add(word)
    terms.update(words(event.get("summary", "")))
    return sorted(terms)


def query_terms(q: str) -> list[str]:
    return sorted(set(words(q)))

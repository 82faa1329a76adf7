"""Rules of programme events and hosting proposals, without I/O: what a valid
event is, which lifecycle transitions exist, who may see what, the search
terms, and the draft event an accepted proposal becomes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import missing

from shared.auth import Principal
from shared.lifecycle import Lifecycle
from shared.payloads.events import EventFieldsSchema

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

# Fields events gained after some were stored, with the value an event stored
# before them has: the store fills them in, so old events read, change and are
# announced like new ones.
LATER_FIELDS: dict[str, Any] = {
    "registration": "invitation",
    "registration_moderated": False,
    "nomination_deadline": None,
    "proposal_id": None,
}
# Fields a published event keeps: once it is out, people may have registered or
# been nominated under its way in, and the invitations service counts its seats by it.
FIXED_ONCE_PUBLISHED = frozenset({"registration"})


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
    if event.get("registration") == "open" and event.get("visibility") != "public":
        add("registration", "Only a public event may be open to registration.")
    nomination_deadline = event.get("nomination_deadline")
    if event.get("registration") != "nomination" and nomination_deadline is not None:
        add("nomination_deadline", "Only an event run by nominations has a nomination deadline.")
    deadline = event.get("registration_deadline")
    if starts and isinstance(deadline, datetime) and deadline.date() >= starts:
        add("registration_deadline", "Registration must close before the event starts.")
    if (
        starts
        and isinstance(nomination_deadline, datetime)
        and (nomination_deadline.date() >= starts)
    ):
        add("nomination_deadline", "Nominations must close before the event starts.")
    follows_up = event.get("follows_up") or []
    if event.get("id") and event["id"] in follows_up:
        add("follows_up", "An event cannot follow up itself.")
    if len(set(follows_up)) != len(follows_up):
        add("follows_up", "An event is listed twice.")
    return errors


def refused_changes(status: str, changed: list[str]) -> list[str]:
    """The changed fields an event in ``status`` no longer takes."""
    return sorted(set(changed) & FIXED_ONCE_PUBLISHED) if status != "draft" else []


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


# --- hosting proposals -----------------------------------------------------

# action -> (statuses it may start from, status it leads to, topic it announces)
PROPOSAL_TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "accept": (frozenset({"submitted"}), "accepted", "proposal.accepted"),
    "decline": (frozenset({"submitted"}), "declined", "proposal.declined"),
}
PROPOSAL_LIFECYCLE = Lifecycle("proposal", PROPOSAL_TRANSITIONS)


def validate_proposal(proposal: dict[str, Any], today: date | None = None) -> dict[str, list[str]]:
    """Cross-field rules of a proposal; returns field errors (empty when valid)."""
    errors: dict[str, list[str]] = {}
    period = proposal.get("preferred_period") or {}
    first, last = period.get("from_"), period.get("to")
    today = today or datetime.now(UTC).date()
    if isinstance(first, date) and isinstance(last, date):
        if last < first:
            errors.setdefault("preferred_period", []).append(
                "The period cannot end before it starts."
            )
        elif last < today:
            errors.setdefault("preferred_period", []).append("The period is over already.")
    return errors


def proposal_filter(principal: Principal, country: str | None) -> dict[str, Any]:
    """The MongoDB filter of the proposals ``principal`` may see: all of them for
    the secretariat and ops, their own country's for a coordinator (``country``,
    the one they act for)."""
    if principal.has_any({"secretariat", "ops"}):
        return {}
    return {"country": country}


def decision_recipients(proposal: dict[str, Any]) -> list[dict[str, str]]:
    """Who is told of the decision, in the proposal's language: the coordinator
    who proposed (at their token's verified address) and the proposal's contact,
    each address once."""
    contact = proposal.get("contact") or {}
    people: list[dict[str, str]] = []
    for email, name in (
        (proposal["submitted_by"].get("email"), ""),
        (contact.get("email"), contact.get("name", "")),
    ):
        if not email:
            continue
        same = [p for p in people if p["email"].lower() == email.lower()]
        if same:
            same[0]["name"] = same[0]["name"] or name
        else:
            people.append({"email": email, "name": name, "language": proposal["language"]})
    return people


def draft_from_proposal(proposal: dict[str, Any], choices: dict[str, Any]) -> dict[str, Any]:
    """The event fields of the draft an accepted proposal becomes: the proposal's
    title, summary, format, languages and themes, hosted by its country, on the
    first day of its preferred period until the secretariat sets the dates;
    ``choices`` (the secretariat's, at acceptance) come on top."""
    first = proposal["preferred_period"]["from_"]
    draft = {
        "title": proposal["title"],
        "summary": proposal["policy_summary"],
        "format": proposal["format"],
        "host_country": proposal["country"],
        "languages": proposal["languages"],
        "tags": proposal["themes"],
        "starts_on": first,
        "ends_on": choices.get("starts_on", first),
    }
    return {**draft, **choices}


def complete_draft(draft: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """``draft`` with every event field it lacks at its default, and the errors
    of what is still missing (a proposal names no programme) or breaks a rule."""
    event: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, spec in EventFieldsSchema().fields.items():
        if name in draft:
            event[name] = draft[name]
        elif spec.load_default is not missing:
            default = spec.load_default
            event[name] = default() if callable(default) else default
        elif spec.required:
            errors[name] = [f"Give the event's {name}: the proposal does not say it."]
    if not errors:
        errors = validate_event(event)
    return event, errors

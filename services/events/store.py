"""MongoDB access of the events service: the ``events`` collection, its
indexes (one per query path of the catalogue), the hosting ``proposals`` and
the participation read model built from invitation topics."""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import OperationFailure

from services.events.domain import LATER_FIELDS
from shared.erasure import Erasure, Step
from shared.readmodel import apply_if_newer

DATE_FIELDS = ("starts_on", "ends_on")
DROPPED_INDEXES = ("created_at_-1",)
"""Indexes of earlier versions that no query needs: dropped at start."""
NAMESPACE_NOT_FOUND, INDEX_NOT_FOUND = 26, 27


def to_db(values: dict[str, Any]) -> dict[str, Any]:
    """Dates are stored as ISO strings, so that ranges compare and index simply."""
    return {
        k: v.isoformat() if k in DATE_FIELDS and isinstance(v, date) else v
        for k, v in values.items()
    }


def from_db(doc: dict[str, Any]) -> dict[str, Any]:
    event = {**LATER_FIELDS, **{k: v for k, v in doc.items() if k not in {"_id", "search_terms"}}}
    event["id"] = doc["_id"]
    for name in DATE_FIELDS:
        if isinstance(event.get(name), str):
            event[name] = date.fromisoformat(event[name])
    return event


def proposal_to_db(values: dict[str, Any]) -> dict[str, Any]:
    """The preferred period is stored as ISO dates (``from``, ``to``), as event dates are."""
    doc = dict(values)
    period = doc.get("preferred_period")
    if period is not None:
        doc["preferred_period"] = {
            "from": period["from_"].isoformat(),
            "to": period["to"].isoformat(),
        }
    return doc


def proposal_from_db(doc: dict[str, Any]) -> dict[str, Any]:
    proposal = {k: v for k, v in doc.items() if k != "_id"}
    proposal["id"] = doc["_id"]
    period = doc["preferred_period"]
    proposal["preferred_period"] = {
        "from_": date.fromisoformat(period["from"]),
        "to": date.fromisoformat(period["to"]),
    }
    return proposal


# What an erasure erases here (shared.erasure): the events service knows
# people only as staff accounts that created events; participants are
# invitation ids with a status (the seat counts), which name no one.
ERASURE = Erasure(
    steps=(
        Step("events", "created_by", "account", fields=("created_by",), event_field=None),
        # hosting proposals: the contact named in it, and the coordinator who submitted it
        Step(
            "proposals",
            "contact.email",
            "email",
            fields=("contact.email", "contact.name", "contact.phone"),
            event_field=None,
        ),
        Step(
            "proposals",
            "submitted_by.email",
            "email",
            fields=("submitted_by.email",),
            event_field=None,
        ),
        Step(
            "proposals",
            "submitted_by.sub",
            "account",
            fields=("submitted_by.sub",),
            event_field=None,
        ),
        Step("proposals", "decided_by", "account", fields=("decided_by",), event_field=None),
    ),
    retained=(
        "participants (invitation id, status): the events' participant counts",
        "proposals.country, title, policy summary, dates, decision: the programme's record "
        "of which country offered to host what",
    ),
)


class EventStore:
    def __init__(self, db: Database) -> None:
        self.events = db["events"]
        self.participants = db["participants"]
        self.proposals = db["proposals"]

    def ensure_indexes(self) -> None:
        """One index per filter of the catalogue, each ending on the default sort:
        the visibility (status and visibility; the retention job's completed
        events too), country (host or guest: both), programme, format, the
        dates (``to``: starts_on, which is also the default sort; ``from``:
        ends_on) and free text. Every create maintains them all, so a sort
        other than the default (created_at, updated_at, title) sorts in memory
        rather than keeping an index of its own."""
        e = self.events
        e.create_index([("status", ASCENDING), ("visibility", ASCENDING), ("starts_on", ASCENDING)])
        e.create_index([("host_country", ASCENDING), ("starts_on", ASCENDING)])
        e.create_index([("guest_countries", ASCENDING), ("starts_on", ASCENDING)])
        e.create_index([("programme", ASCENDING), ("starts_on", ASCENDING)])
        e.create_index([("format", ASCENDING), ("starts_on", ASCENDING)])
        e.create_index([("starts_on", ASCENDING)])
        e.create_index([("ends_on", ASCENDING)])
        e.create_index([("search_terms", ASCENDING)])
        for unneeded in DROPPED_INDEXES:
            try:
                e.drop_index(unneeded)
            except OperationFailure as exc:
                if exc.code not in (NAMESPACE_NOT_FOUND, INDEX_NOT_FOUND):
                    raise  # not "never created, or dropped before"
        self.participants.create_index([("event_id", ASCENDING), ("status", ASCENDING)])
        p = self.proposals
        p.create_index([("country", ASCENDING), ("submitted_at", DESCENDING)])
        p.create_index([("status", ASCENDING), ("submitted_at", DESCENDING)])
        p.create_index([("submitted_at", DESCENDING)])

    def get(self, event_id: str, session: ClientSession | None = None) -> dict[str, Any] | None:
        doc = self.events.find_one({"_id": event_id}, session=session)
        return from_db(doc) if doc else None

    def start_dates(self, event_ids: list[str], session: ClientSession) -> dict[str, date]:
        """``id -> starts_on`` of those of ``event_ids`` that exist."""
        cursor = self.events.find({"_id": {"$in": event_ids}}, {"starts_on": 1}, session=session)
        return {doc["_id"]: date.fromisoformat(doc["starts_on"]) for doc in cursor}

    def find(
        self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = self.events.count_documents(query)
        cursor = self.events.find(query, {"search_terms": 0}).sort(sort).skip(skip).limit(limit)
        return [from_db(doc) for doc in cursor], total

    def insert(self, doc: dict[str, Any], session: ClientSession) -> None:
        self.events.insert_one(to_db(doc), session=session)

    def update(
        self,
        event_id: str,
        expected_version: int,
        values: dict[str, Any],
        session: ClientSession,
    ) -> dict[str, Any] | None:
        """Apply ``values`` if the event is still at ``expected_version``; bump the version."""
        doc = self.events.find_one_and_update(
            {"_id": event_id, "version": expected_version},
            {"$set": to_db(values), "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return from_db(doc) if doc else None

    # --- hosting proposals ---------------------------------------------------

    def insert_proposal(self, proposal: dict[str, Any], session: ClientSession) -> None:
        doc = proposal_to_db({k: v for k, v in proposal.items() if k != "id"})
        doc["_id"] = proposal["id"]
        self.proposals.insert_one(doc, session=session)

    def proposal(
        self, proposal_id: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        doc = self.proposals.find_one({"_id": proposal_id}, session=session)
        return proposal_from_db(doc) if doc else None

    def find_proposals(
        self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = self.proposals.count_documents(query)
        cursor = self.proposals.find(query).sort(sort).skip(skip).limit(limit)
        return [proposal_from_db(doc) for doc in cursor], total

    def update_proposal(
        self,
        proposal_id: str,
        expected_version: int,
        values: dict[str, Any],
        session: ClientSession,
    ) -> dict[str, Any] | None:
        """Apply ``values`` if the proposal is still at ``expected_version``; bump the version."""
        doc = self.proposals.find_one_and_update(
            {"_id": proposal_id, "version": expected_version},
            {"$set": proposal_to_db(values), "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return proposal_from_db(doc) if doc else None

    # --- participation read model (from invitation.* topics) ---------------

    def record_participant(
        self, invitation_id: str, event_id: str, status: str, version: int, session: ClientSession
    ) -> bool:
        """Keep the newest status of one invitation; False when the record was stale."""
        fields = {"event_id": event_id, "status": status}
        return apply_if_newer(self.participants, invitation_id, version, fields, session)

    def refresh_participation(self, event_id: str, session: ClientSession) -> None:
        """Recount the event's accepted and waitlisted invitees."""
        counts = {"accepted": 0, "waitlisted": 0}
        for status in counts:
            counts[status] = self.participants.count_documents(
                {"event_id": event_id, "status": status}, session=session
            )
        self.events.update_one(
            {"_id": event_id}, {"$set": {"participation": counts}}, session=session
        )

"""MongoDB access of the invitations service.

Collections:

- ``events``: the read model of programme events, built from ``event.*`` topics.
- ``seats``: one counter document per event (``accepted``, ``waitlisted``,
  ``invited``, ``changes``). Every write that moves a seat, invites, or revokes
  for a cancellation updates it in the same transaction, so two concurrent
  acceptances of the last seat conflict on it and MongoDB lets only one commit
  (the other transaction is retried and sees the seat taken).
- ``invitations``: one per (event, lower-cased e-mail), a unique index; the
  RSVP token only as its SHA-256 (unique index); the audit trail embedded as
  ``history``.
- ``registrations``: open registrations, one per (event, lower-cased e-mail)
  while they name a person (unique; an expired one forgets its address, so the
  person may register again); the confirmation token only as its SHA-256.
  A confirmed one points to its participation record in ``invitations``
  (``origin: registration``), whose status it mirrors.
- ``reminders``: one row per (invitation, schedule step), unique.
- ``rate_limits``: fixed-window counters per endpoint and client (:mod:`shared.ratelimit`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database

from shared.payloads import plain
from shared.payloads.events import EventPayload
from shared.ratelimit import FixedWindowLimiter
from shared.readmodel import apply_if_newer

EVENT_FIELDS = (
    "title",
    "format",
    "status",
    "host_country",
    "guest_countries",
    "starts_on",
    "ends_on",
    "timezone",
    "venue",
    "languages",
    "capacity",
    "registration_deadline",
    "visibility",
    "registration",
    "registration_moderated",
    "nomination_deadline",
)


def from_db(doc: dict[str, Any]) -> dict[str, Any]:
    item = {k: v for k, v in doc.items() if k not in {"_id", "token_hash"}}
    item["id"] = doc["_id"]
    return item


def to_db(item: dict[str, Any]) -> dict[str, Any]:
    """The document of a new item: its ``id`` stored as ``_id``."""
    return {"_id": item["id"], **{k: v for k, v in item.items() if k != "id"}}


class InvitationStore:
    def __init__(self, db: Database) -> None:
        self.events = db["events"]
        self.seats = db["seats"]
        self.invitations = db["invitations"]
        self.reminders = db["reminders"]
        self.registrations = db["registrations"]
        self.rate_limits = FixedWindowLimiter(db["rate_limits"])

    def ensure_indexes(self) -> None:
        i = self.invitations
        i.create_index(
            [("event_id", ASCENDING), ("email", ASCENDING)], unique=True, name="one_per_email"
        )
        i.create_index("token_hash", unique=True, name="token_hash")
        i.create_index([("event_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)])
        i.create_index(
            [("event_id", ASCENDING), ("status", ASCENDING), ("waitlisted_at", ASCENDING)]
        )
        i.create_index([("event_id", ASCENDING), ("country", ASCENDING)])
        i.create_index([("event_id", ASCENDING), ("role", ASCENDING)])
        i.create_index([("email", ASCENDING), ("created_at", DESCENDING)])
        i.create_index([("event_id", ASCENDING), ("origin", ASCENDING)])
        r = self.registrations
        r.create_index(
            [("event_id", ASCENDING), ("email", ASCENDING)],
            unique=True,
            name="one_registration_per_email",
            partialFilterExpression={"email": {"$type": "string"}},
        )
        r.create_index(
            "confirm_token_hash",
            unique=True,
            name="confirm_token_hash",
            partialFilterExpression={"confirm_token_hash": {"$type": "string"}},
        )
        r.create_index([("event_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)])
        r.create_index([("event_id", ASCENDING), ("stakeholder_type", ASCENDING)])
        r.create_index([("event_id", ASCENDING), ("country", ASCENDING)])
        r.create_index([("status", ASCENDING), ("expires_at", ASCENDING)])
        self.events.create_index([("status", ASCENDING), ("registration_deadline", ASCENDING)])
        self.reminders.create_index(
            [("invitation_id", ASCENDING), ("step", ASCENDING)], unique=True, name="once_per_step"
        )
        self.rate_limits.ensure_indexes()

    # --- events read model -------------------------------------------------

    def apply_event(self, event: EventPayload, session: ClientSession) -> bool:
        """Keep the newest version of an event; False when the record was stale."""
        fields = {name: plain(getattr(event, name)) for name in EVENT_FIELDS}
        event_id = event.event_id
        changed = apply_if_newer(self.events, event_id, event.version, fields, session)
        if changed and self.seats.find_one({"_id": event_id}, {"_id": 1}, session=session) is None:
            self.seats.insert_one(
                {"_id": event_id, "accepted": 0, "waitlisted": 0, "invited": 0, "changes": 0},
                session=session,
            )
        return changed

    def get_event(
        self, event_id: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        doc = self.events.find_one({"_id": event_id}, session=session)
        return from_db(doc) if doc else None

    def events_past_deadline(self, now: datetime) -> list[str]:
        query = {"status": "published", "registration_deadline": {"$lte": now}}
        return [d["_id"] for d in self.events.find(query, {"_id": 1})]

    def events_open(self, now: datetime) -> list[dict[str, Any]]:
        query = {"status": "published", "registration_deadline": {"$gt": now}}
        return [from_db(d) for d in self.events.find(query)]

    # --- seat counters -----------------------------------------------------

    def get_seats(self, event_id: str, session: ClientSession) -> dict[str, Any]:
        doc = self.seats.find_one({"_id": event_id}, session=session)
        return doc or {"accepted": 0, "waitlisted": 0}

    def lock_seats(self, event_id: str, session: ClientSession) -> dict[str, Any]:
        """Write the event's seat document first, then read it: a concurrent seat
        change conflicts at once (before any other work) and the counts read are
        the ones this transaction will commit against."""
        doc = self.seats.find_one_and_update(
            {"_id": event_id},
            {"$inc": {"changes": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return doc or {"accepted": 0, "waitlisted": 0}

    def bump_seats(self, event_id: str, inc: dict[str, int], session: ClientSession) -> None:
        """Move the counters; every call writes the document (the per-event conflict point)."""
        self.seats.update_one({"_id": event_id}, {"$inc": {**inc, "changes": 1}}, session=session)

    # --- invitations ------------------------------------------------------

    def existing_emails(self, event_id: str, emails: list[str]) -> dict[str, str]:
        """Of ``emails``, those already invited to the event -> their invitation id."""
        found: dict[str, str] = {}
        for start in range(0, len(emails), 1000):
            chunk = emails[start : start + 1000]
            for doc in self.invitations.find(
                {"event_id": event_id, "email": {"$in": chunk}}, {"email": 1}
            ):
                found[doc["email"]] = doc["_id"]
        return found

    def insert_invitations(self, invitations: list[dict[str, Any]], session: ClientSession) -> None:
        """Insert new invitations (their ``id`` becomes ``_id``); a duplicate e-mail
        of the event or a duplicate token hash fails the whole insert."""
        self.invitations.insert_many([to_db(i) for i in invitations], ordered=True, session=session)

    def get(self, invitation_id: str, session: ClientSession | None = None) -> dict | None:
        doc = self.invitations.find_one({"_id": invitation_id}, session=session)
        return from_db(doc) if doc else None

    def get_with_history(self, invitation_id: str) -> dict[str, Any] | None:
        doc = self.invitations.find_one({"_id": invitation_id})
        return from_db(doc) if doc else None

    def by_token_hash(self, digest: str, session: ClientSession | None = None) -> dict | None:
        doc = self.invitations.find_one({"token_hash": digest}, session=session)
        return from_db(doc) if doc else None

    def update(
        self,
        invitation_id: str,
        expected_version: int,
        values: dict[str, Any],
        history: dict[str, Any],
        session: ClientSession,
    ) -> dict[str, Any] | None:
        """Apply ``values`` if still at ``expected_version``; bump the version, log ``history``."""
        doc = self.invitations.find_one_and_update(
            {"_id": invitation_id, "version": expected_version},
            {"$set": values, "$inc": {"version": 1}, "$push": {"history": history}},
            return_document=ReturnDocument.AFTER,
            projection={"history": 0},
            session=session,
        )
        return from_db(doc) if doc else None

    def earliest_waitlisted(
        self, event_id: str, limit: int, session: ClientSession
    ) -> list[dict[str, Any]]:
        cursor = (
            self.invitations.find(
                {"event_id": event_id, "status": "waitlisted"}, {"history": 0}, session=session
            )
            .sort([("waitlisted_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [from_db(d) for d in cursor]

    def with_status(
        self,
        event_id: str,
        statuses: list[str],
        limit: int,
        session: ClientSession | None = None,
    ) -> list[dict[str, Any]]:
        cursor = (
            self.invitations.find(
                {"event_id": event_id, "status": {"$in": statuses}},
                {"history": 0},
                session=session,
            )
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [from_db(d) for d in cursor]

    def find(
        self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = self.invitations.count_documents(query)
        cursor = self.invitations.find(query, {"history": 0}).sort(sort).skip(skip).limit(limit)
        return [from_db(doc) for doc in cursor], total

    def counts(self, query: dict[str, Any]) -> dict[str, dict[str, int]]:
        """Counts of the matching invitations per status, country and origin."""
        out: dict[str, dict[str, int]] = {}
        for name in ("status", "country", "origin"):
            # Records stored before origins existed are invitations.
            key = {"$ifNull": ["$origin", "invitation"]} if name == "origin" else f"${name}"
            pipeline = [{"$match": query}, {"$group": {"_id": key, "n": {"$sum": 1}}}]
            out[f"by_{name}"] = {
                str(row["_id"]): row["n"] for row in self.invitations.aggregate(pipeline)
            }
        return out

    def invited(self, event_id: str, email: str, session: ClientSession | None = None) -> bool:
        """Whether ``email`` has a participation record of the event (any origin)."""
        query = {"event_id": event_id, "email": email}
        return self.invitations.find_one(query, {"_id": 1}, session=session) is not None

    # --- registrations ----------------------------------------------------

    def insert_registration(self, registration: dict[str, Any], session: ClientSession) -> None:
        self.registrations.insert_one(to_db(registration), session=session)

    def registration(
        self, registration_id: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        doc = self.registrations.find_one({"_id": registration_id}, session=session)
        return from_db(doc) if doc else None

    def registration_of(
        self, event_id: str, email: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        """The registration that names ``email`` for the event, if any."""
        doc = self.registrations.find_one({"event_id": event_id, "email": email}, session=session)
        return from_db(doc) if doc else None

    def registration_by_confirm_hash(
        self, digest: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        doc = self.registrations.find_one({"confirm_token_hash": digest}, session=session)
        return from_db(doc) if doc else None

    def update_registration(
        self,
        registration_id: str,
        expected_version: int,
        values: dict[str, Any],
        history: dict[str, Any] | None,
        session: ClientSession,
        unset: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        """Apply ``values`` if still at ``expected_version``; bump the version, log
        ``history``, drop the fields ``unset`` names."""
        update: dict[str, Any] = {"$set": values, "$inc": {"version": 1}}
        if history is not None:
            update["$push"] = {"history": history}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        doc = self.registrations.find_one_and_update(
            {"_id": registration_id, "version": expected_version},
            update,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return from_db(doc) if doc else None

    def mirror_registration(
        self, registration_id: str, status: str, at: datetime, session: ClientSession
    ) -> None:
        """Its participation record moved: the registration says so too."""
        self.registrations.update_one(
            {"_id": registration_id},
            {"$set": {"status": status, "updated_at": at}, "$inc": {"version": 1}},
            session=session,
        )

    def count_unconfirmed(self, event_id: str, session: ClientSession | None = None) -> int:
        query = {"event_id": event_id, "status": "unconfirmed"}
        return self.registrations.count_documents(query, session=session)

    def registrations_due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Unconfirmed registrations whose confirmation window has closed."""
        query = {"status": "unconfirmed", "expires_at": {"$lte": now}}
        cursor = self.registrations.find(query).sort("expires_at", ASCENDING).limit(limit)
        return [from_db(d) for d in cursor]

    def registrations_with_status(
        self, event_id: str, statuses: list[str], limit: int, session: ClientSession
    ) -> list[dict[str, Any]]:
        cursor = (
            self.registrations.find(
                {"event_id": event_id, "status": {"$in": statuses}}, session=session
            )
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [from_db(d) for d in cursor]

    def find_registrations(
        self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = self.registrations.count_documents(query)
        cursor = self.registrations.find(query, {"history": 0}).sort(sort).skip(skip).limit(limit)
        return [from_db(doc) for doc in cursor], total

    def each_registration(
        self, query: dict[str, Any], sort: list[tuple[str, int]]
    ) -> Iterator[dict[str, Any]]:
        """Every matching registration, streamed (the CSV export)."""
        for doc in self.registrations.find(query, {"history": 0}).sort(sort):
            yield from_db(doc)

    def registration_counts(self, query: dict[str, Any]) -> dict[str, dict[str, int]]:
        """Counts of the matching registrations per status, stakeholder type and country."""
        out: dict[str, dict[str, int]] = {}
        for name in ("status", "stakeholder_type", "country"):
            pipeline = [{"$match": query}, {"$group": {"_id": f"${name}", "n": {"$sum": 1}}}]
            out[f"by_{name}"] = {
                str(row["_id"]): row["n"] for row in self.registrations.aggregate(pipeline)
            }
        return out

    # --- reminders --------------------------------------------------------

    def reminded(
        self, invitation_ids: list[str], step: str, session: ClientSession | None = None
    ) -> set[str]:
        return {
            d["invitation_id"]
            for d in self.reminders.find(
                {"invitation_id": {"$in": invitation_ids}, "step": step},
                {"invitation_id": 1},
                session=session,
            )
        }

    def record_reminders(self, rows: list[dict[str, Any]], session: ClientSession) -> None:
        self.reminders.insert_many(rows, session=session)

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
- ``reminders``: one row per (invitation, schedule step), unique.
- ``rate_limits``: fixed-window RSVP counters per client IP (TTL-expired).
- ``erasures``: the ledger of erasure requests (the right to be forgotten):
  per request the person's keyed hash, the services' answers (counts per
  collection, what they retained) and the certificate; never an address or a
  name. Retention runs of an event are entries ``retention:<event id>``.

What an erasure does to these collections is declared in :data:`ERASURE`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared.erasure import Erasure, Step
from shared.payloads import plain
from shared.payloads.events import EventPayload
from shared.readmodel import apply_if_newer

# What an erasure erases here (shared.erasure): the invitee's identity, answers'
# identity and RSVP credential go; the status (a seat stays counted) stays.
INVITATION_STEP = Step(
    "invitations",
    "email",
    "email",
    fields=("name", "organisation", "history[].by"),
    unique=("email", "token_hash"),
)
ERASURE = Erasure(
    steps=(
        INVITATION_STEP,
        Step("invitations", "history[].by", "account", fields=("history[].by",), event_field=None),
        Step("invitations", "created_by", "account", fields=("created_by",), event_field=None),
    ),
    retained=(
        "invitations.country, role, language, status, dates: seat counts and the "
        "programme's participation record",
        "invitations.history (action, time): the audit trail without identities",
        "seats: counts only",
    ),
)

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
        self.rate_limits = db["rate_limits"]
        self.erasures = db["erasures"]

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
        self.events.create_index([("status", ASCENDING), ("registration_deadline", ASCENDING)])
        self.erasures.create_index([("status", ASCENDING), ("requested_at", DESCENDING)])
        self.erasures.create_index([("requested_at", DESCENDING), ("_id", ASCENDING)])
        self.reminders.create_index(
            [("invitation_id", ASCENDING), ("step", ASCENDING)], unique=True, name="once_per_step"
        )
        self.rate_limits.create_index("expires_at", expireAfterSeconds=0)

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
        """Counts of the matching invitations per status and per country."""
        out: dict[str, dict[str, int]] = {}
        for name in ("status", "country"):
            pipeline = [{"$match": query}, {"$group": {"_id": f"${name}", "n": {"$sum": 1}}}]
            out[f"by_{name}"] = {
                str(row["_id"]): row["n"] for row in self.invitations.aggregate(pipeline)
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

    # --- rate limit -------------------------------------------------------

    def hit(self, client: str, window_s: int, now: datetime) -> int:
        """Count one request of ``client`` in the current fixed window; the count so far."""
        start = int(now.timestamp()) // window_s * window_s
        key = f"{client}|{start}"
        expires = datetime.fromtimestamp(start, UTC) + timedelta(seconds=window_s * 2)
        for _ in range(3):
            try:
                doc = self.rate_limits.find_one_and_update(
                    {"_id": key},
                    {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                return int(doc["count"])
            except DuplicateKeyError:  # two first hits of a window at once: count again
                continue
        return 0

    # --- the erasure ledger -------------------------------------------------

    def insert_erasure(self, entry: dict[str, Any], session: ClientSession) -> None:
        self.erasures.insert_one(entry, session=session)

    def get_erasure(self, request_id: str, session: ClientSession | None = None) -> dict | None:
        return self.erasures.find_one({"_id": request_id}, session=session)

    def find_erasures(
        self, query: dict[str, Any], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        rows = (
            self.erasures.find(query)
            .sort([("requested_at", DESCENDING), ("_id", ASCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return list(rows), self.erasures.count_documents(query)

    def save_erasure(self, entry: dict[str, Any], session: ClientSession) -> None:
        self.erasures.replace_one({"_id": entry["_id"]}, entry, upsert=True, session=session)

    def completed_erasure_ids(self) -> list[str]:
        """The requests a replay after a restore runs again (retention runs excluded)."""
        rows = self.erasures.find({"kind": "request", "status": "completed"}, {"_id": 1})
        return [row["_id"] for row in rows.sort("requested_at", ASCENDING)]

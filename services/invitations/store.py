"""MongoDB access of the invitations service.

Collections:

- ``events``: the read model of programme events, built from ``event.*`` topics.
- ``seats``: one counter document per event (``accepted``, ``waitlisted``,
  ``invited``, ``changes``; ``waits`` counts waits for it). Every write that
  moves a seat, invites, or revokes for a cancellation updates it in the same
  transaction, so two concurrent acceptances of the last seat conflict on it
  and MongoDB lets only one commit (the other waits and sees the seat taken).
- ``invitations``: one per (event, lower-cased e-mail), a unique index; the
  RSVP token only as its SHA-256 (unique index); the audit trail embedded as
  ``history``.
- ``registrations``: open registrations, one per (event, lower-cased e-mail)
  while they name a person (unique; an expired one forgets its address, so the
  person may register again); the confirmation token only as its SHA-256.
  A confirmed one points to its participation record in ``invitations``
  (``origin: registration``), whose status it mirrors.
- ``coordinators``: the national contact points, one per (country, e-mail):
  whom nomination requests and decisions are mailed to.
- ``quotas``: one document per (event, country): its ``places`` and the
  ``used`` ones (nominations that count); every nomination, decision and freed
  place of the country writes it in its transaction, so concurrent nominations
  for the last place conflict on it and only one commits.
- ``nominations``: one per (event, lower-cased e-mail), unique; an approved one
  points to its participation record (``origin: nomination``).
- ``nomination_reports``: one row per event whose unused places were reported.
- ``reminders``: one row per (invitation, schedule step), unique.
- ``rate_limits``: fixed-window counters per endpoint and client (:mod:`shared.ratelimit`).
- ``erasures``: the ledger of erasure requests (the right to be forgotten):
  per request the person's keyed hash, the services' answers (counts per
  collection, what they retained) and the certificate; never an address or a
  name. Retention runs of an event are entries ``retention:<event id>``.

What an erasure does to these collections is declared in :data:`ERASURE`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import OperationFailure

from shared.erasure import Erasure, Step
from shared.payloads import plain
from shared.payloads.events import EventPayload
from shared.ratelimit import FixedWindowLimiter
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
        # open registration: the registrant (a confirmed one is an invitation row too)
        Step(
            "registrations",
            "email",
            "email",
            fields=("name", "organisation"),
            unique=("email", "confirm_token_hash"),
        ),
        # national nominations: the nominee, and the coordinator who nominated
        Step("nominations", "email", "email", fields=("name", "organisation"), unique=("email",)),
        Step("nominations", "nominated_by", "account", fields=("nominated_by",), event_field=None),
        Step("nominations", "history[].by", "account", fields=("history[].by",), event_field=None),
        # the coordinators registry: a person erased is no country's contact point any more
        Step("coordinators", "email", "email", delete=True, event_field=None),
    ),
    retained=(
        "invitations.country, role, language, status, dates: seat counts and the "
        "programme's participation record",
        "invitations.history (action, time): the audit trail without identities",
        "registrations.stakeholder_type, country, status, consent (notice version, time): "
        "the counts by stakeholder type and the proof that consent was given",
        "nominations.country, status, dates: the use of each country's places",
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


WRITE_CONFLICT = 112
"""MongoDB's ``WriteConflict``: another transaction wrote the document first."""


class SeatsBusy(Exception):
    """Another transaction is changing the event's seats; wait for it, then retry."""


class InvitationStore:
    def __init__(self, db: Database) -> None:
        self.events = db["events"]
        self.seats = db["seats"]
        self.invitations = db["invitations"]
        self.reminders = db["reminders"]
        self.registrations = db["registrations"]
        self.coordinators = db["coordinators"]
        self.quotas = db["quotas"]
        self.nominations = db["nominations"]
        self.nomination_reports = db["nomination_reports"]
        self.rate_limits = FixedWindowLimiter(db["rate_limits"])
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
        self.coordinators.create_index(
            [("country", ASCENDING), ("email", ASCENDING)], unique=True, name="one_per_country"
        )
        self.quotas.create_index([("event_id", ASCENDING), ("country", ASCENDING)])
        n = self.nominations
        n.create_index(
            [("event_id", ASCENDING), ("email", ASCENDING)], unique=True, name="one_nomination"
        )
        n.create_index([("event_id", ASCENDING), ("country", ASCENDING), ("created_at", ASCENDING)])
        n.create_index([("event_id", ASCENDING), ("status", ASCENDING)])
        self.events.create_index(
            [("registration", ASCENDING), ("status", ASCENDING), ("nomination_deadline", ASCENDING)]
        )
        self.events.create_index([("status", ASCENDING), ("registration_deadline", ASCENDING)])
        self.erasures.create_index([("status", ASCENDING), ("requested_at", DESCENDING)])
        self.erasures.create_index([("requested_at", DESCENDING), ("_id", ASCENDING)])
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

    def take_seats(self, event_id: str, session: ClientSession) -> dict[str, Any]:
        """:meth:`lock_seats`, but a write conflict (another transaction holds
        the document) raises :class:`SeatsBusy`, which ``with_transaction``
        does not retry, so the caller waits (:meth:`wait_for_seats`) instead."""
        try:
            return self.lock_seats(event_id, session)
        except OperationFailure as exc:
            if exc.code == WRITE_CONFLICT:
                raise SeatsBusy(event_id) from exc
            raise

    def wait_for_seats(self, event_id: str) -> None:
        """Return once no transaction holds the event's seat document.

        A write outside a transaction on a document that a transaction changed
        is held by the server (MongoDB's write-conflict retry) until that
        transaction commits or aborts; ``waits`` only counts these waits."""
        self.seats.update_one({"_id": event_id}, {"$inc": {"waits": 1}})

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

    # --- coordinators -----------------------------------------------------

    def insert_coordinator(self, coordinator: dict[str, Any]) -> None:
        self.coordinators.insert_one(to_db(coordinator))

    def coordinator(self, coordinator_id: str) -> dict[str, Any] | None:
        doc = self.coordinators.find_one({"_id": coordinator_id})
        return from_db(doc) if doc else None

    def delete_coordinator(self, coordinator_id: str) -> bool:
        return self.coordinators.delete_one({"_id": coordinator_id}).deleted_count == 1

    def find_coordinators(
        self, query: dict[str, Any], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = self.coordinators.count_documents(query)
        cursor = (
            self.coordinators.find(query)
            .sort([("country", ASCENDING), ("email", ASCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return [from_db(d) for d in cursor], total

    def coordinators_of(
        self, country: str, session: ClientSession | None = None
    ) -> list[dict[str, Any]]:
        cursor = self.coordinators.find({"country": country}, session=session).sort("email", 1)
        return [from_db(d) for d in cursor]

    # --- quotas -------------------------------------------------------------

    def quotas_of(
        self, event_id: str, session: ClientSession | None = None
    ) -> list[dict[str, Any]]:
        cursor = self.quotas.find({"event_id": event_id}, session=session).sort("country", 1)
        return [from_db(d) for d in cursor]

    def quota(
        self, event_id: str, country: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        doc = self.quotas.find_one({"_id": f"{event_id}|{country}"}, session=session)
        return from_db(doc) if doc else None

    def lock_quota(
        self, event_id: str, country: str, session: ClientSession
    ) -> dict[str, Any] | None:
        """Write the country's quota document first, then read it (the
        conflict point of its nominations, like the seats document of seats);
        None when the country has no places on the event."""
        doc = self.quotas.find_one_and_update(
            {"_id": f"{event_id}|{country}"},
            {"$inc": {"changes": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return from_db(doc) if doc else None

    def set_quota(
        self, event_id: str, country: str, places: int, at: datetime, session: ClientSession
    ) -> dict[str, Any]:
        """The country's places (created with none used); returns it as it was before."""
        doc = self.quotas.find_one_and_update(
            {"_id": f"{event_id}|{country}"},
            {
                "$set": {"places": places, "updated_at": at},
                "$inc": {"changes": 1, "version": 1},
                "$setOnInsert": {"event_id": event_id, "country": country, "used": 0},
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=session,
        )
        return from_db(doc) if doc else {"places": 0, "used": 0, "version": 0}

    def use_places(self, event_id: str, country: str, n: int, session: ClientSession) -> None:
        self.quotas.update_one(
            {"_id": f"{event_id}|{country}"},
            {"$inc": {"used": n, "changes": 1}},
            session=session,
        )

    # --- nominations ----------------------------------------------------

    def insert_nomination(self, nomination: dict[str, Any], session: ClientSession) -> None:
        self.nominations.insert_one(to_db(nomination), session=session)

    def nomination(
        self, nomination_id: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        doc = self.nominations.find_one({"_id": nomination_id}, session=session)
        return from_db(doc) if doc else None

    def nominated(self, event_id: str, email: str, session: ClientSession | None = None) -> bool:
        query = {"event_id": event_id, "email": email}
        return self.nominations.find_one(query, {"_id": 1}, session=session) is not None

    def update_nomination(
        self,
        nomination_id: str,
        expected_version: int,
        values: dict[str, Any],
        history: dict[str, Any],
        session: ClientSession,
    ) -> dict[str, Any] | None:
        doc = self.nominations.find_one_and_update(
            {"_id": nomination_id, "version": expected_version},
            {"$set": values, "$inc": {"version": 1}, "$push": {"history": history}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return from_db(doc) if doc else None

    def earliest_substitute(
        self, event_id: str, country: str, session: ClientSession
    ) -> dict[str, Any] | None:
        doc = self.nominations.find_one(
            {"event_id": event_id, "country": country, "status": "nominated", "substitute": True},
            sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
            session=session,
        )
        return from_db(doc) if doc else None

    def find_nominations(
        self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = self.nominations.count_documents(query)
        cursor = self.nominations.find(query, {"history": 0}).sort(sort).skip(skip).limit(limit)
        return [from_db(doc) for doc in cursor], total

    def nomination_counts(self, query: dict[str, Any]) -> dict[str, dict[str, int]]:
        """Per country, the matching nominations per status."""
        pipeline = [
            {"$match": query},
            {"$group": {"_id": {"c": "$country", "s": "$status"}, "n": {"$sum": 1}}},
        ]
        out: dict[str, dict[str, int]] = {}
        for row in self.nominations.aggregate(pipeline):
            out.setdefault(row["_id"]["c"], {})[row["_id"]["s"]] = row["n"]
        return out

    def nominations_open(
        self, event_id: str, limit: int, session: ClientSession
    ) -> list[dict[str, Any]]:
        cursor = (
            self.nominations.find({"event_id": event_id, "status": "nominated"}, session=session)
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [from_db(d) for d in cursor]

    # --- the nomination deadline --------------------------------------------

    def events_past_nomination_deadline(self, now: datetime) -> list[dict[str, Any]]:
        """Published nomination events whose nomination deadline has passed and
        whose unused places were not reported yet."""
        query = {
            "registration": "nomination",
            "status": "published",
            "nomination_deadline": {"$lte": now},
        }
        events = [from_db(d) for d in self.events.find(query)]
        done = {
            d["_id"]
            for d in self.nomination_reports.find(
                {"_id": {"$in": [e["id"] for e in events]}}, {"_id": 1}
            )
        }
        return [e for e in events if e["id"] not in done]

    def record_report(self, event_id: str, at: datetime, session: ClientSession) -> bool:
        """Mark the event's unused places reported; False when it already was."""
        if self.nomination_reports.find_one({"_id": event_id}, session=session) is not None:
            return False
        self.nomination_reports.insert_one({"_id": event_id, "at": at}, session=session)
        return True

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

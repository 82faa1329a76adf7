"""The right to be forgotten: what each service erases of a person, declared
once per collection, and the one way every service does it.

A person is named by a keyed hash, ``subject_key``: HMAC-SHA256 under
``MLP_ERASURE_SALT`` of the sha256 of the normalised address. Hashing the
sha256 (rather than the address) lets a service match the rows that keep only
an address's sha256 (opt-outs, sent mails, the documents' invitees) as well as
those that keep the address. Every service finds a person's rows the same way,
on the first run of a request and on a replay after a restore alike: it reads
the distinct values of the declared field (from its index where there is one),
hashes each with the key and keeps those that match. So the ledger and the
topics need no address, and a restored backup needs no field it did not have.

A service declares its :class:`Erasure`: one :class:`Step` per collection (and
field) that holds something about a person, and what it retains and why. A new
collection is one more step. :func:`answer_request` runs the steps in the
handler's transaction and announces ``internal.person.erasure_completed``;
:func:`retain_events` does the same for every event completed more than
``MLP_PERSONAL_DATA_RETENTION_DAYS`` ago, whoever took part.

Erasing is idempotent: a deleted row is gone, a pseudonymised one holds the
fixed :data:`MARKER` (``[erased]``; ``[erased]:<row id>`` in fields under a
unique index), which hashes to nobody, so a second run counts zero.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo.client_session import ClientSession
from pymongo.database import Database

from shared.payloads.people import (
    ErasureCompletedPayloadSchema,
    ErasureRequestedPayload,
)
from shared.service import ServiceContext

log = logging.getLogger(__name__)

MARKER = "[erased]"
COMPLETED_TOPIC = "internal.person.erasure_completed"
REQUESTED_TOPIC = "internal.person.erasure_requested"
RETENTION_PREFIX = "retention:"
RETENTION_EVERY_S = 3600.0  # how often each service's retention job looks
ERASED_AT = "personal_data_erased_at"  # on an events read model row: retention ran

Kind = Literal["email", "email_sha256", "account", "invitation"]
"""How a field names a person: their address, its sha256, one of their account
ids (a token's ``sub``), or the id of one of their invitations."""

_completed = ErasureCompletedPayloadSchema()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_sha256(email: str) -> str:
    """The sha256 some services keep instead of an address."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def digest_key(salt: str, digest: str) -> str:
    """The keyed hash of an address's sha256 (see :func:`subject_key`)."""
    return hmac.new(salt.encode(), digest.encode(), hashlib.sha256).hexdigest()


def subject_key(salt: str, email: str) -> str:
    """Who an erasure concerns, without the address: HMAC-SHA256(salt, sha256(address))."""
    return digest_key(salt, email_sha256(email))


def account_key(salt: str, account: str) -> str:
    """The keyed hash of an account id (a token's ``sub``)."""
    return hmac.new(salt.encode(), f"account:{account}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Step:
    """One collection's rows about a person and what erasing does to them.

    ``match`` is the field that names the person (``history[].by``: the ``by``
    of each entry of the array ``history``); ``fields`` are set to the marker,
    ``unique`` to the marker and the row id, ``drop`` removed, the person's
    values taken out of the lists ``pull`` (all of them in retention), or
    with ``delete`` the rows go. A field of the matched array (``history[].by``)
    changes only in the entries that matched; in retention, in every entry.
    ``event_field`` is where a row names its programme event, for the
    retention job (None: the step is not about an event's participants).
    """

    collection: str
    match: str
    kind: Kind
    delete: bool = False
    fields: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    pull: tuple[str, ...] = ()
    event_field: str | None = "event_id"

    @property
    def query_path(self) -> str:
        return self.match.replace("[]", "")


@dataclass(frozen=True)
class Erasure:
    """What a service erases of a person (``steps``) and what it keeps (``retained``:
    ``collection.field: why``, the legal ground in docs/operations.md)."""

    steps: tuple[Step, ...]
    retained: tuple[str, ...] = ()

    @property
    def collections(self) -> list[str]:
        return list(dict.fromkeys(step.collection for step in self.steps))


@dataclass(frozen=True)
class Person:
    """The keyed hashes that find a person's rows, and their invitation ids."""

    subject: str
    account_keys: frozenset[str] = frozenset()
    invitation_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, request: ErasureRequestedPayload, salt: str) -> Person:
        keys = set(request.account_keys) | {account_key(salt, a) for a in request.accounts}
        return cls(request.subject, frozenset(keys), tuple(request.invitation_ids))

    def names(self, kind: Kind, value: Any, salt: str) -> bool:
        """Whether the stored ``value`` of a field of ``kind`` names this person."""
        if not isinstance(value, str) or not value or value.startswith(MARKER):
            return False
        if kind == "email":
            return hmac.compare_digest(subject_key(salt, value), self.subject)
        if kind == "email_sha256":
            return hmac.compare_digest(digest_key(salt, value), self.subject)
        if kind == "account":
            return account_key(salt, value) in self.account_keys
        return value in self.invitation_ids


# --- running the steps ------------------------------------------------------------


def _values(
    db: Database, step: Step, person: Person, salt: str, session: ClientSession | None
) -> list:
    """The stored values of ``step.match`` that name ``person``."""
    if step.kind == "invitation":
        return list(person.invitation_ids)
    if step.kind == "account" and not person.account_keys:
        return []
    if "[]" in step.match:
        found = _array_values(db, step, session)
    else:
        found = db[step.collection].distinct(step.query_path, session=session)
    return sorted({value for value in found if person.names(step.kind, value, salt)})


def _array_values(db: Database, step: Step, session: ClientSession | None) -> set[Any]:
    """The values of a field inside an array (``items[].recipients``), read row by
    row: ``distinct`` through arrays is not portable across Mongo-wire servers."""
    outer, _, inner = step.match.partition("[].")
    values: set[Any] = set()
    for row in db[step.collection].find({}, {outer: 1}, session=session):
        for entry in row.get(outer) or []:
            value = entry.get(inner) if isinstance(entry, dict) else None
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    values.add(item)
    return values


def _get(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)  # type: ignore[assignment]
    return doc


def _changes(step: Step, doc: dict[str, Any], matched: set | None) -> tuple[dict, dict]:
    """``($set, $unset)`` that erase ``doc``; ``matched`` limits the entries of the
    matched array (None: every entry, as retention does)."""
    sets: dict[str, Any] = {}
    unsets: dict[str, str] = {}
    marks = [(name, MARKER) for name in step.fields]
    marks += [(name, f"{MARKER}:{doc['_id']}") for name in step.unique]
    array, _, element_match = step.match.partition("[].")
    for name, marker in marks:
        if "[]." in name:
            outer, _, inner = name.partition("[].")
            entries = [dict(e) if isinstance(e, dict) else e for e in doc.get(outer) or []]
            for entry in entries:
                if not isinstance(entry, dict) or inner not in entry:
                    continue
                if (
                    matched is not None
                    and outer == array
                    and entry.get(element_match) not in matched
                ):
                    continue
                entry[inner] = marker
            if entries != (doc.get(outer) or []):
                sets[outer] = entries
        elif _get(doc, name) not in (None, marker):
            sets[name] = marker
    for name in step.drop:
        if _get(doc, name) is not None:
            unsets[name] = ""
    for name in step.pull:
        outer, _, inner = name.rpartition("[].")
        if not outer:
            kept = _pulled(doc.get(name), matched)
            if kept != doc.get(name):
                sets[name] = kept
            continue
        entries = [dict(e) if isinstance(e, dict) else e for e in doc.get(outer) or []]
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get(inner), list):
                entry[inner] = _pulled(entry[inner], matched)
        if entries != (doc.get(outer) or []):
            sets[outer] = entries
    return sets, unsets


def _pulled(values: Any, matched: set | None) -> Any:
    if not isinstance(values, list):
        return values
    return [] if matched is None else [v for v in values if v not in matched]


def _apply(
    db: Database, step: Step, query: dict, matched: set | None, session: ClientSession
) -> set[Any]:
    """Erase the rows ``query`` finds; the ids of those that changed."""
    collection = db[step.collection]
    if step.delete:
        ids = [row["_id"] for row in collection.find(query, {"_id": 1}, session=session)]
        if ids:
            collection.delete_many({"_id": {"$in": ids}}, session=session)
        return set(ids)
    changed: set[Any] = set()
    for doc in list(collection.find(query, session=session)):
        sets, unsets = _changes(step, doc, matched)
        update: dict[str, Any] = {}
        if sets:
            update["$set"] = sets
        if unsets:
            update["$unset"] = unsets
        if update:
            collection.update_one({"_id": doc["_id"]}, update, session=session)
            changed.add(doc["_id"])
    return changed


def matching_ids(
    db: Database, step: Step, person: Person, salt: str, session: ClientSession | None = None
) -> list[Any]:
    """The ids of the rows of ``step`` that name ``person`` (before erasing them)."""
    values = _values(db, step, person, salt, session)  # type: ignore[arg-type]
    if not values:
        return []
    rows = db[step.collection].find({step.query_path: {"$in": values}}, {"_id": 1}, session=session)
    return [row["_id"] for row in rows]


def erase_person(
    db: Database, erasure: Erasure, person: Person, salt: str, session: ClientSession
) -> dict[str, int]:
    """Run every step for ``person``: rows changed or deleted, per collection
    (a row several steps change counts once)."""
    changed: dict[str, set[Any]] = {name: set() for name in erasure.collections}
    for step in erasure.steps:
        values = _values(db, step, person, salt, session)
        if values:
            query = {step.query_path: {"$in": values}}
            changed[step.collection] |= _apply(db, step, query, set(values), session)
    return {name: len(ids) for name, ids in changed.items()}


def erase_event(
    db: Database, erasure: Erasure, event_id: str, session: ClientSession
) -> dict[str, int]:
    """Run every step that concerns an event's participants, for all of them."""
    changed: dict[str, set[Any]] = {s.collection: set() for s in erasure.steps if s.event_field}
    for step in erasure.steps:
        if step.event_field:
            query = {step.event_field: event_id}
            changed[step.collection] |= _apply(db, step, query, None, session)
    return {name: len(ids) for name, ids in changed.items()}


# --- the saga: answering and announcing ---------------------------------------------


def announce_completed(
    ctx: ServiceContext,
    session: ClientSession,
    *,
    request_id: str,
    reason: str,
    counts: dict[str, int],
    retained: Iterable[str],
    event_id: str | None = None,
) -> None:
    """``internal.person.erasure_completed``: this service's answer to the ledger."""
    at = datetime.now(UTC)
    ctx.outbox.add(
        session,
        topic=COMPLETED_TOPIC,
        key=request_id,
        seq=1,
        subject=request_id,
        payload=_completed.dump(
            {
                "request_id": request_id,
                "service": ctx.settings.service,
                "reason": reason,
                "counts": counts,
                "retained": list(retained),
                "event_id": event_id,
                "version": 1,
                "occurred_at": at,
            }
        ),
    )


def answer_request(
    ctx: ServiceContext,
    session: ClientSession,
    erasure: Erasure,
    request: ErasureRequestedPayload,
) -> dict[str, int]:
    """Erase the requested person's rows and announce the counts, in one transaction."""
    salt = ctx.settings.erasure_salt  # type: ignore[attr-defined]
    counts = erase_person(ctx.db, erasure, Person.of(request, salt), salt, session)
    announce_completed(
        ctx,
        session,
        request_id=request.request_id,
        reason="replay" if request.replay else "request",
        counts=counts,
        retained=erasure.retained,
    )
    log.info(
        "erasure answered",
        extra={"request_id": request.request_id, "counts": counts, "replay": request.replay},
    )
    return counts


def retention_cutoff(now: datetime, days: int) -> str:
    """The last day (ISO) an event may have ended and still keep its participants' data."""
    return (now - timedelta(days=days)).date().isoformat()


def events_past_retention(
    db: Database, now: datetime, days: int, *, events: str = "events", ends: str = "ends_on"
) -> list[str]:
    """Completed events of the ``events`` collection (a service's own or its read
    model) that ended before the cutoff and whose participants' data is still held."""
    query = {
        "status": "completed",
        ends: {"$lt": retention_cutoff(now, days)},
        ERASED_AT: {"$exists": False},
    }
    return [row["_id"] for row in db[events].find(query, {"_id": 1}).sort("_id", 1)]


def retain_events(
    ctx: ServiceContext,
    erasure: Erasure,
    now: datetime | None = None,
    *,
    events: str = "events",
) -> int:
    """The retention job: pseudonymise what the service holds about the
    participants of each event completed more than ``MLP_PERSONAL_DATA_RETENTION_DAYS``
    ago, announce it like an erasure (request id ``retention:<event id>``) and mark
    the event done; one transaction per event. Returns the events handled."""
    at = now or datetime.now(UTC)
    days = ctx.settings.personal_data_retention_days  # type: ignore[attr-defined]
    done = 0
    for event_id in events_past_retention(ctx.db, at, days, events=events):

        def work(session: ClientSession, event_id: str = event_id) -> None:
            counts = erase_event(ctx.db, erasure, event_id, session)
            ctx.db[events].update_one({"_id": event_id}, {"$set": {ERASED_AT: at}}, session=session)
            announce_completed(
                ctx,
                session,
                request_id=f"{RETENTION_PREFIX}{event_id}",
                reason="retention",
                counts=counts,
                retained=erasure.retained,
                event_id=event_id,
            )

        ctx.transaction(work)
        done += 1
    return done

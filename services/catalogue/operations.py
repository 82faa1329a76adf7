"""Every write path of the catalogue service: change a practice and announce it,
in one MongoDB transaction with its outbox record.

Only published practices are announced (partners never hear of drafts); each
record carries the whole public practice at its version. Refusals are the plain
errors of :mod:`shared.errors`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession

from services.catalogue.config import CatalogueSettings
from services.catalogue.domain import (
    EDITABLE,
    changed_fields,
    check_practice,
    next_publication,
    practice_terms,
)
from services.catalogue.store import ERASURE, CatalogueStore
from shared import erasure
from shared.auth import Principal
from shared.errors import Conflict, Invalid, NotFound
from shared.http import check_if_match
from shared.payloads.catalogue import PracticePayloadSchema
from shared.payloads.people import ErasureRequestedPayload
from shared.service import ServiceContext

Context = ServiceContext[CatalogueSettings, CatalogueStore]
"""What the catalogue service's views, handlers and jobs run with."""

_payload_schema = PracticePayloadSchema()


def payload(practice: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The topic payload of ``practice`` (validated by its schema on the way out)."""
    body = {
        **{k: v for k, v in practice.items() if k in _payload_schema.fields},
        "practice_id": practice["id"],
        "occurred_at": datetime.now(UTC),
        **extra,
    }
    return _payload_schema.dump(body)


def _announce(
    ctx: Context, session: ClientSession, topic: str, practice: dict[str, Any], **extra: Any
) -> None:
    """Practices are keyed by their own id: they belong to no one programme event."""
    ctx.outbox.add(
        session,
        topic=topic,
        key=practice["id"],
        seq=practice["version"],
        payload=payload(practice, **extra),
    )


# The type of a 422 for a well-formed id the catalogue does not know (from the
# events and documents topics): a state the request meets, not a malformed field.
UNKNOWN_REFERENCE = "unknown-reference"


def _check_links(ctx: Context, practice: dict[str, Any], session: ClientSession) -> None:
    """The events and papers a practice names must be known to the catalogue."""
    errors: dict[str, list[str]] = {}
    events = practice.get("events") or []
    unknown = sorted(set(events) - ctx.store.known_events(events, session))
    if unknown:
        errors["events"] = [f"The catalogue knows no event {e}." for e in unknown]
    papers = practice.get("papers") or []
    unknown = sorted(set(papers) - ctx.store.known_papers(papers, session))
    if unknown:
        errors["papers"] = [f"The catalogue knows no published paper {p}." for p in unknown]
    if errors:
        raise Invalid(
            "The practice names events or papers the catalogue does not know.",
            slug=UNKNOWN_REFERENCE,
            errors=errors,
        )


def create_practice(ctx: Context, fields: dict[str, Any], by: Principal) -> dict[str, Any]:
    check_practice(fields)
    now = datetime.now(UTC)
    practice = {
        **fields,
        "id": str(uuid.uuid4()),
        "publication": "draft",
        "version": 1,
        "transfers": [],
        "created_at": now,
        "updated_at": now,
        "created_by": by.sub,
    }
    doc = {k: v for k, v in practice.items() if k != "id"}
    doc["_id"] = practice["id"]
    doc["search_terms"] = sorted(practice_terms(practice))

    def work(session: ClientSession) -> None:
        _check_links(ctx, practice, session)
        ctx.store.insert_practice(doc, session)

    ctx.transaction(work)
    return practice


def _load(ctx: Context, practice_id: str, session: ClientSession) -> dict[str, Any]:
    practice = ctx.store.get_practice(practice_id, session)
    if practice is None:
        raise NotFound(f"There is no practice {practice_id}.")
    return practice


def _save(
    ctx: Context,
    practice: dict[str, Any],
    values: dict[str, Any],
    session: ClientSession,
    transfer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    updated = ctx.store.update_practice(
        practice["id"], practice["version"], values, session, transfer=transfer
    )
    if updated is None:
        raise Conflict("The practice changed while this request was applied; try again.")
    return updated


def update_practice(
    ctx: Context, practice_id: str, changes: dict[str, Any], if_match: str | None = None
) -> dict[str, Any]:
    """Apply a PATCH: checks ``if_match``, re-validates the whole practice, and
    announces ``practice.updated`` when it is published."""

    def work(session: ClientSession) -> dict[str, Any]:
        practice = _load(ctx, practice_id, session)
        check_if_match(practice["version"], if_match)
        if practice["publication"] not in EDITABLE:
            raise Conflict(f"A {practice['publication']} practice can no longer be changed.")
        changed = changed_fields(practice, changes)
        if not changed:
            return practice
        merged = {**practice, **changes}
        check_practice(merged)
        if {"events", "papers"} & set(changed):
            _check_links(ctx, merged, session)
        values = {name: changes[name] for name in changed}
        values["updated_at"] = datetime.now(UTC)
        values["search_terms"] = sorted(practice_terms(merged))
        updated = _save(ctx, practice, values, session)
        if updated["publication"] == "published":
            _announce(ctx, session, "practice.updated", updated)
        return updated

    return ctx.transaction(work)


def transition(
    ctx: Context, practice_id: str, action: str, if_match: str | None = None
) -> dict[str, Any]:
    """Publish or withdraw a practice; an illegal transition is refused."""

    def work(session: ClientSession) -> dict[str, Any]:
        practice = _load(ctx, practice_id, session)
        check_if_match(practice["version"], if_match)
        publication, topic = next_publication(action, practice["publication"])
        now = datetime.now(UTC)
        values = {"publication": publication, "updated_at": now, f"{publication}_at": now}
        updated = _save(ctx, practice, values, session)
        _announce(ctx, session, topic, updated)
        return updated

    return ctx.transaction(work)


def record_transfer(
    ctx: Context, practice_id: str, fields: dict[str, Any], if_match: str | None = None
) -> dict[str, Any]:
    """Record what a country did with the practice; announced once it is published."""

    def work(session: ClientSession) -> dict[str, Any]:
        practice = _load(ctx, practice_id, session)
        check_if_match(practice["version"], if_match)
        if practice["publication"] not in EDITABLE:
            raise Conflict(f"A {practice['publication']} practice takes no transfers.")
        event_id = fields.get("event_id")
        if event_id and not ctx.store.known_events([event_id], session):
            raise Invalid(
                "The transfer names an event the catalogue does not know.",
                slug=UNKNOWN_REFERENCE,
                errors={"event_id": [f"The catalogue knows no event {event_id}."]},
            )
        now = datetime.now(UTC)
        transfer = {**fields, "transfer_id": str(uuid.uuid4()), "recorded_at": now}
        updated = _save(ctx, practice, {"updated_at": now}, session, transfer=transfer)
        if updated["publication"] == "published":
            _announce(ctx, session, "practice.transfer_recorded", updated, transfer=transfer)
        return updated

    return ctx.transaction(work)


# --- the right to be forgotten ------------------------------------------------------


def erase_person(ctx: Context, session: ClientSession, request: ErasureRequestedPayload) -> None:
    """Erase what this service holds about the person, and answer the ledger
    (``internal.person.erasure_completed``), in the handler's transaction."""
    erasure.answer_request(ctx, session, ERASURE, request)

"""Every write path of the events service: change the state and announce it,
in one MongoDB transaction with its outbox records.

Refusals are the plain errors of :mod:`shared.errors`; the HTTP edge decides
how they are answered, so a handler or a job may call these functions too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession

from services.events.config import EventsSettings
from services.events.domain import (
    EDITABLE_STATUSES,
    changed_fields,
    follow_up_errors,
    next_status,
    search_terms,
    validate_event,
)
from services.events.store import ERASURE, EventStore
from shared import erasure
from shared.auth import Principal
from shared.errors import Conflict, Invalid, NotFound
from shared.http import check_if_match
from shared.payloads.events import EventPayloadSchema
from shared.payloads.people import ErasureRequestedPayload
from shared.service import ServiceContext

Context = ServiceContext[EventsSettings, EventStore]
"""What the events service's views, handlers and jobs run with."""

_payload_schema = EventPayloadSchema()


def payload(event: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The topic payload of ``event`` (validated by its schema on the way out)."""
    body = {
        **{k: v for k, v in event.items() if k in _payload_schema.fields},
        "event_id": event["id"],
        "occurred_at": datetime.now(UTC),
        **extra,
    }
    return _payload_schema.dump(body)


def _announce(
    ctx: Context, session: ClientSession, topic: str, event: dict[str, Any], **extra: Any
) -> None:
    ctx.outbox.add(
        session,
        topic=topic,
        key=event["id"],
        seq=event["version"],
        payload=payload(event, **extra),
    )


def create_event(ctx: Context, fields: dict[str, Any], by: Principal) -> dict[str, Any]:
    now = datetime.now(UTC)
    event = {
        **fields,
        "id": str(uuid.uuid4()),
        "status": "draft",
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "created_by": by.sub,
        "participation": {"accepted": 0, "waitlisted": 0},
    }
    doc = {k: v for k, v in event.items() if k != "id"}
    doc["_id"] = event["id"]
    doc["search_terms"] = search_terms(event)

    def work(session: ClientSession) -> None:
        _check_follows_up(ctx, event, session)
        ctx.store.insert(doc, session)
        _announce(ctx, session, "event.created", event)

    ctx.transaction(work)
    return event


def _check_follows_up(ctx: Context, event: dict[str, Any], session: ClientSession) -> None:
    """``follows_up`` names existing events that started no later than ``event``."""
    ids = event.get("follows_up") or []
    if not ids:
        return
    problems = follow_up_errors(event, ctx.store.start_dates(list(ids), session))
    if problems:
        raise Invalid(
            "The events this one follows up are not valid.", errors={"follows_up": problems}
        )


def _load(ctx: Context, event_id: str, session: ClientSession) -> dict[str, Any]:
    event = ctx.store.get(event_id, session)
    if event is None:
        raise NotFound(f"There is no event {event_id}.")
    return event


def _save(
    ctx: Context, event: dict[str, Any], values: dict[str, Any], session: ClientSession
) -> dict[str, Any]:
    updated = ctx.store.update(event["id"], event["version"], values, session)
    if updated is None:
        # Another writer changed the event after this transaction read it. Only a
        # write conflict (labelled TransientTransactionError) makes pymongo retry;
        # this refusal aborts the transaction and reaches the caller as a 409.
        raise Conflict("The event changed while this request was applied; try again.")
    return updated


def update_event(
    ctx: Context, event_id: str, changes: dict[str, Any], if_match: str | None = None
) -> dict[str, Any]:
    """Apply a PATCH: checks ``if_match``, re-validates the whole event, announces what changed."""

    def work(session: ClientSession) -> dict[str, Any]:
        event = _load(ctx, event_id, session)
        check_if_match(event["version"], if_match)
        if event["status"] not in EDITABLE_STATUSES:
            raise Conflict(f"A {event['status']} event can no longer be changed.")
        changed = changed_fields(event, changes)
        if not changed:
            return event
        merged = {**event, **changes}
        errors = validate_event(merged)
        if errors:
            raise Invalid("The change would make the event invalid.", errors=errors)
        if {"follows_up", "starts_on"} & set(changed):
            _check_follows_up(ctx, merged, session)
        values = {name: changes[name] for name in changed}
        values["updated_at"] = datetime.now(UTC)
        values["search_terms"] = search_terms(merged)
        updated = _save(ctx, event, values, session)
        _announce(ctx, session, "event.updated", updated, changed=changed)
        return updated

    return ctx.transaction(work)


def transition(
    ctx: Context, event_id: str, action: str, reason: str = "", if_match: str | None = None
) -> dict[str, Any]:
    """Publish, cancel or complete an event; an illegal transition is refused."""

    def work(session: ClientSession) -> dict[str, Any]:
        event = _load(ctx, event_id, session)
        check_if_match(event["version"], if_match)
        status, topic = next_status(action, event["status"])
        now = datetime.now(UTC)
        values: dict[str, Any] = {"status": status, "updated_at": now, f"{status}_at": now}
        extra: dict[str, Any] = {}
        if action == "cancel":
            values["cancellation_reason"] = reason
            extra["reason"] = reason
        updated = _save(ctx, event, values, session)
        _announce(ctx, session, topic, updated, **extra)
        return updated

    return ctx.transaction(work)


# --- the right to be forgotten ------------------------------------------------------


def erase_person(ctx: Context, session: ClientSession, request: ErasureRequestedPayload) -> None:
    """Erase what this service holds about the person, and answer the ledger
    (``internal.person.erasure_completed``), in the handler's transaction."""
    erasure.answer_request(ctx, session, ERASURE, request)

"""Every write path of the events service: change the state and announce it,
in one MongoDB transaction with its outbox records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession

from services.events.domain import (
    EDITABLE_STATUSES,
    changed_fields,
    next_status,
    search_terms,
    validate_event,
)
from services.events.schemas import EventPayloadSchema
from services.events.store import EventStore
from shared.auth import Principal
from shared.errors import Problem
from shared.http import check_if_match
from shared.mongo import in_transaction
from shared.web import Runtime

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
    rt: Runtime, session: ClientSession, topic: str, event: dict[str, Any], **extra: Any
) -> None:
    rt.outbox.add(
        session,
        topic=topic,
        key=event["id"],
        seq=event["version"],
        payload=payload(event, **extra),
    )


def create_event(rt: Runtime, store: EventStore, fields: dict[str, Any], by: Principal) -> dict:
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
        store.insert(doc, session)
        _announce(rt, session, "event.created", event)

    in_transaction(rt.client, work)
    return event


def _load(store: EventStore, event_id: str, session: ClientSession) -> dict[str, Any]:
    event = store.get(event_id, session)
    if event is None:
        raise Problem(404, f"There is no event {event_id}.")
    return event


def _save(
    store: EventStore, event: dict[str, Any], values: dict[str, Any], session: ClientSession
) -> dict[str, Any]:
    updated = store.update(event["id"], event["version"], values, session)
    if updated is None:  # a concurrent writer won: let the transaction retry or fail
        raise Problem(409, "The event changed while this request was applied; try again.")
    return updated


def update_event(
    rt: Runtime, store: EventStore, event_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply a PATCH: checks If-Match, re-validates the whole event, announces what changed."""

    def work(session: ClientSession) -> dict[str, Any]:
        event = _load(store, event_id, session)
        check_if_match(event["version"])
        if event["status"] not in EDITABLE_STATUSES:
            raise Problem(409, f"A {event['status']} event can no longer be changed.")
        changed = changed_fields(event, changes)
        if not changed:
            return event
        merged = {**event, **changes}
        errors = validate_event(merged)
        if errors:
            raise Problem(422, "The change would make the event invalid.", errors=errors)
        values = {name: changes[name] for name in changed}
        values["updated_at"] = datetime.now(UTC)
        values["search_terms"] = search_terms(merged)
        updated = _save(store, event, values, session)
        _announce(rt, session, "event.updated", updated, changed=changed)
        return updated

    return in_transaction(rt.client, work)


def transition(
    rt: Runtime, store: EventStore, event_id: str, action: str, reason: str = ""
) -> dict[str, Any]:
    """Publish, cancel or complete an event; an illegal transition is a 409."""

    def work(session: ClientSession) -> dict[str, Any]:
        event = _load(store, event_id, session)
        check_if_match(event["version"])
        status, topic = next_status(action, event["status"])
        now = datetime.now(UTC)
        values: dict[str, Any] = {"status": status, "updated_at": now, f"{status}_at": now}
        extra: dict[str, Any] = {}
        if action == "cancel":
            values["cancellation_reason"] = reason
            extra["reason"] = reason
        updated = _save(store, event, values, session)
        _announce(rt, session, topic, updated, **extra)
        return updated

    return in_transaction(rt.client, work)

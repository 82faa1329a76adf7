"""Every write path of the events service: change the state and announce it,
in one MongoDB transaction with its outbox records. Events and hosting
proposals: accepting a proposal makes its draft event in the same transaction.

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
    PROPOSAL_LIFECYCLE,
    changed_fields,
    complete_draft,
    decision_recipients,
    draft_from_proposal,
    follow_up_errors,
    next_status,
    refused_changes,
    search_terms,
    validate_event,
)
from services.events.store import ERASURE, EventStore
from shared import erasure
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.http import check_if_match
from shared.payloads.events import (
    EventPayloadSchema,
    ProposalDecidedPayloadSchema,
    ProposalPayloadSchema,
)
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


def _insert_event(
    ctx: Context,
    session: ClientSession,
    fields: dict[str, Any],
    by: Principal,
    proposal_id: str | None = None,
) -> dict[str, Any]:
    """Store a new draft and announce ``event.created``, in the caller's transaction."""
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
        "proposal_id": proposal_id,
    }
    doc = {k: v for k, v in event.items() if k != "id"}
    doc["_id"] = event["id"]
    doc["search_terms"] = search_terms(event)

    def work(session: ClientSession) -> None:
        _check_follows_up(ctx, event, session)
        ctx.store.insert(doc, session)
        _announce(ctx, session, "event.created", event)

    work(session)
    return event


def create_event(ctx: Context, fields: dict[str, Any], by: Principal) -> dict[str, Any]:
    return ctx.transaction(lambda session: _insert_event(ctx, session, fields, by))


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
        fixed = refused_changes(event["status"], changed)
        if fixed:
            raise Conflict(
                f"A {event['status']} event keeps its {', '.join(fixed)}: people may "
                "already have registered or been nominated under it.",
                fields=fixed,
            )
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


# --- hosting proposals -------------------------------------------------------

_proposal_schema = ProposalPayloadSchema()
_decided_schema = ProposalDecidedPayloadSchema()
PROPOSAL_FIELDS = (
    "title",
    "policy_summary",
    "format",
    "preferred_period",
    "languages",
    "themes",
    "contact",
    "language",
)


def proposal_payload(proposal: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The ``proposal.*`` payload of ``proposal``: none of its personal fields."""
    body = {
        **{k: v for k, v in proposal.items() if k in _proposal_schema.fields},
        "proposal_id": proposal["id"],
        "occurred_at": datetime.now(UTC),
        **extra,
    }
    return _proposal_schema.dump(body)


def _announce_proposal(
    ctx: Context, session: ClientSession, topic: str, proposal: dict[str, Any]
) -> None:
    """Proposal records are keyed by the proposal (there may be no event yet), so
    each proposal's records stay in order."""
    ctx.outbox.add(
        session,
        topic=topic,
        key=proposal["id"],
        seq=proposal["version"],
        payload=proposal_payload(proposal),
    )


def _announce_decision(ctx: Context, session: ClientSession, proposal: dict[str, Any]) -> None:
    """``internal.proposal.decided``: the coordinator's mail (recipients and reason sealed)."""
    body = {
        "proposal_id": proposal["id"],
        "country": proposal["country"],
        "status": proposal["status"],
        "title": proposal["title"],
        "event_id": proposal.get("event_id"),
        "reason": proposal.get("decline_reason") or "",
        "recipients": decision_recipients(proposal),
        "version": proposal["version"],
        "occurred_at": datetime.now(UTC),
    }
    ctx.outbox.add(
        session,
        topic="internal.proposal.decided",
        key=proposal["id"],
        seq=proposal["version"],
        payload=_decided_schema.dump(body),
    )


def submit_proposal(
    ctx: Context, fields: dict[str, Any], by: Principal, country: str
) -> dict[str, Any]:
    """A coordinator proposes, for ``country`` (the one they act for), to host an event."""
    asked = fields.get("country")
    if asked is not None and asked != country:
        raise Forbidden(f"A coordinator of {country} proposes for {country} only, not {asked}.")
    now = datetime.now(UTC)
    proposal: dict[str, Any] = {
        **{name: fields[name] for name in PROPOSAL_FIELDS},
        "id": str(uuid.uuid4()),
        "country": country,
        "status": "submitted",
        "version": 1,
        "submitted_at": now,
        "submitted_by": {"sub": by.sub, "email": by.verified_email},
        "updated_at": now,
        "decided_at": None,
        "decided_by": None,
        "decline_reason": None,
        "event_id": None,
    }
    if not decision_recipients(proposal):
        raise Invalid(
            "Nobody could be told of the decision.",
            errors={
                "contact": [
                    "Give a contact with an e-mail address: your token carries no "
                    "verified address to send the decision to."
                ]
            },
        )

    def work(session: ClientSession) -> None:
        ctx.store.insert_proposal(proposal, session)
        _announce_proposal(ctx, session, "proposal.submitted", proposal)

    ctx.transaction(work)
    return proposal


def _load_proposal(ctx: Context, proposal_id: str, session: ClientSession) -> dict[str, Any]:
    proposal = ctx.store.proposal(proposal_id, session)
    if proposal is None:
        raise NotFound(f"There is no proposal {proposal_id}.")
    return proposal


def _decide(
    ctx: Context,
    session: ClientSession,
    proposal: dict[str, Any],
    action: str,
    by: Principal,
    **values: Any,
) -> dict[str, Any]:
    """Record the secretariat's decision and announce it, to partners and to the coordinator."""
    status, topic = PROPOSAL_LIFECYCLE.next_status(action, proposal["status"])
    now = datetime.now(UTC)
    changes = {"status": status, "updated_at": now, "decided_at": now, "decided_by": by.sub}
    updated = ctx.store.update_proposal(
        proposal["id"], proposal["version"], {**changes, **values}, session
    )
    if updated is None:
        raise Conflict("The proposal changed while this request was applied; try again.")
    _announce_proposal(ctx, session, topic, updated)
    _announce_decision(ctx, session, updated)
    return updated


def accept_proposal(
    ctx: Context,
    proposal_id: str,
    choices: dict[str, Any],
    by: Principal,
    if_match: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Accept a submitted proposal: its draft event (the proposal's fields and
    the secretariat's ``choices``), linked both ways, in one transaction.
    Returns the proposal and the event."""

    def work(session: ClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        proposal = _load_proposal(ctx, proposal_id, session)
        check_if_match(proposal["version"], if_match)
        PROPOSAL_LIFECYCLE.next_status("accept", proposal["status"])  # 409 before 422
        fields, errors = complete_draft(draft_from_proposal(proposal, choices))
        if errors:
            raise Invalid("The draft event would not be valid.", errors=errors)
        event = _insert_event(ctx, session, fields, by, proposal_id=proposal["id"])
        accepted = _decide(ctx, session, proposal, "accept", by, event_id=event["id"])
        return accepted, event

    return ctx.transaction(work)


def decline_proposal(
    ctx: Context, proposal_id: str, reason: str, by: Principal, if_match: str | None = None
) -> dict[str, Any]:
    """Decline a submitted proposal; the reason goes to the coordinator only."""

    def work(session: ClientSession) -> dict[str, Any]:
        proposal = _load_proposal(ctx, proposal_id, session)
        check_if_match(proposal["version"], if_match)
        return _decide(ctx, session, proposal, "decline", by, decline_reason=reason.strip())

    return ctx.transaction(work)


# --- the right to be forgotten ------------------------------------------------------


def erase_person(ctx: Context, session: ClientSession, request: ErasureRequestedPayload) -> None:
    """Erase what this service holds about the person, and answer the ledger
    (``internal.person.erasure_completed``), in the handler's transaction."""
    erasure.answer_request(ctx, session, ERASURE, request)

"""What the invitations service does with records of other services: one
function per consumed topic, registered on ``subscriptions``.

It keeps a read model of programme events from ``event.*`` (title, dates,
venue, capacity, deadline, status). Records may come twice or out of order:
only a newer ``version`` changes the copy, and only a change that was applied
has consequences (revocations on cancellation, promotions on a raised capacity).

It keeps the erasure ledger: its own requests come back to it like to every
service (it erases its own rows then), and every service's answer on
``internal.person.erasure_completed`` is recorded against its request.
"""

from __future__ import annotations

from pymongo.client_session import ClientSession

from services.invitations import operations
from services.invitations.operations import Context
from shared.consumer import Message, Subscriptions
from shared.payloads.events import EventPayload
from shared.payloads.people import ErasureCompletedPayload, ErasureRequestedPayload
from shared.topics import PRODUCERS, source_of

subscriptions = Subscriptions()


@subscriptions.handler("event.created", "event.updated", "event.published", "event.completed")
def on_event_changed(message: Message[EventPayload], ctx: Context, session: ClientSession) -> None:
    """Refresh the read model; a raised capacity promotes waitlisted invitees."""
    if not ctx.store.apply_event(message.payload, session):
        return
    event = ctx.store.get_event(message.payload.event_id, session)
    if event is not None:
        operations.promote(ctx, session, event)


@subscriptions.handler("event.cancelled")
def on_event_cancelled(
    message: Message[EventPayload], ctx: Context, session: ClientSession
) -> None:
    """Revoke every open invitation of the cancelled event (once: a replay is stale)."""
    if ctx.store.apply_event(message.payload, session):
        operations.revoke_all_open(ctx, session, message.payload.event_id)


@subscriptions.handler("internal.person.erasure_requested")
def on_erasure_requested(
    message: Message[ErasureRequestedPayload], ctx: Context, session: ClientSession
) -> None:
    """Erase what this service holds about the person and answer the ledger."""
    operations.erase_person(ctx, session, message.payload)


@subscriptions.handler("internal.person.erasure_completed")
def on_erasure_completed(
    message: Message[ErasureCompletedPayload], ctx: Context, session: ClientSession
) -> None:
    """Record a service's answer; the service is the record's source, and its
    payload must agree (a record naming another service changes nothing)."""
    sources = {source_of(name): name for name in PRODUCERS}
    service = sources.get(message.envelope.source)
    if service is None or service != message.payload.service:
        return
    operations.record_erasure_answer(ctx, session, message.payload, service)

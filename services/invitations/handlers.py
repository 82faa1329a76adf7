"""What the invitations service does with records of other services: one
function per consumed topic, registered on ``subscriptions``.

It keeps a read model of programme events from ``event.*`` (title, dates,
venue, capacity, deadline, status). Records may come twice or out of order:
only a newer ``version`` changes the copy, and only a change that was applied
has consequences (revocations on cancellation, promotions on a raised capacity).
"""

from __future__ import annotations

from pymongo.client_session import ClientSession

from services.invitations import operations
from services.invitations.operations import Context
from shared.consumer import Message, Subscriptions
from shared.payloads.events import EventPayload

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

"""What the invitations service does with records of other services: one
function per consumed topic, registered on ``subscriptions``.

It keeps a read model of programme events from ``event.*`` (title, dates,
venue, capacity, deadline, status). Records may come twice or out of order:
only a newer ``version`` changes the copy, and only a change that was applied
has consequences (revocations on cancellation, promotions on a raised capacity).
"""

from __future__ import annotations

from services.invitations import operations
from services.invitations.store import InvitationStore
from shared.consumer import HandlerContext, Subscriptions
from shared.envelope import Envelope

subscriptions = Subscriptions()


@subscriptions.handler("event.created", "event.updated", "event.published", "event.completed")
def on_event_changed(record: Envelope, ctx: HandlerContext) -> None:
    """Refresh the read model; a raised capacity promotes waitlisted invitees."""
    store = InvitationStore(ctx.db)
    if not store.apply_event(record.data, ctx.session):
        return
    event = store.get_event(str(record.data["event_id"]), ctx.session)
    if event is not None:
        operations.promote(store, ctx.outbox, ctx.session, event)


@subscriptions.handler("event.cancelled")
def on_event_cancelled(record: Envelope, ctx: HandlerContext) -> None:
    """Revoke every open invitation of the cancelled event (once: a replay is stale)."""
    store = InvitationStore(ctx.db)
    if store.apply_event(record.data, ctx.session):
        operations.revoke_all_open(store, ctx.outbox, ctx.session, str(record.data["event_id"]))

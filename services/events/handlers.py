"""What the events service does with records of other services: one function
per consumed topic, registered on ``subscriptions``.

The events service keeps a participation read model (accepted and waitlisted
counts per event) from the invitation topics, shown in the catalogue.
"""

from __future__ import annotations

from services.events.store import EventStore
from shared.consumer import HandlerContext, Subscriptions
from shared.envelope import Envelope

subscriptions = Subscriptions()


@subscriptions.handler(
    "invitation.accepted",
    "invitation.declined",
    "invitation.waitlisted",
    "invitation.revoked",
    "invitation.expired",
)
def on_invitation_status_changed(record: Envelope, ctx: HandlerContext) -> None:
    """Count the event's accepted and waitlisted invitees; a stale record changes nothing."""
    data = record.data
    store = EventStore(ctx.db)
    newer = store.record_participant(
        invitation_id=str(data["invitation_id"]),
        event_id=str(data["event_id"]),
        status=str(data["status"]),
        version=int(data["version"]),
        session=ctx.session,
    )
    if newer:
        store.refresh_participation(str(data["event_id"]), ctx.session)

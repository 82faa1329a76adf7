"""What the events service does with records of other services: one function
per consumed topic, registered on ``subscriptions``.

The events service keeps a participation read model (accepted and waitlisted
counts per event) from the invitation topics, shown in the catalogue.
"""

from __future__ import annotations

from pymongo.client_session import ClientSession

from services.events import operations
from services.events.operations import Context
from shared.consumer import Message, Subscriptions
from shared.payloads.invitations import InvitationPayload
from shared.payloads.people import ErasureRequestedPayload

subscriptions = Subscriptions()


@subscriptions.handler(
    "invitation.accepted",
    "invitation.declined",
    "invitation.waitlisted",
    "invitation.revoked",
    "invitation.expired",
)
def on_invitation_status_changed(
    message: Message[InvitationPayload], ctx: Context, session: ClientSession
) -> None:
    """Count the event's accepted and waitlisted invitees; a stale record changes nothing."""
    invitation = message.payload
    newer = ctx.store.record_participant(
        invitation_id=invitation.invitation_id,
        event_id=invitation.event_id,
        status=invitation.status,
        version=invitation.version,
        session=session,
    )
    if newer:
        ctx.store.refresh_participation(invitation.event_id, session)


@subscriptions.handler("internal.person.erasure_requested")
def on_erasure_requested(
    message: Message[ErasureRequestedPayload], ctx: Context, session: ClientSession
) -> None:
    """Erase what this service holds about the person and answer the ledger."""
    operations.erase_person(ctx, session, message.payload)

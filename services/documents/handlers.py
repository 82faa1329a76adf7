"""What the documents service does with records of other services: one function
per consumed topic, registered on ``subscriptions``.

Two read models: ``events`` (status, title, dates; uploads to unknown events
are refused and reminders name the event) and ``invitees`` (per invitation:
event, newest status, and the sha256 of the invitee's lower-cased address,
never the address). A caller whose token's e-mail hashes to an accepted
invitation of an event may read its approved papers. Records may come twice or
out of order: each part keeps its own version and older records change nothing.
"""

from __future__ import annotations

from pymongo.client_session import ClientSession

from services.documents import operations
from services.documents.domain import email_hash
from services.documents.operations import Context
from shared.consumer import Message, Subscriptions
from shared.payloads.events import EventPayload
from shared.payloads.invitations import InvitationIssuedPayload, InvitationPayload
from shared.payloads.people import ErasureRequestedPayload

subscriptions = Subscriptions()


@subscriptions.handler(
    "event.created", "event.updated", "event.published", "event.cancelled", "event.completed"
)
def on_event_changed(message: Message[EventPayload], ctx: Context, session: ClientSession) -> None:
    """Keep the newest status, title and dates of each programme event."""
    ctx.store.record_event(message.payload, session)


@subscriptions.handler(
    "invitation.sent",
    "invitation.accepted",
    "invitation.declined",
    "invitation.waitlisted",
    "invitation.revoked",
    "invitation.expired",
)
def on_invitation_status_changed(
    message: Message[InvitationPayload], ctx: Context, session: ClientSession
) -> None:
    """Access to approved papers follows the invitation's newest status."""
    invitation = message.payload
    ctx.store.record_invitee_status(
        invitation_id=invitation.invitation_id,
        event_id=invitation.event_id,
        status=invitation.status,
        version=invitation.version,
        session=session,
    )


@subscriptions.handler("internal.invitation.issued")
def on_invitation_issued(
    message: Message[InvitationIssuedPayload], ctx: Context, session: ClientSession
) -> None:
    """Learn whose invitation it is: only the hash of the address is kept."""
    issued = message.payload
    ctx.store.record_invitee_email(
        invitation_id=issued.invitation_id,
        event_id=issued.event_id,
        digest=email_hash(issued.email),
        version=issued.version,
        session=session,
    )


@subscriptions.handler("internal.person.erasure_requested")
def on_erasure_requested(
    message: Message[ErasureRequestedPayload], ctx: Context, session: ClientSession
) -> None:
    """Erase what this service holds about the person and answer the ledger."""
    operations.erase_person(ctx, session, message.payload)

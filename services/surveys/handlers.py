"""What the surveys service does with records of other services: one function
per consumed topic, registered on ``subscriptions``.

Two read models: ``events`` (status, title, programme, format, dates, host
country; ``event.completed`` opens the event's survey) and ``participants``
(per invitation: event, country, role, newest status; never an address).
Records may come twice or out of order: only a newer ``version`` changes a
copy, and only a change that was applied has consequences. There is no order
across topics, so an acceptance may arrive after the survey opened: it then
gets its link late (``operations.participant_changed``).
"""

from __future__ import annotations

from pymongo.client_session import ClientSession

from services.surveys import operations
from services.surveys.operations import Context
from shared.consumer import Message, Subscriptions
from shared.payloads.events import EventPayload
from shared.payloads.invitations import InvitationPayload
from shared.payloads.people import ErasureRequestedPayload

subscriptions = Subscriptions()


@subscriptions.handler("event.created", "event.updated", "event.published", "event.cancelled")
def on_event_changed(message: Message[EventPayload], ctx: Context, session: ClientSession) -> None:
    """Keep the newest title, programme, format, dates and status of each event."""
    ctx.store.apply_event(message.payload, session)


@subscriptions.handler("event.completed")
def on_event_completed(
    message: Message[EventPayload], ctx: Context, session: ClientSession
) -> None:
    """The event took place: its survey opens for its accepted participants
    (once: a replay is stale, and a survey opened by hand stays as it is)."""
    if not ctx.store.apply_event(message.payload, session):
        return
    survey = ctx.store.get_survey(message.payload.event_id, session)
    if survey is None or survey["status"] == "draft":
        operations.open_survey(ctx, session, message.payload.event_id)


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
    """Who is a participant follows the invitation's newest status."""
    if ctx.store.apply_participant(message.payload, session):
        operations.participant_changed(ctx, session, message.payload)


@subscriptions.handler("internal.person.erasure_requested")
def on_erasure_requested(
    message: Message[ErasureRequestedPayload], ctx: Context, session: ClientSession
) -> None:
    """Erase what this service holds about the person and answer the ledger."""
    operations.erase_person(ctx, session, message.payload)

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

from services.documents.domain import email_hash
from services.documents.store import DocumentStore
from shared.consumer import HandlerContext, Subscriptions
from shared.envelope import Envelope

subscriptions = Subscriptions()

EVENT_FIELDS = ("status", "title", "starts_on", "ends_on")


@subscriptions.handler(
    "event.created", "event.updated", "event.published", "event.cancelled", "event.completed"
)
def on_event_changed(record: Envelope, ctx: HandlerContext) -> None:
    """Keep the newest status, title and dates of each programme event."""
    data = record.data
    fields = {name: data.get(name) for name in EVENT_FIELDS if name in data}
    DocumentStore(ctx.db).record_event(
        str(data["event_id"]), int(data["version"]), fields, ctx.session
    )


@subscriptions.handler(
    "invitation.sent",
    "invitation.accepted",
    "invitation.declined",
    "invitation.waitlisted",
    "invitation.revoked",
    "invitation.expired",
)
def on_invitation_status_changed(record: Envelope, ctx: HandlerContext) -> None:
    """Access to approved papers follows the invitation's newest status."""
    data = record.data
    DocumentStore(ctx.db).record_invitee_status(
        invitation_id=str(data["invitation_id"]),
        event_id=str(data["event_id"]),
        status=str(data["status"]),
        version=int(data["version"]),
        session=ctx.session,
    )


@subscriptions.handler("internal.invitation.issued")
def on_invitation_issued(record: Envelope, ctx: HandlerContext) -> None:
    """Learn whose invitation it is: only the hash of the address is kept."""
    data = record.data
    DocumentStore(ctx.db).record_invitee_email(
        invitation_id=str(data["invitation_id"]),
        event_id=str(data["event_id"]),
        digest=email_hash(str(data["email"])),
        version=int(data["version"]),
        session=ctx.session,
    )

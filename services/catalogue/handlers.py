"""What the catalogue service does with records: one function per consumed topic,
registered on ``subscriptions``.

The public view of the programme is built from topics only: events (``event.*``),
papers (``document.published`` / ``document.withdrawn``) and the catalogue's own
``practice.*`` records. Each read model keeps the newest version; after a change
is applied the search entries it affects are rebuilt (an event's papers inherit
its words, an event the words of the practices presented there).
"""

from __future__ import annotations

from pymongo.client_session import ClientSession

from services.catalogue import operations
from services.catalogue.operations import Context
from shared.consumer import Message, Subscriptions
from shared.payloads.catalogue import PracticePayload
from shared.payloads.documents import DocumentPayload
from shared.payloads.events import EventPayload
from shared.payloads.people import ErasureRequestedPayload

subscriptions = Subscriptions()


@subscriptions.handler(
    "event.created", "event.updated", "event.published", "event.cancelled", "event.completed"
)
def on_event_changed(message: Message[EventPayload], ctx: Context, session: ClientSession) -> None:
    """Keep the newest version of each event; a public one is searchable, with its papers."""
    if ctx.store.record_event(message.payload, session):
        ctx.store.reindex_event(message.payload.event_id, session)


@subscriptions.handler("document.published", "document.withdrawn")
def on_paper_changed(
    message: Message[DocumentPayload], ctx: Context, session: ClientSession
) -> None:
    """A published paper joins its event in the catalogue; a withdrawn one leaves it."""
    if ctx.store.record_paper(message.payload, session):
        ctx.store.reindex_paper(message.payload.document_id, session)


@subscriptions.handler(
    "practice.published", "practice.updated", "practice.withdrawn", "practice.transfer_recorded"
)
def on_practice_changed(
    message: Message[PracticePayload], ctx: Context, session: ClientSession
) -> None:
    """The public practice view follows the practice's own topics; the events it
    names before and after the change are reindexed too."""
    practice = message.payload
    before = ctx.store.practice_events(practice.practice_id, session)
    if ctx.store.record_practice(practice, session):
        ctx.store.reindex_practice(practice.practice_id, [*before, *practice.events], session)


@subscriptions.handler("internal.person.erasure_requested")
def on_erasure_requested(
    message: Message[ErasureRequestedPayload], ctx: Context, session: ClientSession
) -> None:
    """Erase what this service holds about the person and answer the ledger."""
    operations.erase_person(ctx, session, message.payload)

"""What the notifications service does with each record: one function per
consumed topic, registered on ``subscriptions``.

Every handler first keeps its read models (contacts, events), then queues the
mails the record causes (mail outbox, one per cause + recipient + template),
then one webhook delivery per partner subscription to the topic. All of it
commits with the record's idempotency row, so a replay changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifications import domain
from services.notifications.config import NotificationSettings, load
from services.notifications.operations import (
    CalendarPart,
    Recipient,
    queue_mail,
    queue_webhooks,
)
from services.notifications.store import NotificationStore
from shared.consumer import HandlerContext, Subscriptions
from shared.envelope import Envelope

subscriptions = Subscriptions()

EVENT_FIELDS = (
    "title",
    "format",
    "programme",
    "host_country",
    "starts_on",
    "ends_on",
    "timezone",
    "venue",
    "registration_deadline",
    "status",
)


def _webhooks(record: Envelope, ctx: HandlerContext, store: NotificationStore) -> None:
    queue_webhooks(
        store,
        ctx.session,
        topic=record.type,
        ce_id=record.id,
        event_id=record.key or record.data.get("event_id"),
        time=record.time,
        data=record.data,
    )


def format_deadline(value: Any) -> str | None:
    """``2027-02-20T17:00:00+02:00`` → ``2027-02-20 17:00 (UTC+02:00)``."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    offset = moment.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{moment:%Y-%m-%d %H:%M} ({zone})"


def _event_view(store: NotificationStore, event_id: str, contact: dict | None, s: Any) -> dict:
    """What mails say about the event: the read model, else the invitation's snapshot."""
    known = store.event(event_id, s)
    if known is not None:
        return {k: known.get(k) for k in EVENT_FIELDS} | {"version": known.get("version", 0)}
    snapshot = (contact or {}).get("event") or {}
    return {**snapshot, "version": 0}


def _recipient(contact: dict[str, Any]) -> Recipient:
    return Recipient(contact["email"], contact.get("name", ""), contact.get("language"))


# --- programme events -------------------------------------------------------


@subscriptions.handler("event.created", "event.published", "event.completed")
def on_event_changed(record: Envelope, ctx: HandlerContext) -> None:
    """Keep the event read model; partners hear of it by webhook."""
    store = NotificationStore(ctx.db)
    _apply_event(store, record, ctx)
    _webhooks(record, ctx, store)


def _apply_event(store: NotificationStore, record: Envelope, ctx: HandlerContext) -> bool:
    data = record.data
    fields = {k: data.get(k) for k in EVENT_FIELDS if k in data}
    return store.apply_event(str(data["event_id"]), int(data["version"]), fields, ctx.session)


@subscriptions.handler("event.updated")
def on_event_updated(record: Envelope, ctx: HandlerContext) -> None:
    """A new date, venue or time zone: a calendar update (higher SEQUENCE) to
    everyone still involved. A stale record (older version) mails nothing."""
    store = NotificationStore(ctx.db)
    newer = _apply_event(store, record, ctx)
    data = record.data
    changed = sorted(set(data.get("changed") or []) & domain.CALENDAR_FIELDS)
    if newer and changed and data.get("status") != "cancelled":
        ns = load()
        event_id = str(data["event_id"])
        event = _event_view(store, event_id, None, ctx.session)
        context = {"event": event, "changed": changed}
        _calendar_to_involved(store, ns, record, ctx, "changed", "REQUEST", context)
    _webhooks(record, ctx, store)


@subscriptions.handler("event.cancelled")
def on_event_cancelled(record: Envelope, ctx: HandlerContext) -> None:
    """iCalendar CANCEL (same UID) to everyone invited who has not declined."""
    store = NotificationStore(ctx.db)
    _apply_event(store, record, ctx)
    data = record.data
    ns = load()
    event = {k: data.get(k) for k in EVENT_FIELDS}
    context = {"event": event, "reason": data.get("reason") or ""}
    _calendar_to_involved(store, ns, record, ctx, "cancelled", "CANCEL", context)
    _webhooks(record, ctx, store)


def _calendar_to_involved(
    store: NotificationStore,
    ns: NotificationSettings,
    record: Envelope,
    ctx: HandlerContext,
    template: str,
    method: str,
    context: dict[str, Any],
) -> None:
    """Mail everyone still involved in the event, with an iCalendar ``method``
    part on their invitation's UID and the event's version as SEQUENCE."""
    event_id = str(record.data["event_id"])
    for contact in store.contacts_of(event_id, domain.INVOLVED_STATUSES, ctx.session):
        queue_mail(
            store,
            ns,
            ctx.session,
            template=template,
            cause_id=record.id,
            recipient=_recipient(contact),
            context=context,
            event_id=event_id,
            calendar=CalendarPart(
                method, domain.calendar_uid(event_id, contact["_id"]), int(record.data["version"])
            ),
        )


# --- invitations ------------------------------------------------------------


@subscriptions.handler("internal.invitation.issued")
def on_invitation_issued(record: Envelope, ctx: HandlerContext) -> None:
    """Remember the invitee and send the invitation (RSVP link + iCalendar REQUEST);
    then the status mails that arrived before we knew the address."""
    store = NotificationStore(ctx.db)
    data = record.data
    invitation_id, event_id = str(data["invitation_id"]), str(data["event_id"])
    contact_fields = {
        "event_id": event_id,
        "email": domain.normalise_email(str(data["email"])),
        "name": data.get("name") or "",
        "language": data.get("language") or "en",
        "country": data.get("country"),
        "role": data.get("role"),
        "rsvp_url": data.get("rsvp_url"),
        "registration_deadline": data.get("registration_deadline"),
        "event": data.get("event") or {},
    }
    newer = store.apply_contact(invitation_id, int(data["version"]), contact_fields, ctx.session)
    contact = store.contact(invitation_id, ctx.session)
    ns = load()
    event = _event_view(store, event_id, contact, ctx.session)
    if (
        newer
        and event.get("status") != "cancelled"
        and contact.get("status")
        not in (
            "revoked",
            "declined",
            "expired",
        )
    ):
        queue_mail(
            store,
            ns,
            ctx.session,
            template="invitation",
            cause_id=record.id,
            recipient=_recipient(contact),
            context={
                "event": event,
                "rsvp_url": data.get("rsvp_url") or "",
                "deadline": format_deadline(data.get("registration_deadline")),
            },
            event_id=event_id,
            action_url=data.get("rsvp_url"),
            calendar=CalendarPart(
                "REQUEST",
                domain.calendar_uid(event_id, invitation_id),
                int(event.get("version") or 0),
            ),
        )
    for waiting in store.take_deferred(invitation_id, ctx.session):
        _status_mail(store, ctx, waiting["cause_id"], waiting["data"], contact)


@subscriptions.handler("invitation.sent", "invitation.expired")
def on_invitation_lifecycle(record: Envelope, ctx: HandlerContext) -> None:
    store = NotificationStore(ctx.db)
    data = record.data
    store.apply_status(
        str(data["invitation_id"]),
        str(data["event_id"]),
        str(data["status"]),
        int(data["version"]),
        ctx.session,
    )
    _webhooks(record, ctx, store)


@subscriptions.handler(
    "invitation.accepted", "invitation.declined", "invitation.waitlisted", "invitation.revoked"
)
def on_invitation_answered(record: Envelope, ctx: HandlerContext) -> None:
    """Confirmation, waiting-list, promotion, decline or revocation notice; a stale
    record mails nothing; without a known address the mail waits for it."""
    store = NotificationStore(ctx.db)
    data = record.data
    invitation_id = str(data["invitation_id"])
    newer = store.apply_status(
        invitation_id,
        str(data["event_id"]),
        str(data["status"]),
        int(data["version"]),
        ctx.session,
    )
    if newer:
        contact = store.contact(invitation_id, ctx.session)
        if contact is None or not contact.get("email"):
            store.defer(
                {"invitation_id": invitation_id, "cause_id": record.id, "data": data},
                ctx.session,
            )
        else:
            _status_mail(store, ctx, record.id, data, contact)
    _webhooks(record, ctx, store)


def _status_mail(
    store: NotificationStore, ctx: HandlerContext, cause_id: str, data: dict, contact: dict
) -> None:
    status = str(data["status"])
    template = domain.STATUS_TEMPLATES.get(status)
    if template is None:
        return
    if status == "accepted" and data.get("promoted"):
        template = "promoted"
    event_id = str(data["event_id"])
    queue_mail(
        store,
        load(),
        ctx.session,
        template=template,
        cause_id=cause_id,
        recipient=_recipient(contact),
        context={"event": _event_view(store, event_id, contact, ctx.session)},
        event_id=event_id,
    )


@subscriptions.handler("internal.invitation.reminder_due")
def on_invitation_reminder_due(record: Envelope, ctx: HandlerContext) -> None:
    """Remind a pending invitee to answer (non-essential: respects opt-outs)."""
    store = NotificationStore(ctx.db)
    data = record.data
    contact = store.contact(str(data["invitation_id"]), ctx.session)
    if contact is None or not contact.get("email") or contact.get("status") != "pending":
        return  # answered meanwhile, or never issued to us: nothing to remind
    event_id = str(data["event_id"])
    queue_mail(
        store,
        load(),
        ctx.session,
        template="invitation_reminder",
        cause_id=record.id,
        recipient=_recipient(contact),
        context={
            "event": _event_view(store, event_id, contact, ctx.session),
            "deadline": format_deadline(
                data.get("registration_deadline") or contact.get("registration_deadline")
            ),
        },
        event_id=event_id,
    )


# --- documents --------------------------------------------------------------


def _document(data: dict[str, Any]) -> dict[str, Any]:
    return {"title": data.get("title") or data.get("kind", ""), "kind": data.get("kind", "")}


def _papers_mail(record: Envelope, ctx: HandlerContext, template: str) -> None:
    store = NotificationStore(ctx.db)
    data = record.data
    event_id = str(data["event_id"])
    ns = load()
    for contact in store.contacts_of(event_id, ("accepted",), ctx.session):
        queue_mail(
            store,
            ns,
            ctx.session,
            template=template,
            cause_id=record.id,
            recipient=_recipient(contact),
            context={
                "event": _event_view(store, event_id, contact, ctx.session),
                "document": _document(data),
            },
            event_id=event_id,
        )


@subscriptions.handler("internal.document.approved")
def on_document_approved(record: Envelope, ctx: HandlerContext) -> None:
    """Papers to read before the meeting, to the event's accepted participants."""
    _papers_mail(record, ctx, "papers_available")


@subscriptions.handler("document.published")
def on_document_published(record: Envelope, ctx: HandlerContext) -> None:
    """Published papers, to the event's accepted participants; and to partners."""
    _papers_mail(record, ctx, "papers_published")
    _webhooks(record, ctx, NotificationStore(ctx.db))


@subscriptions.handler("internal.document.reminder_due")
def on_document_reminder_due(record: Envelope, ctx: HandlerContext) -> None:
    """A paper is due: remind the people the documents service names."""
    store = NotificationStore(ctx.db)
    data = record.data
    ns = load()
    event_id = str(data["event_id"])
    for person in data.get("recipients") or []:
        if not person.get("email"):
            continue
        queue_mail(
            store,
            ns,
            ctx.session,
            template="document_reminder",
            cause_id=record.id,
            recipient=Recipient(person["email"], person.get("name", ""), person.get("language")),
            context={
                "event": _event_view(store, event_id, None, ctx.session),
                "title": data.get("title", ""),
                "kind": str(data.get("kind", "")).replace("_", " "),
                "due_on": data.get("due_on", ""),
            },
            event_id=event_id,
        )


@subscriptions.handler(
    "document.uploaded",
    "document.submitted",
    "document.withdrawn",
    "notification.sent",
    "notification.failed",
)
def on_partner_record(record: Envelope, ctx: HandlerContext) -> None:
    """Records only partners care about: one webhook delivery per subscription."""
    _webhooks(record, ctx, NotificationStore(ctx.db))

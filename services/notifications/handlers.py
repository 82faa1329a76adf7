"""What the notifications service does with each record: one function per
consumed topic, registered on ``subscriptions``.

Every handler first keeps its read models (contacts, events), then queues the
mails the record causes (mail outbox, one per cause + recipient + template),
then one webhook delivery per partner subscription to the topic. All of it
commits with the record's idempotency row, so a replay changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pymongo.client_session import ClientSession

from services.notifications import domain, operations
from services.notifications.operations import (
    CalendarPart,
    Context,
    MailRequest,
    Recipient,
    queue_mail,
    queue_mails,
    queue_webhooks,
)
from shared.consumer import Message, Subscriptions
from shared.payloads import load_payload, plain
from shared.payloads.documents import DocumentPayload, DocumentReminderPayload
from shared.payloads.events import EventPayload, ProposalDecidedPayload
from shared.payloads.invitations import (
    InvitationIssuedPayload,
    InvitationPayload,
    InvitationPayloadSchema,
    NominationChangedPayload,
    NominationRequestedPayload,
    QuotaUnusedPayload,
    RegistrationRejectedPayload,
    RegistrationRequestedPayload,
    ReminderDuePayload,
)
from shared.payloads.people import ErasureRequestedPayload
from shared.payloads.surveys import SurveyLinkPayload, SurveyLinkPayloadSchema
from shared.sealing import SEALED, SealingError, open_payload

log = logging.getLogger(__name__)
subscriptions = Subscriptions()
SURVEY_LINK = "internal.survey.link_issued"

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


_status_schema = InvitationPayloadSchema()
_link_schema = SurveyLinkPayloadSchema()


def _webhooks(message: Message[Any], ctx: Context, session: ClientSession) -> None:
    """Partners get the record's data exactly as its producer published it."""
    envelope = message.envelope
    queue_webhooks(
        ctx,
        session,
        topic=envelope.type,
        ce_id=envelope.id,
        event_id=envelope.key or envelope.data.get("event_id"),
        time=envelope.time,
        data=envelope.data,
    )


def _iso(moment: datetime | None) -> str | None:
    """A time as the mails and read models keep it: ISO 8601 with the producer's offset."""
    return moment.isoformat() if moment is not None else None


def _event_view(ctx: Context, event_id: str, contact: dict | None, s: ClientSession) -> dict:
    """What mails say about the event: the read model, else the invitation's snapshot."""
    known = ctx.store.event(event_id, s)
    if known is not None:
        return {k: known.get(k) for k in EVENT_FIELDS} | {"version": known.get("version", 0)}
    snapshot = (contact or {}).get("event") or {}
    return {**snapshot, "version": 0}


def _recipient(contact: dict[str, Any]) -> Recipient:
    return Recipient(contact["email"], contact.get("name", ""), contact.get("language"))


def _mail_each(
    message: Message[Any],
    ctx: Context,
    session: ClientSession,
    people: list[Any],
    *,
    template: str,
    context: dict[str, Any],
    event_id: str | None,
    feed_link: str | None = None,
) -> int:
    """The same mail, caused by ``message``, to each person a payload names (its
    ``recipients``: e-mail, name, language), queued with one insert."""
    return queue_mails(
        ctx,
        session,
        [
            MailRequest(
                template=template,
                cause_id=message.envelope.id,
                recipient=Recipient(person.email, person.name, person.language),
                context=context,
                event_id=event_id,
                feed_link=feed_link,
            )
            for person in people
        ],
    )


# --- programme events -------------------------------------------------------


def _event_fields(event: EventPayload) -> dict[str, Any]:
    fields = {name: plain(getattr(event, name)) for name in EVENT_FIELDS}
    fields["registration_deadline"] = _iso(event.registration_deadline)
    return fields


def _apply_event(ctx: Context, event: EventPayload, session: ClientSession) -> bool:
    """Keep the event read model; newer dates move its contacts' retention too."""
    newer = ctx.store.apply_event(event.event_id, event.version, _event_fields(event), session)
    if newer and event.ends_on:
        kept_until = domain.contact_expiry(
            event.ends_on, domain.utcnow(), ctx.settings.contact_retention_days
        )
        ctx.store.retain_contacts_of(event.event_id, kept_until, session)
    return newer


def _retain_contact(
    ctx: Context, invitation_id: str, event_id: str, ends_on: Any, session: ClientSession
) -> None:
    """Keep a contact until its event ends (the read model's dates, else the
    record's snapshot) plus the contacts' retention."""
    known = ctx.store.event(event_id, session)
    end = (known or {}).get("ends_on") or ends_on
    kept_until = domain.contact_expiry(end, domain.utcnow(), ctx.settings.contact_retention_days)
    ctx.store.retain_contact(invitation_id, kept_until, session)


@subscriptions.handler("event.created", "event.published", "event.completed")
def on_event_changed(message: Message[EventPayload], ctx: Context, session: ClientSession) -> None:
    """Keep the event read model; partners hear of it by webhook."""
    _apply_event(ctx, message.payload, session)
    _webhooks(message, ctx, session)


@subscriptions.handler("event.updated")
def on_event_updated(message: Message[EventPayload], ctx: Context, session: ClientSession) -> None:
    """A new date, venue or time zone: a calendar update (higher SEQUENCE) to
    everyone still involved. A stale record (older version) mails nothing."""
    event = message.payload
    newer = _apply_event(ctx, event, session)
    changed = sorted(set(event.changed or []) & domain.CALENDAR_FIELDS)
    if newer and changed and event.status != "cancelled":
        context = {"event": _event_view(ctx, event.event_id, None, session), "changed": changed}
        _calendar_to_involved(ctx, message, session, "changed", "REQUEST", context)
    _webhooks(message, ctx, session)


@subscriptions.handler("event.cancelled")
def on_event_cancelled(
    message: Message[EventPayload], ctx: Context, session: ClientSession
) -> None:
    """iCalendar CANCEL (same UID) to everyone invited who has not declined."""
    event = message.payload
    _apply_event(ctx, event, session)
    context = {"event": _event_fields(event), "reason": event.reason or ""}
    _calendar_to_involved(ctx, message, session, "cancelled", "CANCEL", context)
    _webhooks(message, ctx, session)


def _calendar_to_involved(
    ctx: Context,
    message: Message[EventPayload],
    session: ClientSession,
    template: str,
    method: str,
    context: dict[str, Any],
) -> None:
    """Mail everyone still involved in the event, with an iCalendar ``method``
    part on their invitation's UID and the event's version as SEQUENCE."""
    event = message.payload
    queue_mails(
        ctx,
        session,
        [
            MailRequest(
                template=template,
                cause_id=message.envelope.id,
                recipient=_recipient(contact),
                context=context,
                event_id=event.event_id,
                calendar=CalendarPart(
                    method, domain.calendar_uid(event.event_id, contact["_id"]), event.version
                ),
            )
            for contact in ctx.store.contacts_of(event.event_id, domain.INVOLVED_STATUSES, session)
        ],
    )


# --- invitations ------------------------------------------------------------


@subscriptions.handler("internal.invitation.issued")
def on_invitation_issued(
    message: Message[InvitationIssuedPayload], ctx: Context, session: ClientSession
) -> None:
    """Remember the invitee and send the invitation (RSVP link + iCalendar REQUEST);
    then the status mails that arrived before we knew the address.

    The contact keeps no RSVP link: only this mail needs it (it is rendered now,
    and a resend is a new record with a new link)."""
    issued = message.payload
    contact_fields = {
        "event_id": issued.event_id,
        "email": domain.normalise_email(issued.email),
        "name": issued.name,
        "language": issued.language or "en",
        "country": issued.country,
        "role": issued.role,
        "registration_deadline": _iso(issued.registration_deadline),
        "event": plain(issued.event) or {},
    }
    newer = ctx.store.apply_contact(issued.invitation_id, issued.version, contact_fields, session)
    snapshot_end = issued.event.ends_on if issued.event is not None else None
    _retain_contact(ctx, issued.invitation_id, issued.event_id, snapshot_end, session)
    contact = ctx.store.contact(issued.invitation_id, session)
    event = _event_view(ctx, issued.event_id, contact, session)
    still_invited = contact.get("status") not in ("revoked", "declined", "expired")
    if newer and event.get("status") != "cancelled" and still_invited:
        if issued.origin == "registration":
            _registrant_mail(ctx, session, message, contact, event)
        else:
            _invitation_mail(ctx, session, message, contact, event)
    for waiting in ctx.store.take_deferred(issued.invitation_id, session):
        if waiting.get("topic") == SURVEY_LINK:
            link = _waiting_link(ctx, waiting)
            if link is not None:
                _survey_mail(ctx, session, waiting["cause_id"], link, contact)
            continue
        status = load_payload(_status_schema, waiting["data"])
        _status_mail(ctx, session, waiting["cause_id"], status, contact)


def _invitation_mail(
    ctx: Context,
    session: ClientSession,
    message: Message[InvitationIssuedPayload],
    contact: dict[str, Any],
    event: dict[str, Any],
) -> None:
    """The invitation: the RSVP link and an iCalendar REQUEST."""
    issued = message.payload
    queue_mail(
        ctx,
        session,
        template="invitation",
        cause_id=message.envelope.id,
        recipient=_recipient(contact),
        context={
            "event": event,
            "rsvp_url": issued.rsvp_url,
            "deadline": _iso(issued.registration_deadline),
            "nominated": issued.origin == "nomination",  # mail.render localises it
        },
        event_id=issued.event_id,
        action_url=issued.rsvp_url,
        # The feed links the invitation, never the RSVP link (a credential).
        feed_link=f"/v1/invitations/{issued.invitation_id}",
        calendar=CalendarPart(
            "REQUEST",
            domain.calendar_uid(issued.event_id, issued.invitation_id),
            event["version"],
        ),
    )


def _registrant_mail(
    ctx: Context,
    session: ClientSession,
    message: Message[InvitationIssuedPayload],
    contact: dict[str, Any],
    event: dict[str, Any],
) -> None:
    """A confirmed registration: the confirmation with its iCalendar REQUEST (a
    seat, as an accepted invitation has), or the waiting-list notice; both hold
    the cancellation link, which only this record carries."""
    issued = message.payload
    template, method = domain.REGISTRATION_ISSUED_MAILS.get(issued.status, (None, None))
    if template is None:
        return
    calendar = None
    if method is not None:
        uid = domain.calendar_uid(issued.event_id, issued.invitation_id)
        calendar = CalendarPart(method, uid, event["version"])
    queue_mail(
        ctx,
        session,
        template=template,
        cause_id=message.envelope.id,
        recipient=_recipient(contact),
        context={"event": event, "cancel_url": issued.rsvp_url},
        event_id=issued.event_id,
        feed_link=f"/v1/invitations/{issued.invitation_id}",
        calendar=calendar,
    )


@subscriptions.handler("invitation.sent", "invitation.expired")
def on_invitation_lifecycle(
    message: Message[InvitationPayload], ctx: Context, session: ClientSession
) -> None:
    invitation = message.payload
    ctx.store.apply_status(
        invitation.invitation_id,
        invitation.event_id,
        invitation.status,
        invitation.version,
        session,
    )
    _retain_contact(ctx, invitation.invitation_id, invitation.event_id, None, session)
    _webhooks(message, ctx, session)


@subscriptions.handler(
    "invitation.accepted", "invitation.declined", "invitation.waitlisted", "invitation.revoked"
)
def on_invitation_answered(
    message: Message[InvitationPayload], ctx: Context, session: ClientSession
) -> None:
    """Confirmation, waiting-list, promotion, decline or revocation notice; a stale
    record mails nothing; without a known address the mail waits for it."""
    invitation = message.payload
    newer = ctx.store.apply_status(
        invitation.invitation_id,
        invitation.event_id,
        invitation.status,
        invitation.version,
        session,
    )
    _retain_contact(ctx, invitation.invitation_id, invitation.event_id, None, session)
    if newer:
        contact = ctx.store.contact(invitation.invitation_id, session)
        if contact is None or not contact.get("email"):
            ctx.store.defer(
                {
                    "invitation_id": invitation.invitation_id,
                    "cause_id": message.envelope.id,
                    "data": message.envelope.data,
                },
                session,
            )
        else:
            _status_mail(ctx, session, message.envelope.id, invitation, contact)
    _webhooks(message, ctx, session)


def _status_mail(
    ctx: Context,
    session: ClientSession,
    cause_id: str,
    invitation: InvitationPayload,
    contact: dict[str, Any],
) -> None:
    event = _event_view(ctx, invitation.event_id, contact, session)
    calendar = None
    if invitation.origin == "registration":
        key = (invitation.status, invitation.status == "accepted" and invitation.promoted)
        template, method = domain.REGISTRATION_MAILS.get(key, (None, None))
        if method is not None:
            uid = domain.calendar_uid(invitation.event_id, invitation.invitation_id)
            calendar = CalendarPart(method, uid, event["version"])
    else:
        template = domain.STATUS_TEMPLATES.get(invitation.status)
        if invitation.status == "accepted" and invitation.promoted:
            template = "promoted"
    if template is None:
        return
    queue_mail(
        ctx,
        session,
        template=template,
        cause_id=cause_id,
        recipient=_recipient(contact),
        context={"event": event},
        event_id=invitation.event_id,
        calendar=calendar,
    )


# --- open registration --------------------------------------------------------


def _snapshot_view(ctx: Context, event_id: str, snapshot: Any, s: ClientSession) -> dict:
    """The event as a mail about no invitation describes it: the read model,
    else the record's snapshot."""
    return _event_view(ctx, event_id, {"event": plain(snapshot) or {}}, s)


@subscriptions.handler("internal.registration.requested")
def on_registration_requested(
    message: Message[RegistrationRequestedPayload], ctx: Context, session: ClientSession
) -> None:
    """The double opt-in mail with the confirmation link (again for a repeated
    registration: a new record with a new link). The registrant is no contact:
    until they confirm they are nobody's participant, and nothing is kept here
    but the mail."""
    requested = message.payload
    queue_mail(
        ctx,
        session,
        template="registration_confirm",
        cause_id=message.envelope.id,
        recipient=Recipient(requested.email, requested.name, requested.language),
        context={
            "event": _snapshot_view(ctx, requested.event_id, requested.event, session),
            "confirm_url": requested.confirm_url,
            "deadline": _iso(requested.expires_at),  # mail.render localises it
        },
        event_id=requested.event_id,
        action_url=requested.confirm_url,
    )


@subscriptions.handler("internal.registration.rejected")
def on_registration_rejected(
    message: Message[RegistrationRejectedPayload], ctx: Context, session: ClientSession
) -> None:
    """The secretariat's reason, to the person whose registration it rejected."""
    rejected = message.payload
    queue_mail(
        ctx,
        session,
        template="registration_rejected",
        cause_id=message.envelope.id,
        recipient=Recipient(rejected.email, rejected.name, rejected.language),
        context={
            "event": _snapshot_view(ctx, rejected.event_id, rejected.event, session),
            "reason": rejected.reason,
        },
        event_id=rejected.event_id,
    )


# --- national nominations ----------------------------------------------------


@subscriptions.handler("internal.nomination.requested")
def on_nomination_requested(
    message: Message[NominationRequestedPayload], ctx: Context, session: ClientSession
) -> None:
    """Ask a country's coordinators for nominations within its places, by the
    nomination deadline."""
    requested = message.payload
    _mail_each(
        message,
        ctx,
        session,
        requested.recipients,
        template="nomination_request",
        context={
            "event": _snapshot_view(ctx, requested.event_id, requested.event, session),
            "country": requested.country,
            "places": requested.places,
            "nominate_url": requested.nominate_url,
            "deadline": _iso(requested.nomination_deadline),  # mail.render localises it
        },
        event_id=requested.event_id,
        feed_link=f"/v1/events/{requested.event_id}/nominations",
    )


def _coordinators_mail(
    message: Message[NominationChangedPayload], ctx: Context, session: ClientSession, template: str
) -> None:
    changed = message.payload
    _mail_each(
        message,
        ctx,
        session,
        changed.recipients,
        template=template,
        context={
            "event": _snapshot_view(ctx, changed.event_id, changed.event, session),
            "country": changed.country,
            "status": changed.status,
            "nominee_name": changed.nominee_name,
            "moved_up_name": changed.moved_up_name,
            "remaining": changed.remaining,
            "reason": changed.reason,
        },
        event_id=changed.event_id,
        feed_link=f"/v1/nominations/{changed.nomination_id}",
    )


@subscriptions.handler("internal.nomination.decided")
def on_nomination_decided(
    message: Message[NominationChangedPayload], ctx: Context, session: ClientSession
) -> None:
    """Tell the country's coordinators the secretariat's decision (a rejection's
    reason, the substitute who moved up, the places left)."""
    template = domain.NOMINATION_TEMPLATES[message.payload.status]
    _coordinators_mail(message, ctx, session, template)


@subscriptions.handler("internal.nomination.place_freed")
def on_nomination_place_freed(
    message: Message[NominationChangedPayload], ctx: Context, session: ClientSession
) -> None:
    """A nominee declined, was revoked or expired: the coordinators may nominate again."""
    _coordinators_mail(message, ctx, session, "nomination_place_freed")


@subscriptions.handler("internal.nomination.quota_unused")
def on_quota_unused(
    message: Message[QuotaUnusedPayload], ctx: Context, session: ClientSession
) -> None:
    """The places nobody was nominated for at the deadline: a mail to the
    secretariat's address (MLP_SECRETARIAT_MAIL) and a notice in the feed of
    everyone holding the secretariat role."""
    unused = message.payload
    mailbox = domain.parse_mailbox(ctx.settings.secretariat_mail)
    queue_mail(
        ctx,
        session,
        template="quota_unused",
        cause_id=message.envelope.id,
        recipient=Recipient(mailbox.addr_spec, mailbox.display_name, "en"),
        context={
            "event": _snapshot_view(ctx, unused.event_id, unused.event, session),
            "countries": [plain(c) for c in unused.countries],
            "deadline": _iso(unused.nomination_deadline),
        },
        event_id=unused.event_id,
        feed_link=f"/v1/events/{unused.event_id}/quotas",
        feed_role="secretariat",
    )


@subscriptions.handler("internal.invitation.reminder_due")
def on_invitation_reminder_due(
    message: Message[ReminderDuePayload], ctx: Context, session: ClientSession
) -> None:
    """Remind a pending invitee to answer (non-essential: respects opt-outs)."""
    reminder = message.payload
    contact = ctx.store.contact(reminder.invitation_id, session)
    if contact is None or not contact.get("email") or contact.get("status") != "pending":
        return  # answered meanwhile, or never issued to us: nothing to remind
    deadline = _iso(reminder.registration_deadline) or contact.get("registration_deadline")
    queue_mail(
        ctx,
        session,
        template="invitation_reminder",
        cause_id=message.envelope.id,
        recipient=_recipient(contact),
        context={
            "event": _event_view(ctx, reminder.event_id, contact, session),
            "deadline": deadline,
        },
        event_id=reminder.event_id,
    )


# --- documents --------------------------------------------------------------


def _papers_mail(
    message: Message[DocumentPayload], ctx: Context, session: ClientSession, template: str
) -> None:
    paper = message.payload
    document = {"title": paper.title or paper.kind, "kind": paper.kind}
    queue_mails(
        ctx,
        session,
        [
            MailRequest(
                template=template,
                cause_id=message.envelope.id,
                recipient=_recipient(contact),
                context={
                    "event": _event_view(ctx, paper.event_id, contact, session),
                    "document": document,
                },
                event_id=paper.event_id,
            )
            for contact in ctx.store.contacts_of(paper.event_id, ("accepted",), session)
        ],
    )


@subscriptions.handler("internal.document.approved")
def on_document_approved(
    message: Message[DocumentPayload], ctx: Context, session: ClientSession
) -> None:
    """Papers to read before the meeting, to the event's accepted participants."""
    _papers_mail(message, ctx, session, "papers_available")


@subscriptions.handler("document.published")
def on_document_published(
    message: Message[DocumentPayload], ctx: Context, session: ClientSession
) -> None:
    """Published papers, to the event's accepted participants; and to partners."""
    _papers_mail(message, ctx, session, "papers_published")
    _webhooks(message, ctx, session)


@subscriptions.handler("internal.document.reminder_due")
def on_document_reminder_due(
    message: Message[DocumentReminderPayload], ctx: Context, session: ClientSession
) -> None:
    """A paper is due: remind the people the documents service names."""
    reminder = message.payload
    _mail_each(
        message,
        ctx,
        session,
        reminder.recipients,
        template="document_reminder",
        context={
            "event": _event_view(ctx, reminder.event_id, None, session),
            "title": reminder.title,
            "kind": reminder.kind.replace("_", " "),
            "due_on": reminder.due_on.isoformat(),
        },
        event_id=reminder.event_id,
    )


# --- hosting proposals ------------------------------------------------------


@subscriptions.handler("internal.proposal.decided")
def on_proposal_decided(
    message: Message[ProposalDecidedPayload], ctx: Context, session: ClientSession
) -> None:
    """Tell the proposing coordinator (and the proposal's contact) the secretariat's
    decision, with the reason of a decline."""
    decided = message.payload
    _mail_each(
        message,
        ctx,
        session,
        decided.recipients,
        template=domain.PROPOSAL_TEMPLATES[decided.status],
        context={
            "event": {"title": decided.title},
            "title": decided.title,
            "reason": decided.reason,
        },
        event_id=decided.event_id,
        feed_link=f"/v1/proposals/{decided.proposal_id}",
    )


@subscriptions.handler("proposal.submitted", "proposal.accepted", "proposal.declined")
def on_proposal_record(message: Message[Any], ctx: Context, session: ClientSession) -> None:
    """Proposal records mail nobody (internal.proposal.decided does): partners' webhooks."""
    _webhooks(message, ctx, session)


# --- surveys ----------------------------------------------------------------


@subscriptions.handler(SURVEY_LINK)
def on_survey_link_issued(
    message: Message[SurveyLinkPayload], ctx: Context, session: ClientSession
) -> None:
    """Mail a participant their one-time survey link (the reminder's is a fresh
    one); without a known address yet (records of different topics have no
    order) the mail waits for it, like the status mails: the record as it
    came, its link sealed, until the survey closes; taken, it is gone."""
    link = message.payload
    contact = ctx.store.contact(link.invitation_id, session)
    if contact is None or not contact.get("email"):
        ctx.store.defer(
            {
                "invitation_id": link.invitation_id,
                "topic": message.envelope.type,
                "cause_id": message.envelope.id,
                "data": message.envelope.data,  # survey_url blank, the link in "sealed"
                "expires_at": domain.deferred_link_expiry(
                    link.closes_at, domain.utcnow(), ctx.settings.contact_retention_days
                ),
            },
            session,
        )
        return
    _survey_mail(ctx, session, message.envelope.id, link, contact)


def _waiting_link(ctx: Context, waiting: dict[str, Any]) -> SurveyLinkPayload | None:
    """A deferred survey link, opened to be mailed now; None when there is
    nothing left to mail: its survey has closed, or it was sealed with a key
    since removed from the ring (shredded), which must not fail the invitation."""
    data = waiting["data"]
    try:
        opened = open_payload(
            ctx.settings.internal_topic_keys,
            topic=SURVEY_LINK,
            ce_id=waiting["cause_id"],
            data=data,
            # The runner checked the record's key id header against the blob's on receipt.
            key_id=(data.get(SEALED) or {}).get("kid"),
        )
    except SealingError as exc:
        log.warning(
            "a deferred survey link cannot be opened; dropped",
            extra={"cause_id": waiting["cause_id"], "error": f"{type(exc).__name__}: {exc}"},
        )
        return None
    link = load_payload(_link_schema, opened)
    if link.closes_at is not None and link.closes_at <= domain.utcnow():
        return None
    return link


def _survey_mail(
    ctx: Context,
    session: ClientSession,
    cause_id: str,
    link: SurveyLinkPayload,
    contact: dict[str, Any],
) -> None:
    """The survey link (or the reminder's fresh one) in the contact's language;
    it says nothing of any answer."""
    language = domain.language_for(contact.get("language"))
    url = f"{link.survey_url}?lang={language}"
    queue_mail(
        ctx,
        session,
        template="survey_reminder" if link.reminder else "survey_invitation",
        cause_id=cause_id,
        recipient=_recipient(contact),
        context={
            "event": _event_view(ctx, link.event_id, contact, session),
            "survey_url": url,
            "closes_on": link.closes_at.date().isoformat() if link.closes_at else None,
        },
        event_id=link.event_id,
        action_url=url,  # the link is a credential: the mailbox only; the feed links nothing
        feed_link=None,
    )


@subscriptions.handler(
    "document.uploaded",
    "document.submitted",
    "document.withdrawn",
    "survey.opened",
    "survey.closed",
    "survey.results_published",
)
def on_partner_record(message: Message[Any], ctx: Context, session: ClientSession) -> None:
    """Records only partners care about: one webhook delivery per subscription.
    (This service's own ``notification.*`` get theirs where they are announced,
    ``operations.publish_announcements``: it does not consume them back.)"""
    _webhooks(message, ctx, session)


@subscriptions.handler("internal.person.erasure_requested")
def on_erasure_requested(
    message: Message[ErasureRequestedPayload], ctx: Context, session: ClientSession
) -> None:
    """Erase what this service holds about the person and answer the ledger."""
    operations.erase_person(ctx, session, message.payload)

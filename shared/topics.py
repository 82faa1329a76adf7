"""The topic catalogue: every Kafka topic of the platform, who produces it and
what it means. Workers create exactly these topics at start (automatic topic
creation is off on the broker), so a misspelt topic fails loudly.

Each topic names the published schema of its payload (:mod:`shared.payloads`),
which its producer dumps through and its consumers load through. Partner-visible
topics are part of the public contract, ``internal.`` topics are not. Every
producing service also has a dead-letter topic ``dlq.<service>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema

from shared.payloads.catalogue import PracticePayloadSchema
from shared.payloads.documents import DocumentPayloadSchema, ReminderPayloadSchema
from shared.payloads.events import (
    EventPayloadSchema,
    ProposalDecidedPayloadSchema,
    ProposalPayloadSchema,
)
from shared.payloads.invitations import (
    InvitationIssuedPayloadSchema,
    InvitationPayloadSchema,
    NominationChangedPayloadSchema,
    NominationRequestedPayloadSchema,
    QuotaUnusedPayloadSchema,
    RegistrationRejectedPayloadSchema,
    RegistrationRequestedPayloadSchema,
    ReminderDuePayloadSchema,
)
from shared.payloads.notifications import NotificationPayloadSchema
from shared.payloads.people import ErasureCompletedPayloadSchema, ErasureRequestedPayloadSchema
from shared.payloads.surveys import SurveyLinkPayloadSchema, SurveyPayloadSchema

PRACTICE_KEY = "The practice id (a practice belongs to no one programme event)."
ERASURE_KEY = "The erasure request id (an erasure concerns a person, not one programme event)."
EVERY_SERVICE = "*"
"""The producer of a topic every service announces on (each service answers an
erasure request for itself); its records carry the ``ce_source`` of the service."""


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str
    description: str
    schema: type[Schema] | None = None  # None only for dead-letter topics (records as they came)
    key: str = "The programme event id."  # what the record key is

    @property
    def partner_visible(self) -> bool:
        return not self.name.startswith(("internal.", "dlq."))

    def produced_by(self, service: str) -> bool:
        """Whether ``service`` announces on this topic (may write it)."""
        return self.producer in (service, EVERY_SERVICE)


TOPICS: tuple[Topic, ...] = (
    Topic(
        "event.created", "events", "A programme event was created (as a draft).", EventPayloadSchema
    ),
    Topic(
        "event.updated",
        "events",
        "Fields of a programme event changed; lists `changed`.",
        EventPayloadSchema,
    ),
    Topic(
        "event.published",
        "events",
        "A programme event was published to its audience.",
        EventPayloadSchema,
    ),
    Topic("event.cancelled", "events", "A programme event was cancelled.", EventPayloadSchema),
    Topic(
        "event.completed",
        "events",
        "A programme event took place and was closed.",
        EventPayloadSchema,
    ),
    Topic(
        "proposal.submitted",
        "events",
        "A country's coordinator proposed to host a peer learning event.",
        ProposalPayloadSchema,
    ),
    Topic(
        "proposal.accepted",
        "events",
        "A hosting proposal was accepted; `event_id` names the draft event made from it.",
        ProposalPayloadSchema,
    ),
    Topic(
        "proposal.declined",
        "events",
        "A hosting proposal was declined.",
        ProposalPayloadSchema,
    ),
    Topic("invitation.sent", "invitations", "An invitation was issued.", InvitationPayloadSchema),
    Topic(
        "invitation.accepted",
        "invitations",
        "An invitee accepted (or was promoted).",
        InvitationPayloadSchema,
    ),
    Topic("invitation.declined", "invitations", "An invitee declined.", InvitationPayloadSchema),
    Topic(
        "invitation.waitlisted",
        "invitations",
        "An acceptance went to the waiting list.",
        InvitationPayloadSchema,
    ),
    Topic(
        "invitation.revoked", "invitations", "An invitation was revoked.", InvitationPayloadSchema
    ),
    Topic(
        "invitation.expired",
        "invitations",
        "An invitation passed its deadline unanswered.",
        InvitationPayloadSchema,
    ),
    Topic(
        "document.uploaded",
        "documents",
        "A document or a new version was uploaded.",
        DocumentPayloadSchema,
    ),
    Topic(
        "document.submitted",
        "documents",
        "A document was submitted for review.",
        DocumentPayloadSchema,
    ),
    Topic("document.published", "documents", "A document was published.", DocumentPayloadSchema),
    Topic("document.withdrawn", "documents", "A document was withdrawn.", DocumentPayloadSchema),
    Topic(
        "notification.sent", "notifications", "A message was delivered.", NotificationPayloadSchema
    ),
    Topic(
        "notification.failed",
        "notifications",
        "A message could not be delivered.",
        NotificationPayloadSchema,
    ),
    Topic(
        "survey.opened",
        "surveys",
        "An event's participant survey opened: how many were given a link.",
        SurveyPayloadSchema,
    ),
    Topic(
        "survey.closed",
        "surveys",
        "An event's participant survey closed: invited and response counts only.",
        SurveyPayloadSchema,
    ),
    Topic(
        "survey.results_published",
        "surveys",
        "An event's survey results were published: counts and agree shares, no answer.",
        SurveyPayloadSchema,
    ),
    Topic(
        "practice.published",
        "catalogue",
        "A practice was published to the practices database.",
        PracticePayloadSchema,
        key=PRACTICE_KEY,
    ),
    Topic(
        "practice.updated",
        "catalogue",
        "Fields of a published practice changed.",
        PracticePayloadSchema,
        key=PRACTICE_KEY,
    ),
    Topic(
        "practice.withdrawn",
        "catalogue",
        "A practice was withdrawn from the practices database.",
        PracticePayloadSchema,
        key=PRACTICE_KEY,
    ),
    Topic(
        "practice.transfer_recorded",
        "catalogue",
        "A country's follow-up of a published practice was recorded; carries `transfer`.",
        PracticePayloadSchema,
        key=PRACTICE_KEY,
    ),
    # Internal: personal data and credentials the notifications service needs.
    Topic(
        "internal.proposal.decided",
        "events",
        "A hosting proposal was accepted or declined: whom to tell, and the reason.",
        ProposalDecidedPayloadSchema,
    ),
    Topic(
        "internal.invitation.issued",
        "invitations",
        "An invitation was issued or resent: invitee address, name, language, RSVP link.",
        InvitationIssuedPayloadSchema,
    ),
    Topic(
        "internal.invitation.reminder_due",
        "invitations",
        "A pending invitee is due a reminder (one per invitee per schedule step).",
        ReminderDuePayloadSchema,
    ),
    Topic(
        "internal.registration.requested",
        "invitations",
        "Someone registered for an open event: address, name, language, confirmation link.",
        RegistrationRequestedPayloadSchema,
    ),
    Topic(
        "internal.registration.rejected",
        "invitations",
        "The secretariat rejected a confirmed registration: address, name, language, reason.",
        RegistrationRejectedPayloadSchema,
    ),
    Topic(
        "internal.nomination.requested",
        "invitations",
        "A country has places on a nomination event: its coordinators' addresses, the places.",
        NominationRequestedPayloadSchema,
    ),
    Topic(
        "internal.nomination.decided",
        "invitations",
        "The secretariat approved or rejected a nomination: the coordinators to tell, the reason.",
        NominationChangedPayloadSchema,
    ),
    Topic(
        "internal.nomination.place_freed",
        "invitations",
        "A nominee declined, was revoked or expired: the coordinators to tell, the places left.",
        NominationChangedPayloadSchema,
    ),
    Topic(
        "internal.nomination.quota_unused",
        "invitations",
        "The nomination deadline passed with places left per country (for the secretariat).",
        QuotaUnusedPayloadSchema,
    ),
    Topic(
        "internal.document.approved",
        "documents",
        "A paper was approved: the event's accepted participants may now read it.",
        DocumentPayloadSchema,
    ),
    Topic(
        "internal.document.reminder_due",
        "documents",
        "An expected paper is missing near its due date; someone must be reminded.",
        ReminderPayloadSchema,
    ),
    Topic(
        "internal.survey.link_issued",
        "surveys",
        "A participant's one-time survey link (or the one reminder's fresh link) to mail.",
        SurveyLinkPayloadSchema,
    ),
    # Internal: the right to be forgotten, a saga across every service.
    Topic(
        "internal.person.erasure_requested",
        "invitations",
        "A person's data is to be erased (or erased again after a restore): the keyed hash "
        "of the address, the request id; the address itself only sealed.",
        ErasureRequestedPayloadSchema,
        key=ERASURE_KEY,
    ),
    Topic(
        "internal.person.erasure_completed",
        EVERY_SERVICE,
        "A service erased what it held about a person (or, by retention, about an event's "
        "participants): counts per collection and what it retained; no personal data.",
        ErasureCompletedPayloadSchema,
        key=ERASURE_KEY,
    ),
)
# The services that announce anything, in catalogue order; each has a dead-letter topic.
# They are the services that hold data of their own: an erasure waits for each of them.
PRODUCERS: tuple[str, ...] = tuple(
    dict.fromkeys(t.producer for t in TOPICS if t.producer != EVERY_SERVICE)
)
TOPICS += tuple(
    Topic(f"dlq.{service}", service, f"Records the {service} worker could not process.")
    for service in PRODUCERS
)

TOPIC_NAMES = frozenset(t.name for t in TOPICS)
TOPIC_BY_NAME = {t.name: t for t in TOPICS}


def dead_letter_topic(group: str) -> str:
    """The dead-letter topic of a consumer group (one group per service)."""
    return f"dlq.{group}"


def source_of(service: str) -> str:
    """The CloudEvents ``source`` of everything ``service`` announces."""
    return f"/mlp/{service}"


def producer_source(name: str) -> str:
    """The ``ce_source`` every record of topic ``name`` carries: its producer's.
    Consumers dead-letter a record that claims another (see :func:`from_producer`)."""
    return source_of(TOPIC_BY_NAME[require_topic(name)].producer)


def from_producer(name: str, source: str) -> bool:
    """Whether ``source`` may announce on ``name``: its producer, or any service
    for a topic every service announces on."""
    if TOPIC_BY_NAME[require_topic(name)].producer == EVERY_SERVICE:
        return source in {source_of(service) for service in PRODUCERS}
    return source == producer_source(name)


def payload_schema(name: str) -> type[Schema]:
    """The published schema of ``name``'s payload."""
    schema = TOPIC_BY_NAME[require_topic(name)].schema
    if schema is None:
        raise ValueError(f"{name} carries records as they came, not a payload of its own")
    return schema


def require_topic(name: str) -> str:
    """Return ``name`` if it is in the catalogue, else fail loudly."""
    if name not in TOPIC_NAMES:
        raise ValueError(f"{name!r} is not in the topic catalogue (shared/topics.py)")
    return name

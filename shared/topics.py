"""The topic catalogue: every Kafka topic of the platform, who produces it and
what it means. Workers create exactly these topics at start (automatic topic
creation is off on the broker), so a misspelt topic fails loudly.

Payload schemas live next to the producing service's other schemas
(``services/<name>/schemas.py``); partner-visible topics are part of the
public contract, ``internal.`` topics are not.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICES = ("events", "invitations", "documents", "notifications")


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str
    description: str

    @property
    def partner_visible(self) -> bool:
        return not self.name.startswith(("internal.", "dlq."))


TOPICS: tuple[Topic, ...] = (
    Topic("event.created", "events", "A programme event was created (as a draft)."),
    Topic("event.updated", "events", "Fields of a programme event changed; lists `changed`."),
    Topic("event.published", "events", "A programme event was published to its audience."),
    Topic("event.cancelled", "events", "A programme event was cancelled."),
    Topic("event.completed", "events", "A programme event took place and was closed."),
    Topic("invitation.sent", "invitations", "An invitation was issued."),
    Topic("invitation.accepted", "invitations", "An invitee accepted (or was promoted)."),
    Topic("invitation.declined", "invitations", "An invitee declined."),
    Topic("invitation.waitlisted", "invitations", "An acceptance went to the waiting list."),
    Topic("invitation.revoked", "invitations", "An invitation was revoked."),
    Topic("invitation.expired", "invitations", "An invitation passed its deadline unanswered."),
    Topic("document.uploaded", "documents", "A document or a new version was uploaded."),
    Topic("document.submitted", "documents", "A document was submitted for review."),
    Topic("document.published", "documents", "A document was published."),
    Topic("document.withdrawn", "documents", "A document was withdrawn."),
    Topic("notification.sent", "notifications", "A message was delivered."),
    Topic("notification.failed", "notifications", "A message could not be delivered."),
    # Internal: personal data and credentials the notifications service needs.
    Topic(
        "internal.invitation.issued",
        "invitations",
        "An invitation was issued or resent: invitee address, name, language, RSVP link.",
    ),
    Topic(
        "internal.invitation.reminder_due",
        "invitations",
        "A pending invitee is due a reminder (one per invitee per schedule step).",
    ),
    Topic(
        "internal.document.approved",
        "documents",
        "A paper was approved: the event's accepted participants may now read it.",
    ),
    Topic(
        "internal.document.reminder_due",
        "documents",
        "An expected paper is missing near its due date; someone must be reminded.",
    ),
) + tuple(
    Topic(f"dlq.{service}", service, f"Records the {service} worker could not process.")
    for service in SERVICES
)

TOPIC_NAMES = frozenset(t.name for t in TOPICS)


def dead_letter_topic(group: str) -> str:
    """The dead-letter topic of a consumer group (one group per service)."""
    return f"dlq.{group}"


def require_topic(name: str) -> str:
    """Return ``name`` if it is in the catalogue, else fail loudly."""
    if name not in TOPIC_NAMES:
        raise ValueError(f"{name!r} is not in the topic catalogue (shared/topics.py)")
    return name

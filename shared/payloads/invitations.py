"""Payloads of the ``invitation.*`` and ``internal.invitation.*`` topics
(producer: the invitations service), and the vocabulary they carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marshmallow import Schema, fields, validate

from shared.payloads import PERSONAL, PayloadSchema

ROLES = ("government_official", "expert", "stakeholder", "observer", "speaker")
STATUSES = ("pending", "accepted", "declined", "waitlisted", "revoked", "expired")


@dataclass(frozen=True, kw_only=True)
class InvitationPayload:
    """An invitation's new status, as partners may know it."""

    invitation_id: str
    event_id: str
    country: str
    role: str
    status: str
    version: int
    occurred_at: datetime
    promoted: bool = False
    on_behalf: bool = False


class InvitationPayloadSchema(PayloadSchema):
    """Payload of every partner-visible ``invitation.*`` topic: no e-mail address,
    no name, no token."""

    model = InvitationPayload

    invitation_id = fields.String(required=True)
    event_id = fields.String(required=True)
    country = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    promoted = fields.Boolean(metadata={"description": "accepted from the waiting list"})
    on_behalf = fields.Boolean(metadata={"description": "the secretariat recorded the answer"})


@dataclass(frozen=True, kw_only=True)
class IssuedVenue:
    city: str | None = None
    country: str | None = None
    online: bool = False


class RsvpVenueSchema(Schema):
    model = IssuedVenue

    city = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    online = fields.Boolean()


@dataclass(frozen=True, kw_only=True)
class IssuedEvent:
    """The event as the invitation mail describes it (a snapshot at issue time)."""

    title: str | None = None
    format: str | None = None
    starts_on: str | None = None
    ends_on: str | None = None
    timezone: str | None = None
    venue: IssuedVenue | None = None


class IssuedEventSchema(Schema):
    model = IssuedEvent

    title = fields.String()
    format = fields.String()
    starts_on = fields.String()
    ends_on = fields.String()
    timezone = fields.String()
    venue = fields.Nested(RsvpVenueSchema, allow_none=True)


@dataclass(frozen=True, kw_only=True)
class InvitationIssuedPayload:
    """An invitation was issued or resent: who to mail, in which language, with which link."""

    invitation_id: str
    event_id: str
    version: int
    email: str
    name: str
    language: str
    country: str
    role: str
    rsvp_url: str
    resend: bool
    occurred_at: datetime
    organisation: str = ""
    registration_deadline: datetime | None = None
    event: IssuedEvent | None = None


class InvitationIssuedPayloadSchema(PayloadSchema):
    """``internal.invitation.issued``: what the notifications service needs to
    write the invitation mail (personal data and the RSVP link, all sealed)."""

    model = InvitationIssuedPayload

    invitation_id = fields.String(required=True)
    event_id = fields.String(required=True)
    version = fields.Integer(required=True)
    email = fields.String(required=True, metadata={PERSONAL: True})
    name = fields.String(required=True, metadata={PERSONAL: True})
    language = fields.String(required=True)
    country = fields.String(required=True)
    organisation = fields.String(metadata={PERSONAL: True})
    role = fields.String(required=True)
    rsvp_url = fields.String(required=True, metadata={PERSONAL: True})  # a credential
    registration_deadline = fields.AwareDateTime(allow_none=True)
    resend = fields.Boolean(required=True)
    event = fields.Nested(IssuedEventSchema)
    occurred_at = fields.AwareDateTime(required=True)


@dataclass(frozen=True, kw_only=True)
class ReminderDuePayload:
    """A pending invitee is due a reminder at schedule ``step``."""

    invitation_id: str
    event_id: str
    step: str
    version: int
    occurred_at: datetime
    registration_deadline: datetime | None = None


class ReminderDuePayloadSchema(PayloadSchema):
    """``internal.invitation.reminder_due``: a pending invitee is due a reminder."""

    model = ReminderDuePayload

    invitation_id = fields.String(required=True)
    event_id = fields.String(required=True)
    step = fields.String(required=True)
    registration_deadline = fields.AwareDateTime(allow_none=True)
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)

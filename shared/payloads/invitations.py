"""Payloads of the ``invitation.*`` and ``internal.invitation.*`` topics
(producer: the invitations service), and the vocabulary they carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marshmallow import Schema, fields, validate

from shared.payloads import PERSONAL, PayloadSchema

ROLES = ("government_official", "expert", "stakeholder", "observer", "speaker")
# How a participation came about: a personal invitation, an open registration
# (confirmed by double opt-in) or a national nomination (approved by the secretariat).
ORIGINS = ("invitation", "registration", "nomination")
STATUSES = ("pending", "accepted", "declined", "waitlisted", "revoked", "expired")
# Who registers for an open event (public conferences and thematic events).
STAKEHOLDER_TYPES = (
    "eu_institution",
    "international_organisation",
    "national_government",
    "regional_local_authority",
    "social_partner",
    "ngo",
    "academia",
    "other",
)


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
    origin: str = "invitation"


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
    origin = fields.String(
        validate=validate.OneOf(ORIGINS),
        metadata={"description": "how the participation came about; absent means invitation"},
    )


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
    origin: str = "invitation"
    status: str = "pending"


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
    origin = fields.String(
        validate=validate.OneOf(ORIGINS),
        metadata={"description": "how the participation came about; absent means invitation"},
    )
    status = fields.String(
        validate=validate.OneOf(STATUSES),
        metadata={
            "description": "the participation's status when issued: pending for an invitation, "
            "accepted or waitlisted for a confirmed registration (whose rsvp_url is then its "
            "cancellation link); absent means pending"
        },
    )


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


# --- open registration -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegistrationRequestedPayload:
    """Someone registered for an open event: mail them the confirmation link."""

    registration_id: str
    event_id: str
    version: int
    email: str
    name: str
    language: str
    confirm_url: str
    resend: bool
    expires_at: datetime
    occurred_at: datetime
    registration_deadline: datetime | None = None
    event: IssuedEvent | None = None


class RegistrationRequestedPayloadSchema(PayloadSchema):
    """``internal.registration.requested``: the double opt-in mail (address, name
    and the confirmation link travel sealed)."""

    model = RegistrationRequestedPayload

    registration_id = fields.String(required=True)
    event_id = fields.String(required=True)
    version = fields.Integer(required=True)
    email = fields.String(required=True, metadata={PERSONAL: True})
    name = fields.String(required=True, metadata={PERSONAL: True})
    language = fields.String(required=True)
    confirm_url = fields.String(required=True, metadata={PERSONAL: True})  # a credential
    resend = fields.Boolean(required=True, metadata={"description": "a repeated registration"})
    expires_at = fields.AwareDateTime(
        required=True, metadata={"description": "when the link dies unconfirmed"}
    )
    registration_deadline = fields.AwareDateTime(allow_none=True)
    event = fields.Nested(IssuedEventSchema)
    occurred_at = fields.AwareDateTime(required=True)


@dataclass(frozen=True, kw_only=True)
class RegistrationRejectedPayload:
    """The secretariat rejected a confirmed registration of a moderated event."""

    registration_id: str
    event_id: str
    version: int
    email: str
    name: str
    language: str
    reason: str
    occurred_at: datetime
    event: IssuedEvent | None = None


class RegistrationRejectedPayloadSchema(PayloadSchema):
    """``internal.registration.rejected``: the mail with the secretariat's reason
    (address, name and reason travel sealed)."""

    model = RegistrationRejectedPayload

    registration_id = fields.String(required=True)
    event_id = fields.String(required=True)
    version = fields.Integer(required=True)
    email = fields.String(required=True, metadata={PERSONAL: True})
    name = fields.String(required=True, metadata={PERSONAL: True})
    language = fields.String(required=True)
    reason = fields.String(required=True, metadata={PERSONAL: True})
    event = fields.Nested(IssuedEventSchema)
    occurred_at = fields.AwareDateTime(required=True)

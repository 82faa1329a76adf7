"""Payloads of the ``invitation.*`` and ``internal.invitation.*`` topics
(producer: the invitations service), and the vocabulary they carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marshmallow import Schema, fields, validate

from shared.payloads import PERSONAL, PayloadSchema
from shared.payloads.documents import Recipient, RecipientSchema

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


# --- national nominations ---------------------------------------------------------

NOMINATION_STATUSES = ("nominated", "approved", "rejected", "declined", "revoked", "expired")
DECISIONS = ("approved", "rejected")


@dataclass(frozen=True, kw_only=True)
class NominationRequestedPayload:
    """A country has places on a nomination event: its coordinators are asked to nominate."""

    event_id: str
    country: str
    places: int
    recipients: list[Recipient]
    nominate_url: str
    version: int
    occurred_at: datetime
    nomination_deadline: datetime | None = None
    event: IssuedEvent | None = None


class NominationRequestedPayloadSchema(PayloadSchema):
    """``internal.nomination.requested``: the mail asking a country's national
    coordinators (``recipients``, sealed) for nominations within ``places``."""

    model = NominationRequestedPayload

    event_id = fields.String(required=True)
    country = fields.String(required=True)
    places = fields.Integer(required=True)
    recipients = fields.List(
        fields.Nested(RecipientSchema), required=True, metadata={PERSONAL: True}
    )
    nominate_url = fields.String(
        required=True, metadata={"description": "the API coordinators nominate at (no credential)"}
    )
    nomination_deadline = fields.AwareDateTime(allow_none=True)
    event = fields.Nested(IssuedEventSchema)
    version = fields.Integer(required=True, metadata={"description": "the country's quota version"})
    occurred_at = fields.AwareDateTime(required=True)


@dataclass(frozen=True, kw_only=True)
class NominationChangedPayload:
    """The secretariat decided on a nomination, or a nominee's place came free."""

    nomination_id: str
    event_id: str
    country: str
    status: str
    nominee_name: str
    remaining: int
    recipients: list[Recipient]
    version: int
    occurred_at: datetime
    reason: str = ""
    moved_up_name: str = ""
    event: IssuedEvent | None = None


class NominationChangedPayloadSchema(PayloadSchema):
    """``internal.nomination.decided`` (``status`` approved or rejected, with the
    reason) and ``internal.nomination.place_freed`` (the nominee declined, was
    revoked or expired): what the country's coordinators are told, with the
    places it has left and the substitute who moved up, if one did. Names, the
    reason and the recipients travel sealed."""

    model = NominationChangedPayload

    nomination_id = fields.String(required=True)
    event_id = fields.String(required=True)
    country = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(NOMINATION_STATUSES))
    nominee_name = fields.String(required=True, metadata={PERSONAL: True})
    reason = fields.String(metadata={PERSONAL: True})
    moved_up_name = fields.String(
        metadata={PERSONAL: True, "description": "the substitute who took the place"}
    )
    remaining = fields.Integer(required=True, metadata={"description": "the country's places left"})
    recipients = fields.List(
        fields.Nested(RecipientSchema), required=True, metadata={PERSONAL: True}
    )
    event = fields.Nested(IssuedEventSchema)
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)


@dataclass(frozen=True, kw_only=True)
class UnusedPlaces:
    country: str
    places: int
    used: int
    unused: int


class UnusedPlacesSchema(Schema):
    model = UnusedPlaces

    country = fields.String(required=True)
    places = fields.Integer(required=True)
    used = fields.Integer(required=True)
    unused = fields.Integer(required=True)


@dataclass(frozen=True, kw_only=True)
class QuotaUnusedPayload:
    """The nomination deadline passed with places left: the secretariat is told."""

    event_id: str
    countries: list[UnusedPlaces]
    version: int
    occurred_at: datetime
    nomination_deadline: datetime | None = None
    event: IssuedEvent | None = None


class QuotaUnusedPayloadSchema(PayloadSchema):
    """``internal.nomination.quota_unused``: per country the places nobody was
    nominated for at the deadline (no personal data)."""

    model = QuotaUnusedPayload

    event_id = fields.String(required=True)
    countries = fields.List(fields.Nested(UnusedPlacesSchema), required=True)
    nomination_deadline = fields.AwareDateTime(allow_none=True)
    event = fields.Nested(IssuedEventSchema)
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)

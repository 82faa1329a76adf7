"""Payloads of the ``event.*``, ``proposal.*`` and ``internal.proposal.*``
topics (producer: the events service), and the vocabulary of programme events
and hosting proposals they carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from marshmallow import Schema, fields, validate

from shared.fields import CountryCode, LanguageCode, StrictBoolean, StrictInteger, TimeZone
from shared.payloads import PERSONAL, PayloadSchema
from shared.payloads.documents import Recipient, RecipientSchema

FORMATS = (
    "peer_review",
    "learning_exchange",
    "thematic_event",
    "dissemination_seminar",
    "good_practice_seminar",
    "conference",
)
VISIBILITIES = ("invitation_only", "public")
# How people come to an event: personal invitations (the default), open
# registration with double opt-in (public events only), or national nominations
# within per-country quotas.
REGISTRATIONS = ("invitation", "open", "nomination")
STATUSES = ("draft", "published", "cancelled", "completed")
MAX_FOLLOWS_UP = 20
SLUG = validate.Regexp(
    r"^[a-z][a-z0-9_]{1,39}$", error="Use a lower-case slug such as 'employment'."
)


@dataclass(frozen=True, kw_only=True)
class Venue:
    city: str | None = None
    country: str | None = None
    online: bool = False


class VenueSchema(Schema):
    model = Venue

    city = fields.String(validate=validate.Length(min=1, max=120), load_default=None)
    country = CountryCode(load_default=None)
    online = StrictBoolean(load_default=False)


class EventFieldsSchema(Schema):
    """The fields a secretariat sets on a programme event (the HTTP schemas of
    the events service extend it)."""

    title = fields.String(required=True, validate=validate.Length(min=3, max=200))
    summary = fields.String(load_default="", validate=validate.Length(max=5000))
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    programme = fields.String(required=True, validate=SLUG, metadata={"example": "employment"})
    host_country = CountryCode(required=True)
    guest_countries = fields.List(CountryCode(), load_default=list, metadata={"uniqueItems": True})
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    timezone = TimeZone(load_default="Europe/Brussels")
    venue = fields.Nested(VenueSchema, load_default=None, allow_none=True)
    languages = fields.List(
        LanguageCode(), load_default=lambda: ["en"], validate=validate.Length(min=1, max=24)
    )
    capacity = StrictInteger(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=100_000)
    )
    registration_deadline = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        error_messages={"invalid_awareness": "Give a time zone offset, e.g. 2027-02-01T12:00:00Z."},
    )
    visibility = fields.String(
        load_default="invitation_only", validate=validate.OneOf(VISIBILITIES)
    )
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    registration = fields.String(
        load_default="invitation",
        validate=validate.OneOf(REGISTRATIONS),
        metadata={"description": "invitation (default), open (public events only) or nomination"},
    )
    registration_moderated = StrictBoolean(
        load_default=False,
        metadata={"description": "open registration: confirmed registrations await approval"},
    )
    nomination_deadline = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "nomination events: when unused places are reported"},
        error_messages={"invalid_awareness": "Give a time zone offset, e.g. 2027-02-01T12:00:00Z."},
    )
    follows_up = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=MAX_FOLLOWS_UP),
        metadata={
            "description": "Ids of earlier events this one continues (a learning exchange or "
            "dissemination seminar following up a peer review)."
        },
    )


@dataclass(frozen=True, kw_only=True)
class EventPayload:
    """A programme event as every ``event.*`` record carries it."""

    event_id: str
    status: str
    version: int
    occurred_at: datetime
    title: str
    format: str
    programme: str
    host_country: str
    starts_on: date
    ends_on: date
    summary: str = ""
    guest_countries: list[str] = field(default_factory=list)
    timezone: str = "Europe/Brussels"
    venue: Venue | None = None
    languages: list[str] = field(default_factory=lambda: ["en"])
    capacity: int | None = None
    registration_deadline: datetime | None = None
    visibility: str = "invitation_only"
    tags: list[str] = field(default_factory=list)
    registration: str = "invitation"
    registration_moderated: bool = False
    nomination_deadline: datetime | None = None
    follows_up: list[str] = field(default_factory=list)
    changed: list[str] | None = None
    reason: str | None = None


class EventPayloadSchema(EventFieldsSchema, PayloadSchema):
    """Payload of every ``event.*`` topic: the event as partners may know it.

    ``event.updated`` adds ``changed`` (the field names); ``event.cancelled``
    adds ``reason``. No personal data.
    """

    model = EventPayload

    event_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    changed = fields.List(fields.String())
    reason = fields.String()


# --- hosting proposals (``proposal.*``, ``internal.proposal.decided``) ---------

# A country's proposal to host a peer learning event: submitted by its national
# coordinator, then accepted (a draft event is made from it) or declined.
PROPOSAL_STATUSES = ("submitted", "accepted", "declined")


@dataclass(frozen=True, kw_only=True)
class Period:
    from_: date
    to: date


class PeriodSchema(Schema):
    """When the country would like to hold the event (the first and last possible day)."""

    model = Period

    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)


class ProposalFieldsSchema(Schema):
    """What a coordinator proposes (the events service's HTTP schemas extend it)."""

    title = fields.String(required=True, validate=validate.Length(min=3, max=200))
    policy_summary = fields.String(
        required=True,
        validate=validate.Length(min=1, max=5000),
        metadata={"description": "the practice or emerging policy the country would present"},
    )
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    preferred_period = fields.Nested(PeriodSchema, required=True)
    languages = fields.List(
        LanguageCode(), load_default=lambda: ["en"], validate=validate.Length(min=1, max=24)
    )
    themes = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)),
        load_default=list,
        validate=validate.Length(max=20),
    )


@dataclass(frozen=True, kw_only=True)
class ProposalPayload:
    """A hosting proposal as partners may know it: no contact, no reason."""

    proposal_id: str
    country: str
    status: str
    title: str
    policy_summary: str
    format: str
    preferred_period: Period
    version: int
    occurred_at: datetime
    languages: list[str] = field(default_factory=lambda: ["en"])
    themes: list[str] = field(default_factory=list)
    event_id: str | None = None


class ProposalPayloadSchema(ProposalFieldsSchema, PayloadSchema):
    """Payload of every ``proposal.*`` topic. ``proposal.accepted`` adds
    ``event_id``, the draft event made from it. No personal data: the contact
    and the secretariat's reason go to the coordinator only."""

    model = ProposalPayload

    proposal_id = fields.String(required=True)
    country = CountryCode(required=True, metadata={"description": "the country offering to host"})
    status = fields.String(required=True, validate=validate.OneOf(PROPOSAL_STATUSES))
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    event_id = fields.String(
        allow_none=True, metadata={"description": "accepted: the draft event made from it"}
    )


@dataclass(frozen=True, kw_only=True)
class ProposalDecidedPayload:
    """A proposal was accepted or declined: whom to tell, in which language."""

    proposal_id: str
    country: str
    status: str
    title: str
    recipients: list[Recipient]
    version: int
    occurred_at: datetime
    event_id: str | None = None
    reason: str = ""


class ProposalDecidedPayloadSchema(PayloadSchema):
    """``internal.proposal.decided``: what the notifications service needs to
    tell the proposing coordinator (and the proposal's contact) of the decision;
    the recipients and the reason travel sealed."""

    model = ProposalDecidedPayload

    proposal_id = fields.String(required=True)
    country = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(PROPOSAL_STATUSES[1:]))
    title = fields.String(required=True)
    event_id = fields.String(allow_none=True)
    reason = fields.String(metadata={PERSONAL: True})
    recipients = fields.List(
        fields.Nested(RecipientSchema), required=True, metadata={PERSONAL: True}
    )
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)

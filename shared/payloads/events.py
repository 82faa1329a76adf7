"""Payloads of the ``event.*`` topics (producer: the events service), and the
vocabulary of programme events they carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from marshmallow import Schema, fields, validate

from shared.fields import CountryCode, LanguageCode, StrictBoolean, StrictInteger, TimeZone
from shared.payloads import PayloadSchema

FORMATS = (
    "peer_review",
    "learning_exchange",
    "thematic_event",
    "dissemination_seminar",
    "good_practice_seminar",
    "conference",
)
VISIBILITIES = ("invitation_only", "public")
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

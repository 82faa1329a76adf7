"""marshmallow schemas of the events service: HTTP bodies, query arguments and
the payloads of the topics it produces (``event.*``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.events.domain import FORMATS, STATUSES, VISIBILITIES, validate_event
from shared.fields import CountryCode, LanguageCode, TimeZone
from shared.http import ListArgs, PageSchema

SLUG = validate.Regexp(
    r"^[a-z][a-z0-9_]{1,39}$", error="Use a lower-case slug such as 'employment'."
)


class VenueSchema(Schema):
    city = fields.String(validate=validate.Length(min=1, max=120), load_default=None)
    country = CountryCode(load_default=None)
    online = fields.Boolean(load_default=False)


class EventFieldsSchema(Schema):
    """The fields a secretariat sets on a programme event."""

    title = fields.String(required=True, validate=validate.Length(min=3, max=200))
    summary = fields.String(load_default="", validate=validate.Length(max=5000))
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    programme = fields.String(required=True, validate=SLUG, metadata={"example": "employment"})
    host_country = CountryCode(required=True)
    guest_countries = fields.List(CountryCode(), load_default=list)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    timezone = TimeZone(load_default="Europe/Brussels")
    venue = fields.Nested(VenueSchema, load_default=None, allow_none=True)
    languages = fields.List(
        LanguageCode(), load_default=lambda: ["en"], validate=validate.Length(min=1, max=24)
    )
    capacity = fields.Integer(
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


class EventCreateSchema(EventFieldsSchema):
    @validates_schema
    def _cross_field_rules(self, data: dict[str, Any], **_: Any) -> None:
        errors = validate_event(data)
        if errors:
            raise ValidationError(errors)


class EventPatchSchema(EventFieldsSchema):
    """Any subset of the fields (load it with ``partial=True``); the rules are
    checked on the merged event."""


class CancelSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class ParticipationSchema(Schema):
    accepted = fields.Integer()
    waitlisted = fields.Integer()


class EventSchema(EventFieldsSchema):
    """A programme event as the API shows it."""

    id = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    published_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    cancellation_reason = fields.String(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    participation = fields.Nested(ParticipationSchema)


class EventListSchema(PageSchema):
    items = fields.List(fields.Nested(EventSchema))


class EventQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    format = fields.String(validate=validate.OneOf(FORMATS))
    country = CountryCode(metadata={"description": "Host or guest country"})
    programme = fields.String(validate=SLUG)
    from_ = fields.Date(data_key="from", metadata={"description": "Events ending on or after"})
    to = fields.Date(metadata={"description": "Events starting on or before"})
    q = fields.String(validate=validate.Length(min=1, max=200))


# --- topic payloads -------------------------------------------------------


class EventPayloadSchema(EventFieldsSchema):
    """Payload of every ``event.*`` topic: the event as partners may know it.

    ``event.updated`` adds ``changed`` (the field names); ``event.cancelled``
    adds ``reason``. No personal data.
    """

    event_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    changed = fields.List(fields.String())
    reason = fields.String()


TOPIC_PAYLOADS: dict[str, type[Schema]] = {
    topic: EventPayloadSchema
    for topic in (
        "event.created",
        "event.updated",
        "event.published",
        "event.cancelled",
        "event.completed",
    )
}

"""marshmallow schemas of the events service's HTTP bodies and query arguments.

The payload of the topics it produces (``event.*``) is published in
:mod:`shared.payloads.events`, with the event fields both share."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.events.domain import validate_event
from shared.fields import CountryCode
from shared.http import ListArgs, PageSchema, sort_argument
from shared.payloads.events import FORMATS, SLUG, STATUSES, EventFieldsSchema

# The list's sort names and the stored fields they sort by.
SORTABLE = {
    "starts_on": "starts_on",
    "ends_on": "ends_on",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "title": "title",
}


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
    sort = sort_argument(SORTABLE, default="starts_on")

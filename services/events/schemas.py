"""marshmallow schemas of the events service's HTTP bodies and query arguments.

The payloads of the topics it produces (``event.*``, ``proposal.*``) are
published in :mod:`shared.payloads.events`, with the event and proposal fields
both share."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.events.domain import validate_event, validate_proposal
from shared.fields import CountryCode, LanguageCode, PersonName
from shared.http import ListArgs, PageSchema, sort_argument
from shared.payloads.events import (
    FORMATS,
    PROPOSAL_STATUSES,
    SLUG,
    STATUSES,
    EventFieldsSchema,
    PeriodSchema,
    ProposalFieldsSchema,
)

# The list's sort names and the stored fields they sort by.
SORTABLE = {
    "starts_on": "starts_on",
    "ends_on": "ends_on",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "title": "title",
}
PROPOSAL_SORTABLE = {"submitted_at": "submitted_at", "updated_at": "updated_at", "title": "title"}


# A text with something to read: a character that is not white space. Spelled
# out as the characters Python's str.isspace() names, not as ``\S``, which the
# JSON Schema dialects a client validates with (ECMA-262) and Python read
# differently (U+0085 is white space to Python only, U+FEFF to ECMA only).
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
VISIBLE = f"^[{_SPACE}]*[^{_SPACE}]"


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
    proposal_id = fields.String(
        allow_none=True, metadata={"description": "the hosting proposal it was made from"}
    )


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


# --- hosting proposals -----------------------------------------------------


class ContactSchema(Schema):
    """Who at the proposing country's administration to talk to; told of the decision too."""

    name = PersonName(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True)
    phone = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\+?[0-9 ()./-]{4,40}$", error="Give a telephone number."),
    )
    organisation = fields.String(load_default="", validate=validate.Length(max=200))


class ProposalCreateSchema(ProposalFieldsSchema):
    country = CountryCode(
        load_default=None,
        metadata={"description": "the coordinator's own country (the token's); any other is 403"},
    )
    contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)
    language = LanguageCode(
        load_default="en", metadata={"description": "the language the decision is written in"}
    )

    @validates_schema
    def _cross_field_rules(self, data: dict[str, Any], **_: Any) -> None:
        errors = validate_proposal(data)
        if errors:
            raise ValidationError(errors)


class SubmitterSchema(Schema):
    sub = fields.String()
    email = fields.String(allow_none=True)


class ProposalSchema(ProposalFieldsSchema):
    """A hosting proposal as the API shows it (to the secretariat and the
    coordinators of its country)."""

    id = fields.String()
    country = fields.String()
    status = fields.String(validate=validate.OneOf(PROPOSAL_STATUSES))
    version = fields.Integer()
    contact = fields.Nested(ContactSchema, allow_none=True)
    language = fields.String()
    submitted_at = fields.AwareDateTime()
    submitted_by = fields.Nested(SubmitterSchema)
    updated_at = fields.AwareDateTime()
    decided_at = fields.AwareDateTime(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    event_id = fields.String(
        allow_none=True, metadata={"description": "accepted: the draft event made from it"}
    )
    preferred_period = fields.Nested(PeriodSchema)


class ProposalListSchema(PageSchema):
    items = fields.List(fields.Nested(ProposalSchema))


class ProposalQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(PROPOSAL_STATUSES))
    country = CountryCode(metadata={"description": "The proposing country"})
    sort = sort_argument(PROPOSAL_SORTABLE, default="-submitted_at")


class ProposalAcceptSchema(EventFieldsSchema):
    """What the secretariat sets on the draft at acceptance (load it with
    ``partial=True``): ``programme`` at least, which a proposal does not name,
    and any other event field but the host, which is the proposing country."""

    class Meta:
        exclude = ("host_country",)


class ProposalDeclineSchema(Schema):
    reason = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=2000),
            validate.Regexp(VISIBLE, error="Say why the proposal is declined."),
        ],
        metadata={"description": "sent to the coordinator"},
    )

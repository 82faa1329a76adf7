"""marshmallow schemas of the invitations service's HTTP bodies and query arguments.

The payloads of the topics it produces (``invitation.*`` for partners,
``internal.invitation.*`` for the notifications service) are published in
:mod:`shared.payloads.invitations`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.invitations.domain import RESPONSES
from shared.fields import CountryCode, LanguageCode, PersonName
from shared.http import ListArgs, PageSchema
from shared.payloads.invitations import ROLES, STATUSES, RsvpVenueSchema


class InviteeSchema(Schema):
    """One invitee (a JSON object or a CSV row)."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = PersonName(required=True, validate=validate.Length(min=1, max=200))
    country = CountryCode(required=True)
    organisation = fields.String(load_default="", validate=validate.Length(max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    language = LanguageCode(load_default="en")


class InviteManySchema(Schema):
    """``{"invitees": [...]}``; a single invitee object is also accepted."""

    invitees = fields.List(fields.Dict(), required=True)


class InviteResultSchema(Schema):
    created = fields.List(fields.Dict())
    skipped = fields.List(fields.Dict())
    rejected = fields.List(fields.Dict())


class InvitationSchema(Schema):
    """An invitation as the management API shows it."""

    id = fields.String()
    event_id = fields.String()
    email = fields.String()
    name = fields.String()
    country = fields.String()
    organisation = fields.String()
    role = fields.String()
    language = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    version = fields.Integer()
    promoted = fields.Boolean()
    on_behalf = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    answered_at = fields.AwareDateTime(allow_none=True)
    waitlisted_at = fields.AwareDateTime(allow_none=True)
    sent_count = fields.Integer()


class InvitationListSchema(PageSchema):
    items = fields.List(fields.Nested(InvitationSchema))
    counts = fields.Dict(metadata={"description": "Per status and per country (secretariat)"})


class InvitationQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    country = CountryCode()
    role = fields.String(validate=validate.OneOf(ROLES))


class MyInvitationsQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))


class AnswerSchema(Schema):
    response = fields.String(required=True, validate=validate.OneOf(RESPONSES))


class HistoryEntrySchema(Schema):
    at = fields.AwareDateTime()
    by = fields.String(allow_none=True)
    action = fields.String()
    from_status = fields.String(data_key="from", allow_none=True)
    to_status = fields.String(data_key="to", allow_none=True)
    on_behalf = fields.Boolean()
    version = fields.Integer()


class HistorySchema(Schema):
    invitation_id = fields.String()
    items = fields.List(fields.Nested(HistoryEntrySchema))


class RsvpEventSchema(Schema):
    id = fields.String()
    title = fields.String()
    format = fields.String()
    status = fields.String()
    starts_on = fields.String()
    ends_on = fields.String()
    timezone = fields.String()
    venue = fields.Nested(RsvpVenueSchema, allow_none=True)
    registration_deadline = fields.AwareDateTime(allow_none=True)


class RsvpSchema(Schema):
    """What the holder of an RSVP link sees."""

    id = fields.String()
    status = fields.String()
    name = fields.String()
    language = fields.String()
    role = fields.String()
    registration_deadline = fields.AwareDateTime(allow_none=True)
    can_answer = fields.Boolean()
    event = fields.Nested(RsvpEventSchema)

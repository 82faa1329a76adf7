"""marshmallow schemas of the invitations service's HTTP bodies and query arguments.

The payloads of the topics it produces (``invitation.*`` for partners,
``internal.invitation.*`` for the notifications service) are published in
:mod:`shared.payloads.invitations`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.invitations.domain import REGISTRATION_STATUSES, RESPONSES
from shared.fields import CountryCode, LanguageCode, PersonName
from shared.http import ListArgs, PageSchema
from shared.payloads.invitations import (
    ORIGINS,
    ROLES,
    STAKEHOLDER_TYPES,
    STATUSES,
    RsvpVenueSchema,
)


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
    origin = fields.String(
        dump_default="invitation", metadata={"description": "invitation, registration, nomination"}
    )
    registration_id = fields.String(metadata={"description": "origin registration: its id"})
    stakeholder_type = fields.String(metadata={"description": "origin registration"})
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
    origin = fields.String(validate=validate.OneOf(ORIGINS))


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
    reason = fields.String()


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


# --- open registration ------------------------------------------------------------


class ConsentSchema(Schema):
    privacy_notice = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "the version of the privacy notice the person read"},
    )
    accepted = fields.Boolean(
        required=True,
        validate=validate.Equal(True, error="Registration needs the privacy notice accepted."),
    )


class RegistrationBodySchema(Schema):
    """An anonymous registration for an open event."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = PersonName(required=True, validate=validate.Length(min=1, max=200))
    organisation = fields.String(load_default="", validate=validate.Length(max=200))
    stakeholder_type = fields.String(required=True, validate=validate.OneOf(STAKEHOLDER_TYPES))
    country = CountryCode(required=True)
    language = LanguageCode(load_default="en")
    consent = fields.Nested(ConsentSchema, required=True)
    website = fields.String(
        load_default="",
        metadata={
            "description": "leave empty: a form hides this field from people, and a "
            "registration that fills it is refused (a honeypot for bots)"
        },
    )


class RegistrationReceivedSchema(Schema):
    """The same answer whatever happened: nobody learns whether an address registered."""

    status = fields.String(metadata={"example": "received"})
    detail = fields.String()


class StoredConsentSchema(ConsentSchema):
    at = fields.AwareDateTime()


class RegistrationSchema(Schema):
    """A registration as the secretariat sees it."""

    id = fields.String()
    event_id = fields.String()
    email = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    organisation = fields.String(allow_none=True)
    stakeholder_type = fields.String()
    country = fields.String()
    language = fields.String()
    consent = fields.Nested(StoredConsentSchema, allow_none=True)
    status = fields.String(validate=validate.OneOf(REGISTRATION_STATUSES))
    version = fields.Integer()
    sent_count = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime(metadata={"description": "unconfirmed: when it expires"})
    confirmed_at = fields.AwareDateTime(allow_none=True)
    invitation_id = fields.String(
        allow_none=True, metadata={"description": "its participation record, once it has one"}
    )
    reason = fields.String(metadata={"description": "rejected: why"})
    history = fields.List(fields.Nested(HistoryEntrySchema))


class RegistrationListSchema(PageSchema):
    items = fields.List(fields.Nested(RegistrationSchema))
    counts = fields.Dict(metadata={"description": "by_status, by_stakeholder_type and by_country"})


class RegistrationQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(REGISTRATION_STATUSES))
    stakeholder_type = fields.String(validate=validate.OneOf(STAKEHOLDER_TYPES))
    country = CountryCode()


class RejectSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RegistrationLinkSchema(Schema):
    """What the holder of a confirmation or cancellation link sees."""

    id = fields.String()
    status = fields.String()
    name = fields.String()
    language = fields.String()
    registration_deadline = fields.AwareDateTime(allow_none=True)
    can_confirm = fields.Boolean()
    can_cancel = fields.Boolean()
    event = fields.Nested(RsvpEventSchema)

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


# --- erasure requests (the right to be forgotten) ------------------------------------


class ErasureRequestSchema(Schema):
    """``POST /v1/erasure-requests``: whose data to erase. ``accounts`` are the
    person's account ids (their tokens' ``sub``), for what they did signed in
    (papers uploaded, answers recorded); ``reason`` must not name the person."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    reason = fields.String(load_default="", validate=validate.Length(max=500))
    accounts = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        load_default=list,
        validate=validate.Length(max=20),
    )


class ErasureServiceSchema(Schema):
    status = fields.String(validate=validate.OneOf(("pending", "overdue", "completed")))
    completed_at = fields.AwareDateTime(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    retained = fields.List(fields.String())


class CertificateServiceSchema(Schema):
    service = fields.String()
    completed_at = fields.AwareDateTime(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    retained = fields.List(fields.String())


class CertificateSchema(Schema):
    """The proof of an erasure: request, times, every service's counts and what it kept."""

    request_id = fields.String()
    subject = fields.String(metadata={"description": "The keyed hash of the address"})
    requested_at = fields.AwareDateTime()
    completed_at = fields.AwareDateTime(allow_none=True)
    services = fields.List(fields.Nested(CertificateServiceSchema))
    total = fields.Integer()


class ErasureSchema(Schema):
    """An erasure request (or a retention run) in the ledger; never an address."""

    id = fields.String()
    kind = fields.String(validate=validate.OneOf(("request", "retention")))
    status = fields.String(validate=validate.OneOf(("in_progress", "overdue", "completed")))
    reason = fields.String()
    event_id = fields.String(allow_none=True)
    requested_at = fields.AwareDateTime()
    completed_at = fields.AwareDateTime(allow_none=True)
    replayed_at = fields.AwareDateTime(allow_none=True)
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ErasureServiceSchema))
    overdue = fields.List(fields.String())
    certificate = fields.Nested(CertificateSchema, allow_none=True)
    earlier_runs = fields.List(fields.Nested(CertificateSchema))


class ErasureListSchema(PageSchema):
    items = fields.List(fields.Nested(ErasureSchema))


class ErasureQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(("in_progress", "completed")))
    kind = fields.String(validate=validate.OneOf(("request", "retention")))

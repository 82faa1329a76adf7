"""marshmallow schemas of the invitations service's HTTP bodies and query arguments.

The payloads of the topics it produces (``invitation.*`` for partners,
``internal.invitation.*`` for the notifications service) are published in
:mod:`shared.payloads.invitations`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.invitations.domain import (
    MAX_INVITEES,
    MAX_PLACES,
    NOMINATION_STATUSES,
    REGISTRATION_STATUSES,
    RESPONSES,
)
from shared.fields import CountryCode, LanguageCode, PersonName, StrictBoolean, StrictInteger
from shared.http import ListArgs, PageSchema, sort_argument
from shared.payloads.invitations import (
    ORIGINS,
    ROLES,
    STAKEHOLDER_TYPES,
    STATUSES,
    RsvpVenueSchema,
)

# The list's sort names and the stored fields they sort by.
SORTABLE = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "status": "status",
    "country": "country",
    "name": "name",
    "email": "email",
}
REGISTRATION_SORTABLE = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "status": "status",
    "country": "country",
    "stakeholder_type": "stakeholder_type",
    "name": "name",
}
NOMINATION_SORTABLE = {
    "created_at": "created_at",
    "status": "status",
    "country": "country",
    "name": "name",
}


CSV_DESCRIPTION = (
    "UTF-8 CSV: a header row naming the columns (email, name, country and role "
    "required; organisation and language optional), then one invitee per row"
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
    """``{"invitees": [...]}`` (for the OpenAPI document: ``api`` reads the body
    itself, as one invitee, a list, this, or CSV, and checks each row alone)."""

    invitees = fields.List(
        fields.Nested(InviteeSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_INVITEES),
    )


class CsvUploadSchema(Schema):
    """The multipart form of a CSV upload (for the OpenAPI document)."""

    file = fields.Raw(
        required=True,
        metadata={"type": "string", "format": "binary", "description": CSV_DESCRIPTION},
    )


class InviteQuerySchema(Schema):
    partial = fields.Boolean(
        truthy={"true"},
        falsy={"false"},
        load_default=False,
        metadata={
            "description": "true: create the valid rows and report the rejected ones; "
            "false: any rejected row refuses the whole request (422)"
        },
    )


class CreatedSchema(Schema):
    row = fields.Integer(metadata={"description": "Its index in the list, or its CSV line"})
    id = fields.String()
    email = fields.String()
    status = fields.String()


class SkippedSchema(Schema):
    row = fields.Integer()
    email = fields.String()
    invitation_id = fields.String(metadata={"description": "The invitation there already is"})
    reason = fields.String(metadata={"description": "already invited, or listed twice"})


class RejectedSchema(Schema):
    row = fields.Integer()
    email = fields.Raw(metadata={"description": "The row's e-mail, as given"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field name (or _row) -> why it is not valid"},
    )


class InviteResultSchema(Schema):
    created = fields.List(fields.Nested(CreatedSchema))
    skipped = fields.List(fields.Nested(SkippedSchema))
    rejected = fields.List(fields.Nested(RejectedSchema))


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
    sort = sort_argument(SORTABLE, default="created_at")


class MyInvitationsQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    sort = sort_argument(SORTABLE, default="-created_at")


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
    accepted = StrictBoolean(
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
            "registration that fills it is refused (a honeypot for bots)",
            # documented, not validated: the refusal names no field (a bot learns nothing)
            "maxLength": 0,
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
    sort = sort_argument(REGISTRATION_SORTABLE, default="created_at")


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


# --- national nominations ---------------------------------------------------------


class CoordinatorBodySchema(Schema):
    """A national contact point, as the secretariat registers them."""

    country = CountryCode(required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = PersonName(required=True, validate=validate.Length(min=1, max=200))
    language = LanguageCode(load_default="en")


class CoordinatorSchema(CoordinatorBodySchema):
    id = fields.String()
    created_at = fields.AwareDateTime()


class CoordinatorListSchema(PageSchema):
    items = fields.List(fields.Nested(CoordinatorSchema))


class CoordinatorQuerySchema(ListArgs):
    country = CountryCode()


class PlacesSchema(Schema):
    places = StrictInteger(required=True, validate=validate.Range(min=0, max=MAX_PLACES))


# A quotas body: country code -> its places (a map, which no Schema class is).
QUOTAS_BODY = fields.Dict(keys=CountryCode(), values=fields.Nested(PlacesSchema), required=True)


class CountryQuotaSchema(Schema):
    places = fields.Integer()
    used = fields.Integer(metadata={"description": "nominations holding a place"})
    remaining = fields.Integer()
    coordinators = fields.Integer(metadata={"description": "registered coordinators to mail"})


class QuotasSchema(Schema):
    event_id = fields.String()
    countries = fields.Dict(keys=fields.String(), values=fields.Nested(CountryQuotaSchema))


class NomineeSchema(InviteeSchema):
    """An invitee of a nomination; ``country`` defaults to the coordinator's."""

    country = CountryCode(load_default=None)
    substitute = StrictBoolean(
        load_default=False, metadata={"description": "takes no place until one frees up"}
    )


class NominationSchema(Schema):
    id = fields.String()
    event_id = fields.String()
    country = fields.String()
    email = fields.String()
    name = fields.String()
    organisation = fields.String()
    role = fields.String()
    language = fields.String()
    substitute = fields.Boolean()
    status = fields.String(validate=validate.OneOf(NOMINATION_STATUSES))
    version = fields.Integer()
    nominated_by = fields.String()
    on_behalf = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    invitation_id = fields.String(
        allow_none=True, metadata={"description": "approved: its invitation"}
    )
    reason = fields.String(metadata={"description": "rejected: why"})
    history = fields.List(fields.Nested(HistoryEntrySchema))


class NominationListSchema(PageSchema):
    items = fields.List(fields.Nested(NominationSchema))
    quota = fields.Nested(
        CountryQuotaSchema, metadata={"description": "a coordinator: their country's places"}
    )
    counts = fields.Dict(
        metadata={"description": "the secretariat: per country places, used, remaining, by_status"}
    )


class NominationQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(NOMINATION_STATUSES))
    country = CountryCode()
    sort = sort_argument(NOMINATION_SORTABLE, default="created_at")


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

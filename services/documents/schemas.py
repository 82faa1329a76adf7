"""marshmallow schemas of the documents service: the multipart form fields,
HTTP bodies and query arguments.

The payloads of the topics it produces (``document.*``,
``internal.document.approved``, ``internal.document.reminder_due``) are
published in :mod:`shared.payloads.documents`."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from services.documents.domain import CONTENT_TYPES
from shared.fields import CountryCode, LanguageCode, PersonName, StrictInteger
from shared.http import ListArgs, PageSchema, sort_argument
from shared.payloads.documents import KINDS, STATUSES, RecipientSchema

# The list's sort names and the stored fields they sort by.
SORTABLE = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "title": "title",
    "kind": "kind",
}


class DocumentFormSchema(Schema):
    """The text fields of ``POST /v1/events/{event_id}/documents`` (multipart, with ``file``)."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    title = fields.String(required=True, validate=validate.Length(min=3, max=300))
    language = LanguageCode(required=True)
    # A form field has no null: a paper of no country leaves the field out.
    country = CountryCode()
    summary = fields.String(load_default="", validate=validate.Length(max=5000))

    @post_load
    def _no_country(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data.setdefault("country", None)
        return data


class UploadFormSchema(DocumentFormSchema):
    """For the OpenAPI document only: the form with its file part."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class VersionFormSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class VersionSchema(Schema):
    version = fields.Integer()
    sha256 = fields.String()
    size = fields.Integer()
    content_type = fields.String(validate=validate.OneOf(CONTENT_TYPES))
    filename = fields.String()
    uploaded_by = fields.String()
    uploaded_at = fields.AwareDateTime()


class HistoryEntrySchema(Schema):
    action = fields.String()
    by = fields.String(allow_none=True)
    at = fields.AwareDateTime()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    version = fields.Integer()


class DocumentSchema(Schema):
    id = fields.String()
    event_id = fields.String()
    kind = fields.String()
    title = fields.String()
    language = fields.String()
    country = fields.String(allow_none=True)
    summary = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    version = fields.Integer(metadata={"description": "The current file version"})
    revision = fields.Integer(metadata={"description": "Increases with every change"})
    sha256 = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    filename = fields.String()
    uploaded_by = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    versions = fields.List(fields.Nested(VersionSchema))


class DocumentListSchema(PageSchema):
    items = fields.List(fields.Nested(DocumentSchema))


class HistorySchema(Schema):
    items = fields.List(fields.Nested(HistoryEntrySchema))


class DocumentQuerySchema(ListArgs):
    event_id = fields.String(validate=validate.Length(min=1, max=64))
    kind = fields.String(validate=validate.OneOf(KINDS))
    country = CountryCode()
    language = LanguageCode()
    status = fields.String(validate=validate.OneOf(STATUSES))
    q = fields.String(validate=validate.Length(min=1, max=200))
    sort = sort_argument(SORTABLE, default="-created_at")


class ContentQuerySchema(Schema):
    version = fields.Integer(validate=validate.Range(min=1))
    disposition = fields.String(
        load_default="attachment", validate=validate.OneOf(("attachment", "inline"))
    )


class DueDateRecipientSchema(RecipientSchema):
    """A reminder's recipient as the API takes it: the published payload stays
    lenient (a consumer never dead-letters a reminder over a name), the API
    refuses names no person has."""

    name = PersonName(load_default="", validate=validate.Length(max=200))


class DueDateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    country = CountryCode(load_default=None, allow_none=True)
    due_on = fields.Date(required=True)
    remind_days_before = fields.List(
        StrictInteger(validate=validate.Range(min=0, max=365)),
        load_default=lambda: [7, 1],
        validate=validate.Length(min=1, max=10),
    )
    recipients = fields.List(
        fields.Nested(DueDateRecipientSchema), load_default=list, validate=validate.Length(max=50)
    )


class DueDatesSchema(Schema):
    items = fields.List(
        fields.Nested(DueDateSchema), required=True, validate=validate.Length(max=100)
    )

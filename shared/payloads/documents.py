"""Payloads of the ``document.*`` and ``internal.document.*`` topics
(producer: the documents service), and the vocabulary they carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from marshmallow import Schema, fields, validate

from shared.fields import LanguageCode
from shared.payloads import PERSONAL, PayloadSchema

KINDS = (
    "host_country_paper",
    "comments_paper",
    "discussion_paper",
    "background_paper",
    "executive_summary",
    "synthesis_report",
    "agenda",
    "presentation",
    "minutes",
)
STATUSES = ("draft", "submitted", "approved", "published", "withdrawn")


@dataclass(frozen=True, kw_only=True)
class DocumentPayload:
    """A paper's new state: no personal data."""

    document_id: str
    event_id: str
    kind: str
    title: str
    language: str
    country: str | None
    version: int
    sha256: str
    status: str
    revision: int
    occurred_at: datetime


class DocumentPayloadSchema(PayloadSchema):
    """Payload of ``document.*`` and ``internal.document.approved``: no personal data."""

    model = DocumentPayload

    document_id = fields.String(required=True)
    event_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    title = fields.String(required=True)
    language = fields.String(required=True)
    country = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True, metadata={"description": "The file version"})
    sha256 = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    revision = fields.Integer(required=True, metadata={"description": "Orders read models"})
    occurred_at = fields.AwareDateTime(required=True)


@dataclass(frozen=True, kw_only=True)
class Recipient:
    email: str
    name: str = ""
    language: str = "en"


class RecipientSchema(Schema):
    """Someone a paper reminder goes to (the documents service's due dates name them)."""

    model = Recipient

    email = fields.Email(required=True)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    language = LanguageCode(load_default="en")


@dataclass(frozen=True, kw_only=True)
class DocumentReminderPayload:
    """An expected paper is missing near its due date."""

    event_id: str
    kind: str
    due_on: date
    recipients: list[Recipient]
    title: str
    reminder_id: str
    occurred_at: datetime
    version: int


class ReminderPayloadSchema(PayloadSchema):
    """Payload of ``internal.document.reminder_due`` (for the notifications service);
    the recipients travel sealed."""

    model = DocumentReminderPayload

    event_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    due_on = fields.Date(required=True)
    recipients = fields.List(
        fields.Nested(RecipientSchema), required=True, metadata={PERSONAL: True}
    )
    title = fields.String(required=True)
    reminder_id = fields.String(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    version = fields.Integer(required=True)

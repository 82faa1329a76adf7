"""Payloads of the ``notification.*`` topics (producer: the notifications service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marshmallow import fields, validate

from shared.payloads import PayloadSchema

CHANNELS = ("email", "webhook")


@dataclass(frozen=True, kw_only=True)
class NotificationPayload:
    """The outcome of one message: no addresses."""

    notification_id: str
    cause_id: str
    channel: str
    template: str
    attempts: int
    occurred_at: datetime
    version: int
    event_id: str | None = None


class NotificationPayloadSchema(PayloadSchema):
    """Payload of ``notification.sent`` and ``notification.failed``: no addresses."""

    model = NotificationPayload

    notification_id = fields.String(
        required=True,
        metadata={
            "description": "random id of the mail (a UUID) or webhook delivery (msg_...), "
            "the same in every record about it; derived from no address"
        },
    )
    cause_id = fields.String(required=True, metadata={"description": "ce_id of the cause"})
    event_id = fields.String(allow_none=True)
    channel = fields.String(required=True, validate=validate.OneOf(list(CHANNELS)))
    template = fields.String(required=True)
    attempts = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    version = fields.Integer(required=True)

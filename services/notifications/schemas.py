"""marshmallow schemas of the notifications service's HTTP bodies and query arguments.

The payload of the topics it produces (``notification.*``) is published in
:mod:`shared.payloads.notifications`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.http import ListArgs, PageSchema
from shared.topics import TOPICS

PARTNER_TOPICS = sorted(t.name for t in TOPICS if t.partner_visible)


# --- feed -----------------------------------------------------------------------


class FeedItemSchema(Schema):
    id = fields.String(attribute="_id")
    kind = fields.String(metadata={"description": "The mail template or notice kind"})
    title = fields.String()
    event_id = fields.String(allow_none=True)
    link = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    read_at = fields.AwareDateTime(allow_none=True)
    read = fields.Function(lambda item: item.get("read_at") is not None)


class FeedSchema(Schema):
    items = fields.List(fields.Nested(FeedItemSchema))
    total = fields.Integer()
    unread = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class FeedQuerySchema(ListArgs):
    pass


# --- subscriptions ----------------------------------------------------------------


class SubscriptionCreateSchema(Schema):
    # What a webhook target may be is the SSRF check's to say (domain.check_target:
    # http(s), a host that resolves to public addresses, an allowed port), one
    # refusal for all: unsafe-target.
    url = fields.String(
        required=True,
        validate=validate.Length(max=2000),
        metadata={
            "format": "uri",
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
            "example": "https://partner.example.org/mlp-webhooks",
            "description": "http(s); its host must resolve to public addresses only, "
            "on an allowed port (422 unsafe-target otherwise)",
        },
    )
    topics = fields.List(
        fields.String(validate=validate.OneOf(PARTNER_TOPICS)),
        required=True,
        validate=validate.Length(min=1, max=len(PARTNER_TOPICS)),
    )
    description = fields.String(load_default="", validate=validate.Length(max=500))


class SubscriptionSchema(Schema):
    id = fields.String(attribute="_id")
    url = fields.String()
    topics = fields.List(fields.String())
    description = fields.String()
    status = fields.String(metadata={"description": "active, disabled (kept failing)"})
    consecutive_failures = fields.Integer()
    created_at = fields.AwareDateTime()
    disabled_at = fields.AwareDateTime(allow_none=True)


class SubscriptionCreatedSchema(SubscriptionSchema):
    secret = fields.String(metadata={"description": "whsec_<base64>: shown only in this response"})


class SubscriptionListSchema(PageSchema):
    items = fields.List(fields.Nested(SubscriptionSchema))


class AttemptSchema(Schema):
    at = fields.AwareDateTime()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Float()
    error = fields.String(allow_none=True)


class DeliverySchema(Schema):
    id = fields.String(attribute="_id", metadata={"description": "= the webhook-id header"})
    subscription_id = fields.String()
    ce_id = fields.String()
    topic = fields.String()
    status = fields.String(metadata={"description": "pending, succeeded, dead, cancelled"})
    attempts = fields.Integer()
    status_code = fields.Integer(attribute="last_status_code", allow_none=True)
    latency_ms = fields.Float(attribute="last_latency_ms", allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    delivered_at = fields.AwareDateTime(allow_none=True)
    log = fields.List(fields.Nested(AttemptSchema))


class DeliveryListSchema(PageSchema):
    items = fields.List(fields.Nested(DeliverySchema))


class DeliveryQuerySchema(ListArgs):
    status = fields.String(validate=validate.OneOf(["pending", "succeeded", "dead", "cancelled"]))


class UnsubscribedSchema(Schema):
    unsubscribed = fields.Boolean()
    detail = fields.String()

"""Payloads of the ``internal.person.*`` topics: the erasure saga (the right to
be forgotten). The invitations service, which keeps the ledger of erasure
requests, announces a request; every service answers it for itself.

A person is named by ``subject``, the keyed hash of their normalised address
(:func:`shared.erasure.subject_key`): without the key (``MLP_ERASURE_SALT``)
nobody can test an address against it. The address itself travels only sealed,
and only on the first run of a request: a replay after a restore carries the
keyed hashes alone, and each service finds its records by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from marshmallow import fields, validate

from shared.payloads import PERSONAL, PayloadSchema

REASONS = ("request", "replay", "retention")


@dataclass(frozen=True, kw_only=True)
class ErasureRequestedPayload:
    """Erase what you hold about the person ``subject`` names."""

    request_id: str
    subject: str
    version: int
    occurred_at: datetime
    email: str = ""
    accounts: list[str] = field(default_factory=list)
    account_keys: list[str] = field(default_factory=list)
    invitation_ids: list[str] = field(default_factory=list)
    replay: bool = False


class ErasureRequestedPayloadSchema(PayloadSchema):
    """``internal.person.erasure_requested``: the keyed hashes that find the
    person's records, the ids of their invitations (records keyed by invitation
    hold no address), and on a first run the address and account ids, sealed."""

    model = ErasureRequestedPayload

    request_id = fields.String(required=True)
    subject = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$"),
        metadata={"description": "HMAC-SHA256 of the sha256 of the normalised address"},
    )
    email = fields.String(
        load_default="",
        metadata={PERSONAL: True, "description": "The address; empty on a replay"},
    )
    accounts = fields.List(
        fields.String(),
        load_default=list,
        metadata={PERSONAL: True, "description": "The person's account ids (token `sub`)"},
    )
    account_keys = fields.List(
        fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$")),
        load_default=list,
        metadata={"description": "The keyed hashes of the account ids"},
    )
    invitation_ids = fields.List(fields.String(), load_default=list)
    replay = fields.Boolean(
        load_default=False, metadata={"description": "A re-run after a database restore"}
    )
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)


@dataclass(frozen=True, kw_only=True)
class ErasureCompletedPayload:
    """One service's answer: what it erased, per collection, and what it kept."""

    request_id: str
    service: str
    reason: str
    counts: dict[str, int]
    retained: list[str]
    version: int
    occurred_at: datetime
    event_id: str | None = None


class ErasureCompletedPayloadSchema(PayloadSchema):
    """``internal.person.erasure_completed``: counts and field names only, never a
    value. ``reason`` ``retention`` answers the retention job of an event that
    ended long ago (``event_id``; its ``request_id`` is ``retention:<event id>``)."""

    model = ErasureCompletedPayload

    request_id = fields.String(required=True)
    service = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(validate=validate.Range(min=0)),
        required=True,
        metadata={"description": "Rows erased or pseudonymised, per collection"},
    )
    retained = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "What the service keeps (collection.field: why)"},
    )
    event_id = fields.String(allow_none=True)
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)

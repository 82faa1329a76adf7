"""Payloads of the ``survey.*`` and ``internal.survey.*`` topics (producer: the
surveys service), and the vocabulary they carry.

The partner-visible topics carry aggregate counts only: never a single answer,
never a person. The one internal topic carries a participant's personal survey
link (a credential) to the notifications service, which knows the address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from marshmallow import fields, validate

from shared.payloads import PayloadSchema

STATUSES = ("draft", "open", "closed")


@dataclass(frozen=True, kw_only=True)
class SurveyPayload:
    """An event's survey: its status and aggregate counts."""

    event_id: str
    status: str
    invited: int
    responses: int
    published: bool
    version: int
    occurred_at: datetime
    opened_at: datetime | None = None
    closes_at: datetime | None = None
    closed_at: datetime | None = None
    response_rate: float | None = None
    agree_shares: dict[str, float] = field(default_factory=dict)


class SurveyPayloadSchema(PayloadSchema):
    """Payload of ``survey.opened``, ``survey.closed`` and ``survey.results_published``:
    counts and, once published, the share who agree per agreement statement."""

    model = SurveyPayload

    event_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    invited = fields.Integer(
        required=True, metadata={"description": "Participants given a survey link"}
    )
    responses = fields.Integer(required=True, metadata={"description": "Surveys submitted"})
    published = fields.Boolean(required=True, metadata={"description": "Results are public"})
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    opened_at = fields.AwareDateTime(allow_none=True)
    closes_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    response_rate = fields.Float(
        allow_none=True, metadata={"description": "responses / invited, 0 to 1"}
    )
    agree_shares = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={
            "description": "Per agreement statement (question id): the share who agree or "
            "strongly agree; only in survey.results_published"
        },
    )


@dataclass(frozen=True, kw_only=True)
class SurveyLinkPayload:
    """A participant's personal one-time survey link, for the notifications service."""

    invitation_id: str
    event_id: str
    survey_url: str
    reminder: bool
    version: int
    occurred_at: datetime
    closes_at: datetime | None = None


class SurveyLinkPayloadSchema(PayloadSchema):
    """``internal.survey.link_issued``: mail this link to the invitation's contact.

    ``reminder`` is true for the one reminder; its link is a fresh one and the
    earlier link no longer works (only hashes of links are stored, so the
    first link cannot be sent again)."""

    model = SurveyLinkPayload

    invitation_id = fields.String(required=True)
    event_id = fields.String(required=True)
    survey_url = fields.String(
        required=True,
        metadata={"personal": True, "description": "The one-time link: a credential"},
    )
    reminder = fields.Boolean(required=True)
    closes_at = fields.AwareDateTime(allow_none=True)
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)

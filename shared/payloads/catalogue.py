"""Payloads of the ``practice.*`` topics (producer: the catalogue service), and
the vocabulary of the practices database they carry.

Every record carries the whole public practice at its ``version`` (the highest
wins), so a partner's copy, or the catalogue's own public view, is complete from
any one record. ``practice.transfer_recorded`` adds the new ``transfer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from marshmallow import Schema, fields, validate

from shared.fields import CountryCode, LanguageCode
from shared.payloads import PayloadSchema

# The Labour Market Policy database's intervention categories, plus the programme's own.
POLICY_AREAS = (
    "labour_market_services",
    "training",
    "employment_incentives",
    "sheltered_supported_employment",
    "direct_job_creation",
    "start_up_incentives",
    "out_of_work_income_maintenance",
    "early_retirement",
    "gender_equality",
    "integration",
    "social_inclusion",
    "other",
)
TARGET_GROUPS = (
    "young_people",
    "long_term_unemployed",
    "older_workers",
    "women",
    "migrants_refugees",
    "persons_with_disabilities",
    "low_skilled",
    "jobseekers",
    "employers",
    "victims_of_violence",
    "parents",
    "all",
)
IMPLEMENTATION = ("ongoing", "ended")
EVIDENCE = ("none", "monitoring", "evaluation", "impact_evaluation")
PUBLICATIONS = ("draft", "published", "withdrawn")
STAGES = ("considering", "piloting", "adopted", "dropped")
MIN_YEAR, MAX_YEAR = 1900, 2100
TEXT = validate.Length(max=5000)
YEAR = validate.Range(min=MIN_YEAR, max=MAX_YEAR)
REF = fields.String(validate=validate.Length(min=1, max=64))


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """What a country did with the practice after learning of it."""

    transfer_id: str
    country: str
    stage: str
    year: int
    event_id: str | None = None
    note: str = ""
    recorded_at: datetime | None = None


class TransferFieldsSchema(Schema):
    """The fields the secretariat gives when it records a transfer."""

    country = CountryCode(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    year = fields.Integer(required=True, validate=YEAR)
    event_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The event the country learnt of the practice at"},
    )
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class TransferSchema(TransferFieldsSchema):
    model = Transfer

    transfer_id = fields.String(required=True)
    recorded_at = fields.AwareDateTime(load_default=None, allow_none=True)


class PracticeFieldsSchema(Schema):
    """The fields the secretariat sets on a practice (the HTTP schemas extend it)."""

    title = fields.String(required=True, validate=validate.Length(min=3, max=200))
    country = CountryCode(required=True)
    summary = fields.String(load_default="", validate=TEXT)
    objectives = fields.String(load_default="", validate=TEXT)
    main_activities = fields.String(load_default="", validate=TEXT)
    outcomes = fields.String(load_default="", validate=TEXT)
    lessons_learned = fields.String(load_default="", validate=TEXT)
    policy_area = fields.String(required=True, validate=validate.OneOf(POLICY_AREAS))
    target_groups = fields.List(
        fields.String(validate=validate.OneOf(TARGET_GROUPS)),
        load_default=list,
        validate=validate.Length(max=len(TARGET_GROUPS)),
        metadata={"uniqueItems": True},
    )
    start_year = fields.Integer(load_default=None, allow_none=True, validate=YEAR)
    end_year = fields.Integer(load_default=None, allow_none=True, validate=YEAR)
    status = fields.String(
        load_default="ongoing",
        validate=validate.OneOf(IMPLEMENTATION),
        metadata={"description": "Whether the practice still runs (not its publication)"},
    )
    evidence = fields.String(load_default="none", validate=validate.OneOf(EVIDENCE))
    organisations = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        load_default=list,
        validate=validate.Length(max=30),
        metadata={"uniqueItems": True},
    )
    languages = fields.List(
        LanguageCode(),
        load_default=list,
        validate=validate.Length(max=24),
        metadata={"uniqueItems": True},
    )
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"uniqueItems": True},
    )
    events = fields.List(
        REF,
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"uniqueItems": True, "description": "Ids of the events where it was presented"},
    )
    papers = fields.List(
        REF,
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"uniqueItems": True, "description": "Ids of published papers about it"},
    )


@dataclass(frozen=True, kw_only=True)
class PracticePayload:
    """A published practice as every ``practice.*`` record carries it."""

    practice_id: str
    publication: str
    version: int
    occurred_at: datetime
    title: str
    country: str
    policy_area: str
    summary: str = ""
    objectives: str = ""
    main_activities: str = ""
    outcomes: str = ""
    lessons_learned: str = ""
    target_groups: list[str] = field(default_factory=list)
    start_year: int | None = None
    end_year: int | None = None
    status: str = "ongoing"
    evidence: str = "none"
    organisations: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    transfer: Transfer | None = None


class PracticePayloadSchema(PracticeFieldsSchema, PayloadSchema):
    """Payload of every ``practice.*`` topic: the practice as partners may know it
    (``publication`` is its place in the catalogue, ``status`` whether it still
    runs); ``practice.transfer_recorded`` adds the new ``transfer``. No personal data."""

    model = PracticePayload

    practice_id = fields.String(required=True)
    publication = fields.String(required=True, validate=validate.OneOf(PUBLICATIONS))
    version = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    transfers = fields.List(fields.Nested(TransferSchema), load_default=list)
    transfer = fields.Nested(TransferSchema, load_default=None, allow_none=True)

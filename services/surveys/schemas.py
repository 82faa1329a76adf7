"""marshmallow schemas of the surveys service's HTTP bodies and query arguments.

The payloads of the topics it produces (``survey.*``,
``internal.survey.link_issued``) are published in :mod:`shared.payloads.surveys`."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.surveys.domain import MAX_EVENT_QUESTIONS, MAX_OPTIONS, TYPES
from shared.fields import CountryCode, StrictBoolean
from shared.payloads.events import FORMATS, SLUG
from shared.payloads.surveys import STATUSES

ID = validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$", error="Use a lower-case id such as 'venue'.")


class TextsSchema(Schema):
    """A text in English and, where given, French and German."""

    en = fields.String(required=True, validate=validate.Length(min=1, max=500))
    fr = fields.String(validate=validate.Length(min=1, max=500))
    de = fields.String(validate=validate.Length(min=1, max=500))


class OptionInSchema(Schema):
    id = fields.String(required=True, validate=ID)
    text = fields.Nested(TextsSchema, required=True)


class EventQuestionSchema(Schema):
    """One event-specific question; ``text`` short answers hold up to 500 characters."""

    id = fields.String(required=True, validate=ID)
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    text = fields.Nested(TextsSchema, required=True)
    options = fields.List(fields.Nested(OptionInSchema), validate=validate.Length(max=MAX_OPTIONS))
    required = StrictBoolean(load_default=False)

    @validates_schema
    def _options_of_choices(self, data: dict, **_: object) -> None:
        if data["type"] in ("choice", "multi_choice") and not data.get("options"):
            raise ValidationError("A choice question needs its options.", "options")


class EventQuestionsSchema(Schema):
    questions = fields.List(
        fields.Nested(EventQuestionSchema),
        required=True,
        validate=validate.Length(max=MAX_EVENT_QUESTIONS),
    )


class OptionSchema(Schema):
    id = fields.Raw(metadata={"description": "An option id, or a scale point 1 to 5"})
    text = fields.String()


class QuestionSchema(Schema):
    """A question as participants and readers see it, in one language."""

    id = fields.String()
    type = fields.String(validate=validate.OneOf(TYPES))
    text = fields.String()
    options = fields.List(fields.Nested(OptionSchema))
    required = fields.Boolean()
    max_length = fields.Integer()


class QuestionListSchema(Schema):
    language = fields.String()
    items = fields.List(fields.Nested(QuestionSchema))


class LanguageArgs(Schema):
    lang = fields.String(
        validate=validate.OneOf(["en", "fr", "de"]),
        metadata={"description": "en, fr or de; default: the Accept-Language header, else en"},
    )


class SurveySchema(Schema):
    """An event's survey as the secretariat sees it."""

    event_id = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    invited = fields.Integer()
    responses = fields.Integer()
    published = fields.Boolean()
    version = fields.Integer()
    opened_at = fields.AwareDateTime(allow_none=True)
    closes_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    questions = fields.List(fields.Nested(QuestionSchema))


class AnswerSchema(Schema):
    question_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    value = fields.Raw(
        required=True,
        allow_none=True,
        metadata={"description": "1-5, an option id, a list of option ids, or a text"},
    )


class SubmissionSchema(Schema):
    answers = fields.List(
        fields.Nested(AnswerSchema), required=True, validate=validate.Length(max=100)
    )


class SurveyEventSchema(Schema):
    id = fields.String()
    title = fields.String()
    format = fields.String()
    starts_on = fields.String()
    ends_on = fields.String()
    host_country = fields.String()


class LinkViewSchema(Schema):
    """What the holder of a survey link sees: the questions in their language."""

    event = fields.Nested(SurveyEventSchema)
    status = fields.String()
    language = fields.String()
    closes_at = fields.AwareDateTime(allow_none=True)
    answered = fields.Boolean()
    can_answer = fields.Boolean()
    questions = fields.List(fields.Nested(QuestionSchema))


class ResultsSchema(Schema):
    """Results: ``responses``, ``invited``, ``response_rate``, per question its
    ``distribution`` (``agree_share`` for agreement items, ``mean`` for ratings,
    ``answers`` for texts) and ``breakdowns`` by ``country`` and ``role``, where a
    group below the minimum size is ``{"suppressed": true}``."""

    event_id = fields.String()
    title = fields.String()
    status = fields.String()
    published = fields.Boolean()
    language = fields.String()
    min_group = fields.Integer()
    responses = fields.Integer()
    invited = fields.Integer()
    response_rate = fields.Float(allow_none=True)
    questions = fields.List(fields.Dict())
    breakdowns = fields.Dict()
    events = fields.List(fields.Dict(), metadata={"description": "Programme results: the events"})
    filters = fields.Dict()


class ProgrammeQuerySchema(LanguageArgs):
    programme = fields.String(validate=SLUG)
    format = fields.String(validate=validate.OneOf(FORMATS))
    year = fields.Integer(validate=validate.Range(min=1990, max=2100))
    host_country = CountryCode()

"""marshmallow schemas of the catalogue service's HTTP bodies and query arguments.

The payload of the topics it produces (``practice.*``) is published in
:mod:`shared.payloads.catalogue`, with the practice fields both share."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.catalogue.domain import FACETS, TYPES, validate_practice
from shared.fields import CountryCode
from shared.http import ListArgs, PageSchema, sort_argument
from shared.payloads.catalogue import (
    EVIDENCE,
    IMPLEMENTATION,
    MAX_YEAR,
    MIN_YEAR,
    POLICY_AREAS,
    PUBLICATIONS,
    TARGET_GROUPS,
    PracticeFieldsSchema,
    TransferFieldsSchema,
    TransferSchema,
)
from shared.payloads.events import FORMATS

YEAR = validate.Range(min=MIN_YEAR, max=MAX_YEAR)


class PracticeCreateSchema(PracticeFieldsSchema):
    @validates_schema
    def _cross_field_rules(self, data: dict[str, Any], **_: Any) -> None:
        errors = validate_practice(data)
        if errors:
            raise ValidationError(errors)


class PracticePatchSchema(PracticeFieldsSchema):
    """Any subset of the fields (load it with ``partial=True``); the rules are
    checked on the merged practice."""


class TransferCreateSchema(TransferFieldsSchema):
    """``POST /v1/practices/{id}/transfers``: country X considering / piloting /
    adopted / dropped the practice in a year, after an event, with a note."""


class PracticeSchema(PracticeFieldsSchema):
    """A practice as the API shows it."""

    id = fields.String()
    publication = fields.String(validate=validate.OneOf(PUBLICATIONS))
    version = fields.Integer()
    transfers = fields.List(fields.Nested(TransferSchema))
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    published_at = fields.AwareDateTime(allow_none=True)
    withdrawn_at = fields.AwareDateTime(allow_none=True)


class PracticeListSchema(PageSchema):
    items = fields.List(fields.Nested(PracticeSchema))


class SimilarPracticeSchema(PracticeSchema):
    shared_tags = fields.Integer(metadata={"description": "Tags it shares with the practice"})


class SimilarListSchema(Schema):
    items = fields.List(fields.Nested(SimilarPracticeSchema))


# The practice list's sort names and the stored fields they sort by.
SORTABLE = {
    "title": "title",
    "start_year": "start_year",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


class PracticeQuerySchema(ListArgs):
    country = CountryCode()
    policy_area = fields.String(validate=validate.OneOf(POLICY_AREAS))
    target_group = fields.String(validate=validate.OneOf(TARGET_GROUPS))
    evidence = fields.String(validate=validate.OneOf(EVIDENCE))
    status = fields.String(validate=validate.OneOf(IMPLEMENTATION))
    publication = fields.String(
        validate=validate.OneOf(PUBLICATIONS),
        metadata={"description": "The secretariat only; others see published practices"},
    )
    year = fields.Integer(validate=YEAR, metadata={"description": "Running in that year"})
    tag = fields.String(validate=validate.Length(min=1, max=50))
    event_id = fields.String(validate=validate.Length(min=1, max=64))
    q = fields.String(validate=validate.Length(min=1, max=200))
    sort = sort_argument(SORTABLE, default="-updated_at")


class SearchQuerySchema(ListArgs):
    q = fields.String(validate=validate.Length(min=1, max=200))
    country = CountryCode()
    policy_area = fields.String(validate=validate.OneOf(POLICY_AREAS))
    format = fields.String(validate=validate.OneOf(FORMATS))
    year = fields.Integer(validate=YEAR)
    type = fields.String(validate=validate.OneOf(TYPES))
    sort = fields.String(
        load_default=None,
        validate=validate.OneOf(["relevance", "-date", "date"]),
        metadata={"description": "relevance (the default with q), -date (without), or date"},
    )


class SearchItemSchema(Schema):
    type = fields.String(validate=validate.OneOf(TYPES))
    id = fields.String()
    title = fields.String()
    summary = fields.String()
    countries = fields.List(fields.String())
    policy_areas = fields.List(fields.String())
    formats = fields.List(fields.String())
    year = fields.Integer(allow_none=True)
    date = fields.String()
    score = fields.Float(metadata={"description": "Relevance: summed weights of the matched terms"})
    url = fields.String(metadata={"description": "The public web page"})
    event_id = fields.String(metadata={"description": "A paper's event"})
    kind = fields.String(metadata={"description": "A paper's kind"})
    content_url = fields.String(metadata={"description": "A paper's download"})


class SearchResultSchema(PageSchema):
    items = fields.List(fields.Nested(SearchItemSchema))
    facets = fields.Dict(
        keys=fields.String(validate=validate.OneOf(FACETS)),
        values=fields.Dict(keys=fields.String(), values=fields.Integer()),
        metadata={"description": "Per facet, the count of results with each value"},
    )

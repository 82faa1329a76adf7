"""The published payload schemas: one marshmallow schema per topic, and the
typed object a consumer receives.

Producers dump their payloads through these schemas (``services/<name>``
imports the ones it announces); consumers never parse a payload by hand: the
consumer runner loads each record through its topic's schema (named in the
catalogue, :mod:`shared.topics`) and hands the handler the schema's
``model``, a frozen dataclass. A payload that does not load is dead-lettered
with the schema's error.

Fields a consumer does not know (a producer's newer optional fields) are
dropped before loading, so adding an optional field never breaks a consumer.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass
from datetime import date, datetime
from typing import Any, ClassVar

from marshmallow import Schema, fields

PERSONAL = "personal"
"""Field metadata key: ``metadata={"personal": True}`` marks personal data or a
secret (an address, a name, an RSVP link). Only top-level fields of ``internal.``
topics' payloads may carry it; they travel sealed (:mod:`shared.sealing`)."""


class PayloadSchema(Schema):
    """A published payload: ``model`` is the dataclass consumers receive."""

    model: ClassVar[type]


def personal_fields(schema: Schema | type[Schema]) -> tuple[str, ...]:
    """The wire names of ``schema``'s top-level fields marked personal."""
    instance = schema() if isinstance(schema, type) else schema
    return tuple(
        field.data_key or name
        for name, field in instance.fields.items()
        if field.metadata.get(PERSONAL)
    )


def _known(schema: Schema, data: Any) -> Any:
    """``data`` without the keys ``schema`` does not declare, at every level."""
    if not isinstance(data, dict):
        return data
    known: dict[str, Any] = {}
    for name, field in schema.fields.items():
        key = field.data_key or name
        if key not in data:
            continue
        value = data[key]
        if isinstance(field, fields.Nested) and isinstance(value, dict):
            value = _known(field.schema, value)
        elif (
            isinstance(field, fields.List)
            and isinstance(field.inner, fields.Nested)
            and isinstance(value, list)
        ):
            value = [_known(field.inner.schema, item) for item in value]
        known[key] = value
    return known


def _build(schema: Schema, loaded: dict[str, Any]) -> Any:
    """The schema's model from loaded values, nested models included."""
    values = dict(loaded)
    for name, field in schema.fields.items():
        value = values.get(name)
        if value is None:
            continue
        if isinstance(field, fields.Nested) and hasattr(field.schema, "model"):
            values[name] = _build(field.schema, value)
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            inner = field.inner.schema
            if hasattr(inner, "model"):
                values[name] = [_build(inner, item) for item in value]
    return type(schema).model(**values)  # type: ignore[attr-defined]


def load_payload(schema: Schema, data: Any) -> Any:
    """Validate ``data`` against ``schema`` and return its model.

    Raises ``marshmallow.ValidationError`` when the payload breaks the schema.
    """
    return _build(schema, schema.load(_known(schema, data)))


def model_fields(model: type) -> set[str]:
    """The field names of a payload model (tests compare them with the schema's)."""
    return {f.name for f in dataclass_fields(model)}


def plain(value: Any) -> Any:
    """A model (or a value in one) as MongoDB stores it: nested models become
    documents, dates ISO strings (BSON has no date without a time)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclass_fields(value)}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value

"""The CloudEvents 1.0 envelope in Kafka binary mode, through the SDK's binding.

The record value is the JSON payload, attributes are ``ce_*`` headers, the key
is the programme event id. A W3C ``traceparent`` header travels beside the
``ce_traceparent`` extension so tracing tools that know only W3C see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from shared.context import TraceContext, child_traceparent

CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class KafkaRecord:
    """What goes on the wire: topic, key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Envelope:
    """A received CloudEvent, with where it came from on Kafka."""

    id: str
    type: str
    source: str
    subject: str | None
    time: datetime | None
    key: str | None
    data: dict[str, Any]
    correlation_id: str | None
    causation_id: str | None
    traceparent: str | None

    def trace(self) -> TraceContext:
        """Context for the work this record causes: same correlation, caused by it."""
        return TraceContext(
            correlation_id=self.correlation_id or self.id,
            causation_id=self.id,
            traceparent=child_traceparent(self.traceparent),
        )


def encode(
    *,
    ce_id: str,
    topic: str,
    source: str,
    subject: str,
    key: str,
    time: datetime,
    data: dict[str, Any],
    trace: TraceContext,
    headers: Sequence[tuple[str, bytes]] = (),
) -> KafkaRecord:
    """Build the binary-mode Kafka record of one event; ``headers`` are added
    beside the CloudEvents ones (``mlp_key_id`` of a sealed record)."""
    event = CloudEvent(
        attributes={
            "id": ce_id,
            "type": topic,
            "source": source,
            "subject": subject,
            "time": time,
            "datacontenttype": CONTENT_TYPE,
            "correlationid": trace.correlation_id,
            "causationid": trace.causation_id,
            "traceparent": trace.traceparent,
            "partitionkey": key,
        },
        data=data,
    )
    message = ce_kafka.to_binary_event(event)
    wire_headers = [
        (name, value) for name, value in message.headers.items() if name != "ce_partitionkey"
    ]
    wire_headers.append(("traceparent", trace.traceparent.encode()))
    wire_headers.extend(headers)
    return KafkaRecord(topic=topic, key=key.encode(), value=message.value, headers=wire_headers)


class MalformedRecord(ValueError):
    """A record that is not a CloudEvent this platform can read: a poison message."""


def decode(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> Envelope:
    """Parse a binary-mode record; raise :class:`MalformedRecord` when it is not one."""
    header_map = {name: raw for name, raw in headers if name.lower() != "traceparent"}
    if "ce_id" not in header_map or "ce_specversion" not in header_map:
        raise MalformedRecord("not a CloudEvents binary-mode record (no ce_id/ce_specversion)")
    try:
        event = ce_kafka.from_binary_event(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b"")
        )
    except Exception as exc:  # the SDK raises several types for bad input
        raise MalformedRecord(f"unreadable CloudEvent: {exc}") from exc
    data = event.get_data()
    if not isinstance(data, dict):
        raise MalformedRecord("the payload is not a JSON object")
    return Envelope(
        id=event.get_id(),
        type=event.get_type(),
        source=event.get_source(),
        subject=event.get_subject(),
        time=event.get_time(),
        key=key.decode() if key else None,
        data=data,
        correlation_id=event.get_extension("correlationid"),
        causation_id=event.get_extension("causationid"),
        traceparent=event.get_extension("traceparent"),
    )

"""One RSVP is one trace: the HTTP request to invitations, its outbox record's
publish to Kafka, the notifications consumer handling it and the SMTP send of
the confirmation, spans of the real relay, consumer and mail sender against
the real broker, MongoDB and SMTP sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from devkit.auth import auth
from shared.bus import make_producer
from shared.config import Settings
from shared.outbox import OutboxRelay
from shared.tracing import configure_tracing, shutdown_tracing
from tests.fixtures.invitations import invitee, issued_links, token_of
from tests.helpers import wait_for

SEC = auth("secretariat")


@pytest.fixture(autouse=True)
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, in memory, before the apps and workers start (autouse runs first)."""
    exporter = InMemorySpanExporter()
    assert configure_tracing(Settings(service="tests"), exporter=exporter)
    yield exporter
    shutdown_tracing()


def _one(spans: list[ReadableSpan], kind: SpanKind, name: str) -> ReadableSpan:
    found = [s for s in spans if s.kind == kind and s.name == name]
    assert len(found) == 1, [(s.kind, s.name) for s in spans if s.kind != SpanKind.CLIENT]
    return found[0]


def test_one_rsvp_is_one_trace_from_the_request_to_the_smtp_send(
    spans,
    invitations_client,
    invitations_app,
    invitations_settings,
    invitations_published_event,
    notifications_worker,
    notifications_producer,
    smtp_sink,
):
    ev = invitations_published_event()
    event_id = ev["event_id"]
    notifications_producer.send("event.published", ev, key=event_id)
    person = invitee(1)
    invited = invitations_client.post(
        f"/v1/events/{event_id}/invitations", json={"invitees": [person]}, headers=SEC
    )
    assert invited.status_code == 201, invited.json
    [url] = issued_links(invitations_app, event_id).values()
    relay = OutboxRelay(
        invitations_app.extensions["mlp"].db, lambda: make_producer(invitations_settings)
    )
    email = "official.1@gov.example.eu"

    def mails() -> list:
        return [m for m in smtp_sink.messages() if email in (m.get("To") or "").lower()]

    relay.drain()
    wait_for(lambda: len(mails()) == 1)

    answered = invitations_client.post(f"/v1/rsvp/{token_of(url)}", json={"response": "accept"})
    assert answered.status_code == 200, answered.json
    relay.drain()
    relay._reset_producer()
    wait_for(lambda: len(mails()) == 2)
    smtp_span = wait_for(
        lambda: [
            s
            for s in spans.get_finished_spans()
            if s.name == "smtp send" and s.attributes["mlp.mail.template"] == "accepted"
        ]
    )[0]

    finished = list(spans.get_finished_spans())
    request = _one(finished, SpanKind.SERVER, "POST /v1/rsvp/<token>")
    publish = _one(finished, SpanKind.PRODUCER, "invitation.accepted publish")
    process = _one(finished, SpanKind.CONSUMER, "invitation.accepted process")
    trace_id = request.context.trace_id
    assert {s.context.trace_id for s in (publish, process, smtp_span)} == {trace_id}
    # Parent links: request -> publish -> process -> send.
    assert publish.parent.span_id == request.context.span_id
    assert process.parent.span_id == publish.context.span_id
    assert smtp_span.parent.span_id == process.context.span_id
    assert smtp_span.kind == SpanKind.CLIENT
    # MongoDB commands of the request and of the handler are in the same trace.
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    mongo_parents = {
        s.parent.span_id for s in in_trace if s.attributes.get("db.system") == "mongodb"
    }
    assert {request.context.span_id, process.context.span_id} <= mongo_parents
    # No address in any span of the trace.
    assert all(email not in str(dict(s.attributes or {})) for s in in_trace)

"""Tracing is off without ``MLP_OTLP_ENDPOINT`` (no-op spans, nothing sent) and
exports over OTLP/HTTP with it; the logs name the span's trace."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN, SpanKind

from shared import tracing
from shared.config import Env, Settings, common_settings
from shared.context import fresh_context, set_context
from shared.logs import _ContextFilter


class _Collector(ThreadingHTTPServer):
    """A stand-in OpenTelemetry collector: remembers the paths POSTed to it."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, int]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                collector.posts.append((self.path, self.headers["Content-Type"], len(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def collector() -> Iterator[_Collector]:
    server = _Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def tracing_off_afterwards() -> Iterator[None]:
    yield
    tracing.shutdown_tracing()


def test_the_endpoint_is_read_from_the_environment():
    env = Env({"MLP_OTLP_ENDPOINT": "http://otel:4318"})
    assert common_settings(env, "events", 8001)["otlp_endpoint"] == "http://otel:4318"
    assert common_settings(Env({}), "events", 8001)["otlp_endpoint"] == ""


def test_without_an_endpoint_tracing_is_off_and_nothing_is_sent(collector):
    assert tracing.configure_tracing(Settings(service="events")) is False
    with tracing.span("work", kind=SpanKind.CONSUMER, parent=None) as current:
        assert current is INVALID_SPAN
    ctx = fresh_context()
    assert tracing.continued(ctx) is ctx  # the traceparent stays the one made before
    tracing.shutdown_tracing()
    assert collector.posts == []


def test_with_an_endpoint_spans_go_to_its_v1_traces(collector):
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    assert tracing.configure_tracing(Settings(service="events", otlp_endpoint=endpoint))
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracing.span("event.created process", kind=SpanKind.CONSUMER, parent=parent) as current:
        assert f"{current.get_span_context().trace_id:032x}" == parent.split("-")[1]
    tracing.shutdown_tracing()  # flushes the batch processor
    assert [(p, t) for p, t, _ in collector.posts] == [("/v1/traces", "application/x-protobuf")]
    assert collector.posts[0][2] > 0


def test_the_logs_carry_the_trace_and_span_of_the_current_span():
    exporter = InMemorySpanExporter()
    tracing.configure_tracing(Settings(service="events"), exporter=exporter)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "msg", None, None)
    with tracing.span("work", kind=SpanKind.SERVER, parent=None) as current:
        set_context(tracing.continued(fresh_context()))
        try:
            _ContextFilter("events").filter(record)
        finally:
            set_context(None)
    [finished] = exporter.get_finished_spans()
    assert finished.context.span_id == current.get_span_context().span_id
    assert record.trace_id == f"{finished.context.trace_id:032x}"
    assert record.span_id == f"{finished.context.span_id:016x}"


def test_a_database_command_outside_any_traced_work_is_no_trace_of_its_own():
    exporter = InMemorySpanExporter()
    tracing.configure_tracing(Settings(service="events"), exporter=exporter)
    tracing.start_span("find", kind=SpanKind.CLIENT, parent=None).end()
    with tracing.span("POST /x", kind=SpanKind.SERVER, parent=None):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == ["POST /x"]

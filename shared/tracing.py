"""OpenTelemetry spans of a service process, exported over OTLP/HTTP.

Configured once at start (:func:`configure_tracing`, called by
:func:`shared.service.start_service`) from ``MLP_OTLP_ENDPOINT``: unset, no
provider is made, nothing is instrumented and :func:`start_span` hands out the
API's no-op span, so tracing off costs nothing but a function call. Set, Flask
requests and pymongo commands are traced by their OpenTelemetry
instrumentations; kafka-python has none, so the outbox relay (a PRODUCER span)
and the consumer (a CONSUMER span) open theirs here, and so does the mail
sender around each SMTP send.

A span's parent is the W3C ``traceparent`` the work came with (the request's
header, the one stored with an outbox row or a mail, the record's header), and
the span's own context becomes the ``traceparent`` of the work's
:class:`~shared.context.TraceContext` (:func:`continued`): what the logs show,
what the outbox stores and what records carry is the span, one trace from the
HTTP request to the mail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from flask import Flask
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.config import Settings
from shared.context import TraceContext

log = logging.getLogger(__name__)

# Probes and scrapes every few seconds are not worth a trace.
UNTRACED_URLS = "/healthz,/readyz,/metrics"
_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None


class _NoLoneClientSpans(Sampler):
    """Roots only for work that starts somewhere (a request, a record, a publish):
    a database command outside any of them (a periodic job polling every few
    hundred milliseconds) would otherwise be a trace of its own, five a second."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if kind == SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "NoLoneClientSpans"


class _CurrentTracer(trace.Tracer):
    """The tracer of the provider configured now: pymongo's instrumentation
    registers its listener once per process and keeps the tracer it was given,
    while a process may configure tracing again after :func:`shutdown_tracing`
    (the tests do)."""

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        return (_tracer or trace.NoOpTracer()).start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return (_tracer or trace.NoOpTracer()).start_as_current_span(*args, **kwargs)


class _CurrentProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _CurrentTracer()


def configure_tracing(settings: Settings, exporter: SpanExporter | None = None) -> bool:
    """Make the process's tracer provider once; True when tracing is on.

    ``exporter`` replaces the OTLP one (tests: an in-memory exporter, spans
    exported as they end); without it and without ``MLP_OTLP_ENDPOINT`` tracing
    stays off. Later calls change nothing: one process, one provider.
    """
    global _provider, _tracer
    if _provider is not None:
        return True
    if exporter is not None:
        processor: SimpleSpanProcessor | BatchSpanProcessor = SimpleSpanProcessor(exporter)
    elif settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
    else:
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"mlp-{settings.service}"}),
        sampler=ParentBased(root=_NoLoneClientSpans()),
    )
    provider.add_span_processor(processor)
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    # A listener pymongo gives every client made from now on: start_service
    # configures tracing before it connects.
    _provider, _tracer = provider, provider.get_tracer("mlp-ops")
    PymongoInstrumentor().instrument(tracer_provider=_CurrentProvider())
    log.info("tracing on", extra={"otlp_endpoint": settings.otlp_endpoint or "(in process)"})
    return True


def shutdown_tracing() -> None:
    """Export what is pending and turn tracing off again (worker exit, tests)."""
    global _provider, _tracer
    if _provider is None:
        return
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    PymongoInstrumentor().uninstrument()
    _provider.shutdown()
    _provider = _tracer = None


def instrument_app(app: Flask) -> None:
    """Trace ``app``'s requests (before the app's own hooks are added, so that the
    request's span exists when they make the request's trace context)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor.instrument_app(
        app, tracer_provider=_provider, excluded_urls=UNTRACED_URLS, enable_commenter=False
    )


def start_span(
    name: str,
    *,
    kind: SpanKind,
    parent: str | None,
    attributes: dict[str, Any] | None = None,
) -> Span:
    """A started span whose parent is the W3C ``parent`` (a new trace when it is
    absent or not valid); the no-op span when tracing is off. The caller ends it."""
    if _tracer is None:
        return INVALID_SPAN
    context = _PROPAGATOR.extract({"traceparent": parent}) if parent else Context()
    return _tracer.start_span(name, context=context, kind=kind, attributes=attributes)


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind,
    parent: str | None,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span]:
    """:func:`start_span` as the current span of the block, ended (with the error
    recorded, if one escapes) on leaving it."""
    started = start_span(name, kind=kind, parent=parent, attributes=attributes)
    with trace.use_span(started, end_on_exit=True):
        yield started


def traceparent_of(current: Span, fallback: str) -> str:
    """The W3C traceparent naming ``current``; ``fallback`` for the no-op span."""
    context = current.get_span_context()
    if not context.is_valid or current is INVALID_SPAN:
        return fallback
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def continued(ctx: TraceContext, current: Span | None = None) -> TraceContext:
    """``ctx`` whose traceparent names ``current`` (default: the current span), so
    that logs and announcements carry the span; ``ctx`` itself when tracing is off."""
    if _tracer is None:
        return ctx
    current = current if current is not None else trace.get_current_span()
    return replace(ctx, traceparent=traceparent_of(current, ctx.traceparent))


def fail(current: Span, exc: BaseException | str) -> None:
    """Mark ``current`` failed: an exception caught before it reached the span."""
    if isinstance(exc, BaseException):
        current.record_exception(exc)
    current.set_status(Status(StatusCode.ERROR, str(exc)))

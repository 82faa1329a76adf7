"""Trace context that follows a change from the HTTP request (or the consumed
record) that caused it to every record it announces."""

from __future__ import annotations

import secrets
import uuid
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class TraceContext:
    """Who caused the work in hand: ``correlation_id`` is shared by a whole
    conversation, ``causation_id`` names the request or record that caused
    this step, ``traceparent`` is the W3C trace context."""

    correlation_id: str
    causation_id: str
    traceparent: str


def new_traceparent(trace_id: str | None = None) -> str:
    """A W3C traceparent with a fresh span id, keeping ``trace_id`` when given."""
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """Continue ``parent``'s trace with a new span, or start a trace when it is not valid."""
    parts = (parent or "").split("-")
    valid = len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16
    return new_traceparent(parts[1] if valid else None)


def fresh_context() -> TraceContext:
    """Context for work that nothing visible caused (start-up, schedules)."""
    ident = str(uuid.uuid4())
    return TraceContext(correlation_id=ident, causation_id=ident, traceparent=new_traceparent())


_current: ContextVar[TraceContext | None] = ContextVar("mlp_trace_context", default=None)


def current_context() -> TraceContext:
    """The context of the work in hand (a fresh one outside any request or record)."""
    ctx = _current.get()
    return ctx if ctx is not None else fresh_context()


def peek_context() -> TraceContext | None:
    """The context of the work in hand, or None outside any request or record."""
    return _current.get()


def set_context(ctx: TraceContext | None) -> None:
    _current.set(ctx)

"""JSON logs on stderr, one object a line, tagged with the service and the
trace context so that one request can be followed across services."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from shared.context import peek_context


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        ctx = peek_context()
        if ctx is not None:
            record.correlation_id = ctx.correlation_id
            record.causation_id = ctx.causation_id
            # The traceparent is the current span's (shared.tracing): the ids a
            # tracing backend shows for the same work.
            parts = ctx.traceparent.split("-")
            if len(parts) == 4:
                record.trace_id, record.span_id = parts[1], parts[2]
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record of the process as JSON to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # kafka-python logs every refused connection as an ERROR; the relay and the
    # consumer report outages themselves, once, in words an operator can act on.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    logging.getLogger("pymongo").setLevel(logging.WARNING)

"""The pieces of every service's Flask app: flask-smorest with its OpenAPI
document, problem+json errors, request and correlation ids, authentication,
JSON logs, and the ``/healthz``, ``/readyz`` and ``/metrics`` endpoints."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask_smorest import Api
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from werkzeug.exceptions import HTTPException

from shared.auth import Authenticator
from shared.context import TraceContext, child_traceparent, set_context
from shared.logs import configure_logging
from shared.problems import (
    Problem,
    install_error_handlers,
    problem_from_http_exception,
    problem_response,
)
from shared.service import ServiceContext

HTTP_SECONDS = Histogram(
    "mlp_http_request_seconds", "HTTP request latency", ["method", "route", "status"]
)
access_log = logging.getLogger("mlp.access")
HTTP_REQUESTS = Counter("mlp_http_requests_total", "HTTP requests", ["method", "route", "status"])


def service_context() -> ServiceContext:
    """The context of the service whose app serves the request in hand."""
    return current_app.extensions["mlp"]


class _ProblemApi(Api):
    """flask-smorest's Api, but every error it renders is problem+json."""

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return problem_response(problem_from_http_exception(error))


def create_api_app(
    service: str,
    *,
    title: str,
    blueprints: Iterable[Blueprint],
    max_request_bytes: int = 1024 * 1024,
) -> tuple[Flask, Api]:
    """The Flask app with its flask-smorest ``Api`` and routes, and no database:
    what :func:`create_service_app` builds on, and enough to export the service's
    OpenAPI document (``deploy/contracts.py``) without MongoDB."""
    app = Flask(service)
    app.config.update(
        API_TITLE=title,
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    api = _ProblemApi(app)
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    return app, api


def create_service_app(
    ctx: ServiceContext,
    *,
    title: str,
    blueprints: Iterable[Blueprint],
) -> Flask:
    """Build a service's Flask app around its ``blueprints``, serving ``ctx``."""
    settings = ctx.settings
    configure_logging(settings.service, settings.log_level)
    app, _api = create_api_app(
        settings.service,
        title=title,
        blueprints=blueprints,
        max_request_bytes=settings.max_request_bytes,
    )
    install_error_handlers(app)
    app.extensions["mlp"] = ctx
    authenticator = Authenticator(settings)

    @app.before_request
    def _begin() -> None:
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        set_context(
            TraceContext(
                correlation_id=request.headers.get("X-Correlation-ID") or g.request_id,
                causation_id=g.request_id,
                traceparent=child_traceparent(request.headers.get("traceparent")),
            )
        )
        g.principal = authenticator.authenticate_request()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        route = request.url_rule.rule if request.url_rule else "unmatched"
        status = str(response.status_code)
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        HTTP_SECONDS.labels(request.method, route, status).observe(elapsed)
        HTTP_REQUESTS.labels(request.method, route, status).inc()
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
                "request_id": g.get("request_id"),
            },
        )
        return response

    @app.teardown_request
    def _clear(_exc: BaseException | None) -> None:
        set_context(None)

    app.register_blueprint(_health_blueprint(ctx))
    return app


def _kafka_reachable(bootstrap: str, timeout_s: float = 1.0) -> bool:
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def _health_blueprint(ctx: ServiceContext) -> Blueprint:
    health = Blueprint("health", __name__)

    @health.get("/healthz")
    def healthz() -> Any:
        """Alive: the process answers."""
        return jsonify(status="ok", service=ctx.settings.service)

    @health.get("/readyz")
    def readyz() -> Any:
        """Ready: MongoDB answers a ping and a Kafka broker accepts connections."""
        checks: dict[str, str] = {}
        try:
            ctx.client.admin.command("ping")
            checks["mongo"] = "ok"
        except Exception as exc:
            checks["mongo"] = f"unreachable: {type(exc).__name__}"
        kafka_ok = _kafka_reachable(ctx.settings.kafka_bootstrap)
        checks["kafka"] = "ok" if kafka_ok else "unreachable"
        if all(v == "ok" for v in checks.values()):
            return jsonify(status="ready", checks=checks)
        raise Problem(503, "A dependency is not reachable.", checks=checks)

    @health.get("/metrics")
    def metrics() -> Response:
        """Prometheus metrics of every gunicorn worker of this service."""
        if ctx.settings.metrics_multiprocess_dir:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            payload = generate_latest(registry)
        else:
            payload = generate_latest()
        return Response(payload, mimetype=CONTENT_TYPE_LATEST)

    return health

"""The pieces of every service's Flask app: flask-smorest with its OpenAPI
document and the :class:`ApiBlueprint` every ``api.py`` declares its routes on,
problem+json errors, request and correlation ids, authentication, JSON logs,
the client address behind trusted proxies, the ``/healthz``, ``/readyz``
and ``/metrics`` endpoints, and the operator console (``/ops``)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.views import MethodView
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import fields
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from webargs.core import is_json
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.admin import admin_blueprint
from shared.auth import Authenticator
from shared.context import TraceContext, child_traceparent, set_context
from shared.fields import openapi_attributes
from shared.logs import configure_logging
from shared.ops import OpsSection, dependency_checks
from shared.problems import (
    PROBLEM_JSON,
    Problem,
    ProblemSchema,
    install_error_handlers,
    problem_from_http_exception,
    problem_response,
)
from shared.service import ServiceContext
from shared.tracing import continued, instrument_app

HTTP_SECONDS = Histogram(
    "mlp_http_request_seconds", "HTTP request latency", ["method", "route", "status"]
)
access_log = logging.getLogger("mlp.access")
HTTP_REQUESTS = Counter("mlp_http_requests_total", "HTTP requests", ["method", "route", "status"])
# The methods of RFC 9110 and PATCH; any other is counted as "other", so a client
# cannot create a metrics series per made-up method.
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def method_label(method: str) -> str:
    """The ``method`` label of the HTTP metrics: a known method, else ``other``."""
    return method if method in HTTP_METHODS else "other"


def _nested_too_deeply() -> json.JSONDecodeError:
    """The error of a JSON document Python's parser gave up on (RecursionError):
    malformed input like any other, so the client gets a 400, not a 500. (The
    ``doc`` must not be empty: webargs reads an empty one as "no body".)"""
    return json.JSONDecodeError("The JSON document is nested too deeply", "<body>", 0)


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON, but a body nested too deeply to parse is a ``ValueError``
    (``request.get_json`` answers 400 for it) rather than a ``RecursionError``."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise _nested_too_deeply() from None


class _ArgumentsParser(FlaskParser):
    """webargs' parser of request arguments; it parses JSON bodies with the
    standard library itself, so a body nested too deeply is mapped here too. A
    body that is not JSON is refused (415): webargs would read it as no body."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json(req.mimetype) and req.get_data(cache=True):
            raise Problem(415, "Send the request body as JSON (application/json).")
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise _nested_too_deeply() from None


# The security scheme of the OpenAPI documents: the bearer JWT of shared.auth.
BEARER = "bearer"


class ApiBlueprint(SmorestBlueprint):
    """flask-smorest's Blueprint with the project's arguments parser, and an
    OpenAPI document that says who may call each route: every service's
    ``api.py`` declares its routes on one of these."""

    ARGUMENTS_PARSER = _ArgumentsParser()

    def add_url_rule(  # type: ignore[override]
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Any = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Register the route, its views documented as :meth:`_document_auth` says."""
        if isinstance(view_func, type) and issubclass(view_func, MethodView):
            for method in view_func.methods or ():
                name = method.lower()
                setattr(view_func, name, self._document_auth(getattr(view_func, name)))
        elif view_func is not None:
            view_func = self._document_auth(view_func)
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **options)

    def _document_auth(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """A view of :func:`shared.auth.require_roles` needs the bearer token (401
        without one, 403 without one of its roles); any other takes one optionally.
        A bad token is 401 on every route: it is never read as no token."""
        roles = getattr(view, "required_roles", None)
        view = self.alt_response(401, response=HTTPStatus(401).name)(view)
        if roles:
            view = self.alt_response(403, response=HTTPStatus(403).name)(view)
        security = [{BEARER: []}] if roles is not None else [{}, {BEARER: []}]
        return self.doc(security=security)(view)

    def problems(self, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document the problem statuses a view answers with, beside those of its
        arguments (422) and of authentication."""

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            for status in statuses:
                view = self.alt_response(status, response=HTTPStatus(status).name)(view)
            return view

        return decorator


def require_body() -> None:
    """Refuse a request without a body (400) where the document calls one
    required: webargs would read it as an empty object (a PATCH changing nothing)."""
    if not request.get_data(cache=True):
        raise Problem(400, "Send the fields to change as a JSON object.")


def service_context() -> ServiceContext:
    """The context of the service whose app serves the request in hand."""
    return current_app.extensions["mlp"]


class _ProblemApi(Api):
    """flask-smorest's Api, but every error it renders, and documents, is problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return problem_response(problem_from_http_exception(error))

    def _register_responses(self) -> None:
        """The response components flask-smorest refers to (one per status, and the
        ``default`` response of every operation) as the services send them: with
        flask-smorest's own, an error would be documented as ``application/json``."""
        problem = {PROBLEM_JSON: {"schema": self.ERROR_SCHEMA}}
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = problem
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {"description": "A problem (RFC 9457)", "content": problem},
            lazy=True,
        )


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
    app.json = JsonProvider(app)
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
    api.ma_plugin.converter.add_attribute_function(
        lambda _converter, field, **_: openapi_attributes(field)
    )
    # apispec's "url" is no JSON Schema format; an absolute URL is a "uri".
    api.register_field(fields.Url, "string", "uri")
    api.spec.components.security_scheme(
        BEARER, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    return app, api


def create_service_app(
    ctx: ServiceContext,
    *,
    title: str,
    blueprints: Iterable[Blueprint],
    consumes: Iterable[str] = (),
    ops_sections: Iterable[OpsSection] = (),
) -> Flask:
    """Build a service's Flask app around its ``blueprints``, serving ``ctx``;
    the operator console (:mod:`shared.admin`) shows the lag of its consumer
    group on ``consumes`` (its handlers' topics) and the service's ``ops_sections``."""
    settings = ctx.settings
    configure_logging(settings.service, settings.log_level)
    app, _api = create_api_app(
        settings.service,
        title=title,
        blueprints=blueprints,
        max_request_bytes=settings.max_request_bytes,
    )
    install_error_handlers(app)
    instrument_app(app)  # before _begin: the request's span exists when it runs
    if settings.trusted_proxies > 0:
        # Behind an ingress the peer is the proxy: take the client address (and
        # scheme) that many hops from the right of X-Forwarded-For (-Proto); the
        # hops further left are whatever the client wrote, never trusted.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.extensions["mlp"] = ctx
    authenticator = Authenticator(settings)

    @app.before_request
    def _begin() -> None:
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        set_context(
            continued(
                TraceContext(
                    correlation_id=request.headers.get("X-Correlation-ID") or g.request_id,
                    causation_id=g.request_id,
                    traceparent=child_traceparent(request.headers.get("traceparent")),
                )
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
        method = method_label(request.method)
        HTTP_SECONDS.labels(method, route, status).observe(elapsed)
        HTTP_REQUESTS.labels(method, route, status).inc()
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
    app.register_blueprint(
        admin_blueprint(ctx, authenticator, consumes=consumes, sections=ops_sections)
    )
    return app


def _health_blueprint(ctx: ServiceContext) -> Blueprint:
    health = Blueprint("health", __name__)

    @health.get("/healthz")
    def healthz() -> Any:
        """Alive: the process answers."""
        return jsonify(status="ok", service=ctx.settings.service)

    @health.get("/readyz")
    def readyz() -> Any:
        """Ready: MongoDB answers a ping and a Kafka broker accepts connections."""
        checks = dependency_checks(ctx.client, ctx.settings.kafka_bootstrap)
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

"""RFC 9457 problem details for every error a client can meet: the HTTP edge.

A ``Problem`` carries a stable ``type`` (``/problems/<slug>``), a title, the
HTTP status and a human detail. Views raise it for what only HTTP knows (a
missing token, an unreadable body); write paths raise the plain errors of
:mod:`shared.errors`, which the handlers here turn into problems with the
same status and slug. Every other exception becomes a 500 problem, so a client
never sees HTML or a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, json, request
from marshmallow import INCLUDE, Schema, fields
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException

from shared.errors import DomainError, RateLimited

PROBLEM_JSON = "application/problem+json"
DATABASE_RETRY_AFTER_S = 5  # a restarting database server is back in seconds
log = logging.getLogger(__name__)

# Stable slugs for the HTTP statuses the services answer with.
STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


class ProblemSchema(Schema):
    """What every error answer holds (``application/problem+json``): the OpenAPI
    documents' error responses; :func:`problem_response` writes it."""

    class Meta:
        unknown = INCLUDE  # extension members: current_status, current_etag, rejected, ...

    type = fields.String(
        required=True, metadata={"description": "`/problems/<slug>`: stable, match on it"}
    )
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True, metadata={"description": "A sentence for a person"})
    instance = fields.String(required=True, metadata={"description": "The request's path"})
    request_id = fields.String(metadata={"description": "The X-Request-ID of the request"})
    errors = fields.Raw(
        metadata={"description": "validation-error: the field names and their messages"}
    )


class Problem(Exception):
    """An error with a meaning for the client; raise it anywhere in a request."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or STATUS_SLUGS.get(status, "error")
        self.title = title or self.slug.replace("-", " ").capitalize()
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(problem: Problem) -> Response:
    """Render ``problem`` as ``application/problem+json``."""
    body: dict[str, Any] = {
        "type": f"/problems/{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path if request else None,
    }
    request_id = g.get("request_id") if request else None
    if request_id:
        body["request_id"] = request_id
    body.update(problem.extensions)
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_JSON)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def problem_from_domain_error(exc: DomainError) -> Problem:
    """The problem a write path's refusal is answered with."""
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimited) else None
    return Problem(exc.status, exc.detail, slug=exc.slug, headers=headers, **exc.details)


def problem_from_http_exception(exc: HTTPException) -> Problem:
    """Translate werkzeug/flask-smorest/webargs errors, keeping field errors."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    extensions: dict[str, Any] = {}
    detail = exc.description or ""
    messages = data.get("messages")
    if messages:
        # webargs nests errors by location ("json", "query", ...); flatten one level.
        errors = messages
        if isinstance(messages, dict) and len(messages) == 1:
            (errors,) = messages.values()
        extensions["errors"] = errors
        detail = "The request body or parameters are not valid." if status == 422 else detail
        if status == 400:  # webargs answers 400 only for a body it cannot parse
            detail = "The request body is not valid JSON."
    if status == 413:
        detail = "The request body is larger than this endpoint accepts."
    # werkzeug's own headers of the status (Allow of a 405, Retry-After, ...), but
    # not its Content-Type: the problem document has its own.
    headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    return Problem(status, detail or "", headers=headers, **extensions)


def install_error_handlers(app: Flask) -> None:
    """Make every error of ``app`` a problem document."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc)

    @app.errorhandler(DomainError)
    def _refused(exc: DomainError) -> Response:
        return problem_response(problem_from_domain_error(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return problem_response(problem_from_http_exception(exc))

    @app.errorhandler(ConnectionFailure)
    def _database_away(exc: ConnectionFailure) -> Response:
        # The database restarting, unreachable or cut off mid-answer: nothing was
        # stored that the transaction did not commit, so the caller may try again.
        log.warning("the database did not answer", extra={"error": str(exc)})
        return problem_response(
            Problem(
                503,
                "The database is not answering just now; please try again shortly.",
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
            )
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(Problem(500, "An unexpected error occurred; it has been logged."))

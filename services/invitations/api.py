"""HTTP routes of the invitations service (thin: parsing, validation and
authorisation here, write paths in ``operations``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request
from marshmallow import ValidationError
from webargs.core import is_json

from services.invitations import domain, operations, rsvp_page
from services.invitations.operations import Context
from services.invitations.schemas import (
    CSV_DESCRIPTION,
    SORTABLE,
    AnswerSchema,
    CsvUploadSchema,
    ErasureListSchema,
    ErasureQuerySchema,
    ErasureRequestSchema,
    ErasureSchema,
    HistorySchema,
    InvitationListSchema,
    InvitationQuerySchema,
    InvitationSchema,
    InviteeSchema,
    InviteManySchema,
    InviteQuerySchema,
    InviteResultSchema,
    MyInvitationsQuerySchema,
    RsvpSchema,
)
from shared.auth import current_principal, require_roles
from shared.errors import DomainError
from shared.http import client_key, etag, page_body, parse_sort
from shared.problems import Problem, problem_from_domain_error
from shared.web import ApiBlueprint, service_context

blp = ApiBlueprint(
    "invitations", __name__, url_prefix="/v1", description="Invitations and RSVP links"
)

CSV_COLUMNS = frozenset(InviteeSchema().fields)
_invitation = InvitationSchema()
_invitee = InviteeSchema()
_answer = AnswerSchema()
_rsvp = RsvpSchema()


def ctx() -> Context:
    return service_context()


def _respond(invitation: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(_invitation.dump(invitation))
    response.status_code = status
    response.headers["ETag"] = etag(invitation["version"])
    return response


def _visible(invitation_id: str) -> dict[str, Any]:
    """The invitation if the caller may see it; 404 otherwise (existence stays private)."""
    invitation = ctx().store.get(invitation_id)
    if invitation is None or not domain.may_see(current_principal(), invitation):
        raise Problem(404, f"There is no invitation {invitation_id}.")
    return invitation


# --- inviting -------------------------------------------------------------------


def _parse_csv(raw: bytes) -> list[tuple[int, Any]]:
    """(line number, invitee or why the row is unreadable) pairs of a CSV file."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(422, "The CSV file is not UTF-8 text.", slug="malformed-csv") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        reader.fieldnames = _csv_header(reader.fieldnames)
        return [_csv_row(reader.line_num, record) for record in reader]
    except csv.Error as exc:
        raise Problem(
            422,
            f"The CSV file is malformed: {exc} (line {reader.line_num}).",
            slug="malformed-csv",
        ) from exc


def _csv_header(fieldnames: Sequence[str] | None) -> list[str]:
    """The header row's column names; refused unless they are invitee fields."""
    header = [name.strip() for name in (fieldnames or [])]
    if not header:
        raise Problem(422, "The CSV file has no header row.", slug="malformed-csv")
    unknown = sorted(set(header) - CSV_COLUMNS)
    missing = sorted({"email", "name", "country", "role"} - set(header))
    if unknown or missing:
        raise Problem(
            422,
            "The CSV header names unknown columns or lacks required ones.",
            slug="malformed-csv",
            unknown_columns=unknown,
            missing_columns=missing,
            allowed_columns=sorted(CSV_COLUMNS),
        )
    return header


def _csv_row(line: int, record: dict[Any, Any]) -> tuple[int, Any]:
    """The row's non-empty fields, or why it is unreadable."""
    if None in record or None in record.values():
        return line, "The row's field count differs from the header."
    return line, {k: v.strip() for k, v in record.items() if v.strip() != ""}


def _read_invitees() -> list[tuple[int, Any]]:
    """(row number, raw invitee) pairs from JSON (one invitee, a list, or
    ``{"invitees": [...]}``) or CSV (a ``text/csv`` body or a multipart ``file``)."""
    mimetype = request.mimetype
    if mimetype in ("text/csv", "application/csv"):
        return _parse_csv(request.get_data())
    if mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise Problem(422, "Upload the CSV file in the form field 'file'.")
        return _parse_csv(upload.read())
    if mimetype != "application/json":
        raise Problem(415, "Send JSON (application/json) or CSV (text/csv or multipart 'file').")
    return list(enumerate(_json_invitees(request.get_json(silent=True))))


def _json_invitees(body: Any) -> list[Any]:
    """The raw invitees of a JSON body: one invitee, a list, or ``{"invitees": [...]}``."""
    if body is None:
        raise Problem(400, "The request body is not valid JSON.")
    if isinstance(body, dict) and "invitees" in body:
        extra = sorted(set(body) - {"invitees"})
        if extra:
            raise Problem(
                422,
                "The request body is not valid.",
                errors={name: ["Unknown field."] for name in extra},
            )
        body = body["invitees"]
        if not isinstance(body, list):
            raise Problem(
                422, "The request body is not valid.", errors={"invitees": ["Not a valid list."]}
            )
    elif isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise Problem(422, 'Send one invitee, a list, or {"invitees": [...]}.')
    return body


def _validate(raw: list[tuple[int, Any]]) -> tuple[list[tuple[int, dict]], list[dict]]:
    valid: list[tuple[int, dict[str, Any]]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in raw:
        if isinstance(item, str):
            rejected.append({"row": index, "errors": {"_row": [item]}})
            continue
        if not isinstance(item, dict):
            rejected.append({"row": index, "errors": {"_row": ["Not an object."]}})
            continue
        try:
            row = _invitee.load(item)
        except ValidationError as exc:
            rejected.append({"row": index, "email": item.get("email"), "errors": exc.messages})
            continue
        row["email"] = row["email"].strip().lower()
        valid.append((index, row))
    return valid, rejected


def _checked_invitees(
    raw: list[tuple[int, Any]], partial: bool
) -> tuple[list[tuple[int, dict]], list[dict]]:
    """The valid invitees and the rejected rows; refused when the list is empty
    or too long, or (unless ``partial``) when any row is rejected."""
    if not raw:
        raise Problem(
            422,
            "The list of invitees is empty.",
            slug="validation-error",
            errors={"invitees": ["Give at least one invitee."]},
        )
    if len(raw) > domain.MAX_INVITEES:
        raise Problem(
            422,
            f"At most {domain.MAX_INVITEES} invitees in one request, got {len(raw)}.",
            errors={"invitees": ["Too many invitees."]},
        )
    valid, rejected = _validate(raw)
    if rejected and not partial:
        raise Problem(
            422,
            f"{len(rejected)} of {len(raw)} invitees are not valid; nothing "
            "was created (add ?partial=true to create the valid ones).",
            rejected=rejected,
        )
    return valid, rejected


@blp.route("/events/<event_id>/invitations", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(InviteQuerySchema, location="query")
@blp.response(201, InviteResultSchema)
@blp.alt_response(200, schema=InviteResultSchema, success=True, description="Nothing created")
@blp.problems(404, 409, 413, 415)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        InviteeSchema,
                        {
                            "type": "array",
                            "items": InviteeSchema,
                            "minItems": 1,
                            "maxItems": domain.MAX_INVITEES,
                        },
                        InviteManySchema,
                    ]
                }
            },
            "text/csv": {"schema": {"type": "string", "description": CSV_DESCRIPTION}},
            "multipart/form-data": {"schema": CsvUploadSchema},
        },
    },
)
def invite(args: dict[str, Any], event_id: str) -> Response:
    """Invite one or many (up to 5,000) people, as JSON or CSV (secretariat).

    The answer lists what was created, what was skipped as already invited and
    what was rejected with its reason. This endpoint accepts bodies up to
    ``MLP_INVITATION_MAX_REQUEST_BYTES`` (default 8 MiB) instead of the global limit.
    """
    request.max_content_length = ctx().settings.invitation_max_request_bytes
    valid, rejected = _checked_invitees(_read_invitees(), args["partial"])
    result = {"created": [], "skipped": [], "rejected": rejected}
    if valid:
        result = operations.invite(ctx(), event_id, valid, current_principal().sub)
        result["rejected"] = rejected
    response = jsonify(result)
    response.status_code = 201 if result["created"] else 200
    return response


# --- management -------------------------------------------------------------------


@blp.route("/events/<event_id>/invitations", methods=["GET"])
@require_roles()
@blp.arguments(InvitationQuerySchema, location="query")
@blp.response(200, InvitationListSchema)
def list_event_invitations(args: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An event's invitations with filters and counts per status and country
    (secretariat); anyone else sees only their own."""
    principal = current_principal()
    own = domain.visibility_filter(principal)
    base: dict[str, Any] = {"event_id": event_id, **(own or {})}
    if own is None:
        return page_body([], 0, args["page"], args["page_size"])
    query = dict(base)
    for name in ("status", "country", "role"):
        if name in args:
            query[name] = args[name]
    sort = parse_sort(args["sort"], SORTABLE, default="created_at")
    page, size = args["page"], args["page_size"]
    items, total = ctx().store.find(query, sort, (page - 1) * size, size)
    body = page_body(items, total, page, size)
    if principal.is_secretariat:
        body["counts"] = ctx().store.counts(base)
    return body


@blp.route("/invitations", methods=["GET"])
@require_roles()
@blp.arguments(MyInvitationsQuerySchema, location="query")
@blp.response(200, InvitationListSchema)
def my_invitations(args: dict[str, Any]) -> dict[str, Any]:
    """The caller's own invitations (matched on the verified e-mail of their token)."""
    email = current_principal().verified_email
    if not email:
        return page_body([], 0, args["page"], args["page_size"])
    query: dict[str, Any] = {"email": email}
    if "status" in args:
        query["status"] = args["status"]
    sort = parse_sort(args["sort"], SORTABLE, default="-created_at")
    page, size = args["page"], args["page_size"]
    items, total = ctx().store.find(query, sort, (page - 1) * size, size)
    return page_body(items, total, page, size)


@blp.route("/invitations/<invitation_id>", methods=["GET"])
@require_roles()
@blp.response(200, InvitationSchema)
@blp.problems(404)
def get_invitation(invitation_id: str) -> Response:
    """One invitation: the secretariat sees any, an invitee their own."""
    return _respond(_visible(invitation_id))


@blp.route("/invitations/<invitation_id>/history", methods=["GET"])
@require_roles("secretariat")
@blp.response(200, HistorySchema)
@blp.problems(404)
def invitation_history(invitation_id: str) -> dict[str, Any]:
    """Every state change of the invitation: who, when, from what to what (secretariat)."""
    invitation = ctx().store.get_with_history(invitation_id)
    if invitation is None:
        raise Problem(404, f"There is no invitation {invitation_id}.")
    items = [
        {**entry, "from_status": entry.get("from"), "to_status": entry.get("to")}
        for entry in invitation.get("history", [])
    ]
    return {"invitation_id": invitation_id, "items": items}


@blp.route("/invitations/<invitation_id>/revoke", methods=["POST"])
@require_roles("secretariat")
@blp.response(200, InvitationSchema)
@blp.problems(404, 409)
def revoke_invitation(invitation_id: str) -> Response:
    """Revoke an invitation; its RSVP link dies and a freed seat is given on (secretariat)."""
    return _respond(operations.revoke(ctx(), invitation_id, current_principal().sub or ""))


@blp.route("/invitations/<invitation_id>/resend", methods=["POST"])
@require_roles("secretariat")
@blp.response(200, InvitationSchema)
@blp.problems(404, 409, 410)
def resend_invitation(invitation_id: str) -> Response:
    """Send the invitation mail again with a new RSVP link; the old link dies (secretariat)."""
    return _respond(operations.resend(ctx(), invitation_id, current_principal().sub or ""))


@blp.route("/invitations/<invitation_id>/response", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(AnswerSchema)
@blp.response(200, InvitationSchema)
@blp.problems(404, 409, 410)
def answer_on_behalf(args: dict[str, Any], invitation_id: str) -> Response:
    """Record an answer on the invitee's behalf (secretariat; logged as such)."""
    return _respond(
        operations.answer(
            ctx(),
            args["response"],
            invitation_id=invitation_id,
            by=current_principal().sub,
        )
    )


# --- the RSVP link ------------------------------------------------------------------


def _client() -> str:
    """Whom the limit counts: the client's IPv4 address or IPv6 /64 (behind
    ``MLP_TRUSTED_PROXIES`` proxies, the address they forwarded)."""
    return client_key(request.remote_addr)


def _rate_limit() -> None:
    limit = ctx().settings.rsvp_rate_limit
    if limit <= 0:
        return
    window = ctx().settings.rsvp_rate_window_s
    count = ctx().store.hit(_client(), window, datetime.now(UTC))
    if count > limit:
        raise Problem(
            429,
            f"Too many RSVP requests from this address; at most {limit} per {window} s.",
            headers={"Retry-After": str(window)},
        )


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "text/html"
        and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]
    )


def _rsvp_view(invitation: dict[str, Any]) -> dict[str, Any]:
    event = ctx().store.get_event(invitation["event_id"]) or {"id": invitation["event_id"]}
    can_answer = True
    try:
        domain.check_answerable(invitation, event, datetime.now(UTC), deadline_binds=True)
    except DomainError:
        can_answer = False
    return {
        "id": invitation["id"],
        "status": invitation["status"],
        "name": invitation["name"],
        "language": invitation["language"],
        "role": invitation["role"],
        "registration_deadline": event.get("registration_deadline"),
        "can_answer": can_answer,
        "event": event,
    }


def _rsvp_response(view: dict[str, Any], status: int = 200, message: str = "") -> Response:
    if _wants_html():
        html = rsvp_page.render(view, message=message)
        return Response(html, status=status, mimetype="text/html")
    response = jsonify(_rsvp.dump(view))
    response.status_code = status
    return response


@blp.after_request
def _rsvp_headers(response: Response) -> Response:
    if request.path.startswith("/v1/rsvp/"):
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response


def _by_token(token: str) -> dict[str, Any]:
    invitation = ctx().store.by_token_hash(domain.token_hash(token))
    if invitation is None:
        raise Problem(404, "This RSVP link is not known.")
    return invitation


def _as_problem(refusal: Problem | DomainError) -> Problem:
    return refusal if isinstance(refusal, Problem) else problem_from_domain_error(refusal)


def _html_problem(problem: Problem, view: dict[str, Any] | None) -> Response:
    html = rsvp_page.render(view, message=problem.detail, error=True)
    response = Response(html, status=problem.status, mimetype="text/html")
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


# The RSVP page: what a browser asking for text/html gets instead of JSON (a refusal too).
_HTML_PAGE = {"type": "string", "description": "The RSVP page"}
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@blp.route("/rsvp/<token>", methods=["GET"])
@blp.response(200, RsvpSchema)
@blp.alt_response(200, schema=_HTML_PAGE, content_type="text/html", success=True)
@blp.problems(404, 429)
def rsvp_show(token: str) -> Response:
    """Show the invitation and its event; never changes anything (mail scanners
    prefetch links). HTML when the client asks for text/html."""
    try:
        _rate_limit()
        view = _rsvp_view(_by_token(token))
    except (Problem, DomainError) as refusal:
        if _wants_html():
            return _html_problem(_as_problem(refusal), None)
        raise
    return _rsvp_response(view)


@blp.route("/rsvp/<token>", methods=["POST"])
@blp.response(200, RsvpSchema)
@blp.alt_response(200, schema=_HTML_PAGE, content_type="text/html", success=True)
@blp.problems(400, 404, 409, 410, 415, 422, 429)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            media_type: {"schema": AnswerSchema} for media_type in ("application/json", *FORMS)
        },
    }
)
def rsvp_answer(token: str) -> Response:
    """Accept or decline (``{"response": "accept" | "decline"}``, or the HTML form);
    the answer may change until the deadline."""
    view = None
    try:
        _rate_limit()
        if request.mimetype in FORMS:
            body: Any = request.form.to_dict()
        elif not is_json(request.mimetype):
            raise Problem(415, "Send the answer as JSON or as the page's form.")
        else:
            body = request.get_json(silent=True)
            if body is None:
                raise Problem(400, "The request body is not valid JSON.")
        try:
            response = _answer.load(body)["response"]
        except ValidationError as exc:
            raise Problem(422, "The request body is not valid.", errors=exc.messages) from exc
        invitation = operations.answer(ctx(), response, token=token)
        view = _rsvp_view(invitation)
    except (Problem, DomainError) as refusal:
        if _wants_html():
            return _html_problem(_as_problem(refusal), view)
        raise
    return _rsvp_response(view, message=view["status"])


# --- erasure requests: the right to be forgotten ---------------------------------------

ERASURE_ROLES = ("secretariat", "ops")


def _erasure_view(entry: dict[str, Any]) -> dict[str, Any]:
    return domain.erasure_view(entry, datetime.now(UTC), ctx().settings.erasure_overdue_after_s)


@blp.route("/erasure-requests", methods=["POST"])
@require_roles(*ERASURE_ROLES)
@blp.arguments(ErasureRequestSchema)
@blp.response(202, ErasureSchema)
def request_erasure(args: dict[str, Any]) -> Response:
    """Erase a person's data in every service (secretariat or ops). Answers at
    once with the request; its status shows each service's answer."""
    entry = operations.request_erasure(
        ctx(),
        args["email"],
        reason=args["reason"],
        accounts=args["accounts"],
        by=current_principal().sub,
    )
    response = jsonify(ErasureSchema().dump(_erasure_view(entry)))
    response.status_code = 202
    response.headers["Location"] = f"/v1/erasure-requests/{entry['_id']}"
    return response


@blp.route("/erasure-requests", methods=["GET"])
@require_roles(*ERASURE_ROLES)
@blp.arguments(ErasureQuerySchema, location="query")
@blp.response(200, ErasureListSchema)
def list_erasures(args: dict[str, Any]) -> dict[str, Any]:
    """The ledger, newest first (status ``overdue`` is shown, not filtered on)."""
    query = {name: args[name] for name in ("status", "kind") if name in args}
    page, size = args["page"], args["page_size"]
    rows, total = ctx().store.find_erasures(query, (page - 1) * size, size)
    return page_body([_erasure_view(row) for row in rows], total, page, size)


@blp.route("/erasure-requests/<request_id>", methods=["GET"])
@require_roles(*ERASURE_ROLES)
@blp.response(200, ErasureSchema)
@blp.problems(404)
def get_erasure(request_id: str) -> dict[str, Any]:
    """One request: each service's status, and the certificate once all answered."""
    entry = ctx().store.get_erasure(request_id)
    if entry is None:
        raise Problem(404, f"There is no erasure request {request_id}.")
    return _erasure_view(entry)

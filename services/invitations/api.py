"""HTTP routes of the invitations service (thin: parsing, validation and
authorisation here, write paths in ``operations``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request
from marshmallow import ValidationError
from webargs.core import is_json

from services.invitations import domain, operations, registration_page, rsvp_page
from services.invitations.domain import MAX_PLACES
from services.invitations.operations import Context
from services.invitations.schemas import (
    CSV_DESCRIPTION,
    NOMINATION_SORTABLE,
    QUOTAS_BODY,
    REGISTRATION_SORTABLE,
    SORTABLE,
    AnswerSchema,
    CoordinatorBodySchema,
    CoordinatorListSchema,
    CoordinatorQuerySchema,
    CoordinatorSchema,
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
    NominationListSchema,
    NominationQuerySchema,
    NominationSchema,
    NomineeSchema,
    QuotasSchema,
    RegistrationBodySchema,
    RegistrationLinkSchema,
    RegistrationListSchema,
    RegistrationQuerySchema,
    RegistrationReceivedSchema,
    RegistrationSchema,
    RejectSchema,
    RsvpSchema,
)
from shared.auth import current_principal, require_roles
from shared.errors import DomainError, Forbidden
from shared.fields import CountryCode
from shared.http import client_key, etag, page_body, parse_sort
from shared.pages import wants_html
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
    if "origin" in args:
        # Records stored before origins existed are invitations.
        origin = args["origin"]
        query["origin"] = {"$in": [origin, None]} if origin == "invitation" else origin
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
    settings = ctx().settings
    ctx().store.rate_limits.check(
        _client(),
        limit=settings.rsvp_rate_limit,
        window_s=settings.rsvp_rate_window_s,
        what="RSVP requests",
    )


def _rsvp_view(invitation: dict[str, Any]) -> dict[str, Any]:
    event = ctx().store.get_event(invitation["event_id"]) or {"id": invitation["event_id"]}
    can_answer = True
    try:
        domain.check_answerable(invitation, event, datetime.now(UTC), deadline_binds=True)
    except DomainError:
        can_answer = False
    deadline = event.get("registration_deadline")
    return {
        "id": invitation["id"],
        "status": invitation["status"],
        "name": invitation["name"],
        "language": invitation["language"],
        "role": invitation["role"],
        "registration_deadline": event.get("registration_deadline"),
        "can_answer": can_answer,
        "deadline_passed": deadline is not None and deadline <= datetime.now(UTC),
        "event": event,
    }


def _rsvp_response(view: dict[str, Any], *, answered: bool = False) -> Response:
    if wants_html():
        return rsvp_page.page(view, answered=answered)
    return jsonify(_rsvp.dump(view))


# Paths whose URLs carry a credential: never sent on as a Referer, never cached.
LINK_PATHS = ("/v1/rsvp/", "/v1/registrations/confirm/", "/v1/registrations/cancel/")


@blp.after_request
def _rsvp_headers(response: Response) -> Response:
    if request.path.startswith(LINK_PATHS):
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response


def _by_token(token: str) -> dict[str, Any]:
    invitation = ctx().store.by_token_hash(domain.token_hash(token))
    if invitation is None or invitation.get("origin") == "registration":
        raise Problem(404, "This RSVP link is not known.")
    return invitation


def _as_problem(refusal: Problem | DomainError) -> Problem:
    return refusal if isinstance(refusal, Problem) else problem_from_domain_error(refusal)


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
        if wants_html():
            return rsvp_page.problem(_as_problem(refusal), None)
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
        if wants_html():
            problem = _as_problem(refusal)
            return rsvp_page.problem(problem, view or _known_view(token, problem))
        raise
    return _rsvp_response(view, answered=True)


def _known_view(token: str, problem: Problem) -> dict[str, Any] | None:
    """The invitation a refused answer was about, to show beside the reason
    (none for an unknown link or a rate-limited client)."""
    if problem.status in (404, 429):
        return None
    invitation = ctx().store.by_token_hash(domain.token_hash(token))
    return _rsvp_view(invitation) if invitation is not None else None


# --- open registration -------------------------------------------------------------

_registration = RegistrationBodySchema()
_registration_view = RegistrationSchema()
_link = RegistrationLinkSchema()
CSV_EXPORT_COLUMNS = (
    "id",
    "status",
    "email",
    "name",
    "organisation",
    "stakeholder_type",
    "country",
    "language",
    "created_at",
    "confirmed_at",
    "privacy_notice",
    "consent_at",
    "invitation_id",
)
RECEIVED = {
    "status": "received",
    "detail": "If this address may register, a confirmation link is on its way to it. "
    "Nothing is reserved until the link is used.",
}


@blp.route("/events/<event_id>/registrations", methods=["POST"])
@blp.response(202, RegistrationReceivedSchema)
@blp.doc(
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": RegistrationBodySchema}},
    }
)
def register(event_id: str) -> Response:
    """Register for an open event (anyone, no token): a confirmation link is
    mailed, and nothing counts until it is used (double opt-in).

    The answer is the same whether the address is new, registered before (the
    confirmation is sent again, at most every ten minutes) or invited already.
    Refused: too many requests from one address (429), an unknown or closed
    event (404/409), a blocked e-mail domain or a filled-in honeypot (422).
    """
    settings = ctx().settings
    ctx().store.rate_limits.check(
        _client(),
        limit=settings.registration_rate_limit,
        window_s=settings.registration_rate_window_s,
        bucket="register",
        what="registrations",
    )
    body = request.get_json(silent=True)
    if body is None:
        raise Problem(400, "The request body is not valid JSON.")
    try:
        row = _registration.load(body)
    except ValidationError as exc:
        raise Problem(422, "The registration is not valid.", errors=exc.messages) from exc
    if row.pop("website", ""):
        raise Problem(422, "This registration was refused.", slug="registration-refused")
    row["email"] = row["email"].strip().lower()
    if domain.domain_blocked(row["email"], settings.blocked_domains):
        raise Problem(
            422,
            "The registration is not valid.",
            errors={"email": ["Registrations from this e-mail domain are not accepted."]},
        )
    operations.register(ctx(), event_id, row)
    response = jsonify(RECEIVED)
    response.status_code = 202
    return response


def _wants_csv() -> bool:
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/csv"]) == "text/csv" and (
        accept["text/csv"] > accept["application/json"]
    )


def _csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: a value starting with a formula
    character (``= + - @``, tab, CR) gets a leading apostrophe."""
    text = value.isoformat() if isinstance(value, datetime) else "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_line(cells: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


def _csv_rows(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The export, one line at a time (a large event is never held in memory)."""
    yield _csv_line(CSV_EXPORT_COLUMNS)
    for reg in items:
        consent = reg.get("consent") or {}
        values = {**reg, "privacy_notice": consent.get("privacy_notice")}
        values["consent_at"] = consent.get("at")
        yield _csv_line([_csv_cell(values.get(name)) for name in CSV_EXPORT_COLUMNS])


@blp.route("/events/<event_id>/registrations", methods=["GET"])
@require_roles("secretariat")
@blp.arguments(RegistrationQuerySchema, location="query")
@blp.response(200, RegistrationListSchema)
@blp.alt_response(200, content_type="text/csv", description="Accept: text/csv: all matching")
def list_registrations(args: dict[str, Any], event_id: str) -> Any:
    """An event's registrations with `status`, `stakeholder_type` and `country`
    filters and counts by status, stakeholder type and country (secretariat);
    ``Accept: text/csv`` exports every matching one."""
    base: dict[str, Any] = {"event_id": event_id}
    query = dict(base)
    for name in ("status", "stakeholder_type", "country"):
        if name in args:
            query[name] = args[name]
    sort = parse_sort(args["sort"], REGISTRATION_SORTABLE, default="created_at")
    if _wants_csv():
        rows = _csv_rows(ctx().store.each_registration(query, sort))
        response = Response(rows, mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="registrations-{event_id}.csv"'
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    page, size = args["page"], args["page_size"]
    items, total = ctx().store.find_registrations(query, sort, (page - 1) * size, size)
    body = page_body(items, total, page, size)
    body["counts"] = ctx().store.registration_counts(base)
    return body


def _registration_response(registration: dict[str, Any]) -> Response:
    response = jsonify(_registration_view.dump(registration))
    response.headers["ETag"] = etag(registration["version"])
    return response


@blp.route("/registrations/<registration_id>", methods=["GET"])
@require_roles("secretariat")
@blp.response(200, RegistrationSchema)
def get_registration(registration_id: str) -> Response:
    """One registration with its audit trail (secretariat)."""
    registration = ctx().store.registration(registration_id)
    if registration is None:
        raise Problem(404, f"There is no registration {registration_id}.")
    return _registration_response(registration)


@blp.route("/registrations/<registration_id>/approve", methods=["POST"])
@require_roles("secretariat")
@blp.response(200, RegistrationSchema)
def approve_registration(registration_id: str) -> Response:
    """Moderated events: the confirmed registration takes a seat or a
    waiting-list place, and the person gets the confirmation mail (secretariat)."""
    sub = current_principal().sub or ""
    return _registration_response(
        operations.decide_registration(ctx(), registration_id, "approve", sub)
    )


@blp.route("/registrations/<registration_id>/reject", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(RejectSchema)
@blp.response(200, RegistrationSchema)
def reject_registration(args: dict[str, Any], registration_id: str) -> Response:
    """Moderated events: refuse a confirmed registration; the person is sent the
    reason (secretariat)."""
    sub = current_principal().sub or ""
    return _registration_response(
        operations.decide_registration(ctx(), registration_id, "reject", sub, args["reason"])
    )


def _confirm_view(registration: dict[str, Any]) -> dict[str, Any]:
    event = ctx().store.get_event(registration["event_id"]) or {"id": registration["event_id"]}
    can_confirm = registration["status"] == "unconfirmed"
    if can_confirm:
        try:
            domain.check_confirmable(registration, event, datetime.now(UTC))
        except DomainError:
            can_confirm = False
    status = registration["status"]
    if status == "unconfirmed" and datetime.now(UTC) >= registration["expires_at"]:
        status = "expired"  # the expiry job has not come by yet
    return {
        "id": registration["id"],
        "status": status,
        "name": registration.get("name") or "",
        "language": registration.get("language") or "en",
        "registration_deadline": event.get("registration_deadline"),
        "can_confirm": can_confirm,
        "can_cancel": False,
        "event": event,
    }


def _cancel_view(invitation: dict[str, Any]) -> dict[str, Any]:
    event = ctx().store.get_event(invitation["event_id"]) or {"id": invitation["event_id"]}
    can_cancel = invitation["status"] in ("accepted", "waitlisted")
    if can_cancel:
        try:
            domain.check_cancellable(invitation, event)
        except DomainError:
            can_cancel = False
    return {
        "id": invitation["id"],
        "status": domain.REGISTRATION_OF_STATUS.get(invitation["status"], invitation["status"]),
        "name": invitation["name"],
        "language": invitation["language"],
        "registration_deadline": event.get("registration_deadline"),
        "can_confirm": False,
        "can_cancel": can_cancel,
        "event": event,
    }


def _link_response(kind: str, view: dict[str, Any], *, done: bool = False) -> Response:
    if wants_html():
        return registration_page.page(kind, view, done=done)
    return jsonify(_link.dump(view))


def _link_refusal(kind: str, refusal: Problem | DomainError, view: dict | None) -> Response:
    if not wants_html():
        raise refusal
    return registration_page.problem(kind, _as_problem(refusal), view)


def _link_rate_limit() -> None:
    """Confirmation and cancellation links count against the RSVP limit."""
    _rate_limit()


def _registration_by_token(token: str) -> dict[str, Any]:
    registration = ctx().store.registration_by_confirm_hash(domain.token_hash(token))
    if registration is None:
        raise Problem(404, "This confirmation link is not known.")
    return registration


def _registrant_by_token(token: str) -> dict[str, Any]:
    invitation = ctx().store.by_token_hash(domain.token_hash(token))
    if invitation is None or invitation.get("origin") != "registration":
        raise Problem(404, "This cancellation link is not known.")
    return invitation


@blp.route("/registrations/confirm/<token>", methods=["GET"])
@blp.response(200, RegistrationLinkSchema)
def confirmation_show(token: str) -> Response:
    """Show the registration the link confirms; never changes anything (mail
    scanners prefetch links). HTML when the client asks for text/html."""
    try:
        _link_rate_limit()
        view = _confirm_view(_registration_by_token(token))
    except (Problem, DomainError) as refusal:
        return _link_refusal("confirm", refusal, None)
    return _link_response("confirm", view)


@blp.route("/registrations/confirm/<token>", methods=["POST"])
@blp.response(200, RegistrationLinkSchema)
def confirmation_confirm(token: str) -> Response:
    """Confirm the registration (double opt-in): a seat or a waiting-list place,
    or, on a moderated event, a wait for the secretariat. Unknown link 404,
    expired or event cancelled 410, after the deadline 409."""
    view = None
    try:
        _link_rate_limit()
        registration = operations.confirm_registration(ctx(), token)
        view = _confirm_view(registration)
    except (Problem, DomainError) as refusal:
        return _link_refusal("confirm", refusal, view)
    return _link_response("confirm", view, done=True)


@blp.route("/registrations/cancel/<token>", methods=["GET"])
@blp.response(200, RegistrationLinkSchema)
def cancellation_show(token: str) -> Response:
    """Show the registration the link cancels; never changes anything."""
    try:
        _link_rate_limit()
        view = _cancel_view(_registrant_by_token(token))
    except (Problem, DomainError) as refusal:
        return _link_refusal("cancel", refusal, None)
    return _link_response("cancel", view)


@blp.route("/registrations/cancel/<token>", methods=["POST"])
@blp.response(200, RegistrationLinkSchema)
def cancellation_cancel(token: str) -> Response:
    """Cancel the registration: the seat goes to the earliest waitlisted. Unknown
    link 404, event cancelled or registration withdrawn 410."""
    view = None
    try:
        _link_rate_limit()
        invitation = operations.cancel_registration(ctx(), token)
        view = _cancel_view(invitation)
    except (Problem, DomainError) as refusal:
        return _link_refusal("cancel", refusal, view)
    return _link_response("cancel", view, done=True)


# --- national nominations ------------------------------------------------------------

_coordinator = CoordinatorSchema()
_nomination = NominationSchema()


@blp.route("/coordinators", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(CoordinatorBodySchema)
@blp.response(201, CoordinatorSchema)
def add_coordinator(args: dict[str, Any]) -> Response:
    """Register a country's national contact point: nomination requests and
    decisions about the country are mailed to its coordinators (secretariat)."""
    args["email"] = args["email"].strip().lower()
    coordinator = operations.add_coordinator(ctx(), args, current_principal().sub or "")
    response = jsonify(_coordinator.dump(coordinator))
    response.status_code = 201
    return response


@blp.route("/coordinators", methods=["GET"])
@require_roles("secretariat")
@blp.arguments(CoordinatorQuerySchema, location="query")
@blp.response(200, CoordinatorListSchema)
def list_coordinators(args: dict[str, Any]) -> dict[str, Any]:
    """The coordinators, by country (secretariat)."""
    query = {"country": args["country"]} if "country" in args else {}
    page, size = args["page"], args["page_size"]
    items, total = ctx().store.find_coordinators(query, (page - 1) * size, size)
    return page_body(items, total, page, size)


@blp.route("/coordinators/<coordinator_id>", methods=["DELETE"])
@require_roles("secretariat")
@blp.response(204)
def remove_coordinator(coordinator_id: str) -> Response:
    """Take a coordinator off the list; their address is deleted (secretariat)."""
    if not ctx().store.delete_coordinator(coordinator_id):
        raise Problem(404, f"There is no coordinator {coordinator_id}.")
    return Response(status=204)


def _quota_countries(body: Any) -> dict[str, int]:
    try:
        quotas = QUOTAS_BODY.deserialize(body)
    except ValidationError as exc:
        raise Problem(422, "The quotas are not valid.", errors=exc.messages) from exc
    return {country: value["places"] for country, value in quotas.items()}


@blp.route("/events/<event_id>/quotas", methods=["PUT"])
@require_roles("secretariat")
@blp.response(200, QuotasSchema)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "propertyNames": {"type": "string", "format": CountryCode.openapi_format},
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "places": {"type": "integer", "minimum": 0, "maximum": MAX_PLACES}
                        },
                        "required": ["places"],
                        "additionalProperties": False,
                    },
                    "example": {"LT": {"places": 2}, "DE": {"places": 2}, "EE": {"places": 6}},
                }
            }
        },
    }
)
def put_quotas(event_id: str) -> dict[str, Any]:
    """Set each country's places on a nomination event; only its host and guest
    countries may have places (422). Coordinators of a country whose places are
    new or changed are asked for nominations (secretariat)."""
    body = request.get_json(silent=True)
    if body is None:
        raise Problem(400, "The request body is not valid JSON.")
    quotas = _quota_countries(body)
    return operations.set_quotas(ctx(), event_id, quotas, current_principal().sub or "")


@blp.route("/events/<event_id>/quotas", methods=["GET"])
@require_roles("secretariat", "coordinator")
@blp.response(200, QuotasSchema)
def get_quotas(event_id: str) -> dict[str, Any]:
    """The event's places per country (the secretariat); a coordinator sees their
    own country's only (none: 404)."""
    view = operations.quota_view(ctx(), event_id)
    country = domain.coordinator_country(current_principal())
    if country is not None:
        if country not in view["countries"]:
            raise Problem(404, f"{country} has no places on event {event_id}.")
        view["countries"] = {country: view["countries"][country]}
    return view


@blp.route("/events/<event_id>/nominations", methods=["POST"])
@require_roles("coordinator", "secretariat")
@blp.arguments(NomineeSchema)
@blp.response(201, NominationSchema)
def nominate(args: dict[str, Any], event_id: str) -> Response:
    """Nominate one person of the coordinator's own country (the secretariat:
    of the ``country`` it names, on its behalf). Beyond the country's places 409;
    a substitute takes none until one frees up. Another country 403, a country
    without places or an event taking no nominations 404."""
    principal = current_principal()
    country, on_behalf = domain.nominating_country(principal, args.pop("country", None))
    args["email"] = args["email"].strip().lower()
    nomination = operations.nominate(ctx(), event_id, args, country, principal.sub or "", on_behalf)
    response = jsonify(_nomination.dump(nomination))
    response.status_code = 201
    response.headers["ETag"] = etag(nomination["version"])
    return response


@blp.route("/events/<event_id>/nominations", methods=["GET"])
@require_roles("coordinator", "secretariat")
@blp.arguments(NominationQuerySchema, location="query")
@blp.response(200, NominationListSchema)
def list_nominations(args: dict[str, Any], event_id: str) -> dict[str, Any]:
    """A coordinator sees their own country's nominations and the places it has
    left; the secretariat sees every country's, with counts per country."""
    country = domain.coordinator_country(current_principal())
    view = operations.quota_view(ctx(), event_id)["countries"]
    query: dict[str, Any] = {"event_id": event_id}
    if country is not None:
        if args.get("country", country) != country:
            raise Forbidden(f"You coordinate {country}; you see its nominations only.")
        if country not in view:
            raise Problem(404, f"{country} has no places on event {event_id}.")
        query["country"] = country
    elif "country" in args:
        query["country"] = args["country"]
    if "status" in args:
        query["status"] = args["status"]
    sort = parse_sort(args["sort"], NOMINATION_SORTABLE, default="created_at")
    page, size = args["page"], args["page_size"]
    items, total = ctx().store.find_nominations(query, sort, (page - 1) * size, size)
    body = page_body(items, total, page, size)
    if country is not None:
        body["quota"] = view[country]
    else:
        by_status = ctx().store.nomination_counts({"event_id": event_id})
        body["counts"] = {
            c: {**view.get(c, {}), "by_status": by_status.get(c, {})}
            for c in sorted(set(view) | set(by_status))
        }
    return body


def _visible_nomination(nomination_id: str) -> dict[str, Any]:
    """The nomination if the caller may see it (the secretariat, a coordinator of
    its country); 404 otherwise."""
    nomination = ctx().store.nomination(nomination_id)
    principal = current_principal()
    if nomination is not None and (
        principal.is_secretariat
        or ("coordinator" in principal.roles and principal.country == nomination["country"])
    ):
        return nomination
    raise Problem(404, f"There is no nomination {nomination_id}.")


def _nomination_response(nomination: dict[str, Any]) -> Response:
    response = jsonify(_nomination.dump(nomination))
    response.headers["ETag"] = etag(nomination["version"])
    return response


@blp.route("/nominations/<nomination_id>", methods=["GET"])
@require_roles("coordinator", "secretariat")
@blp.response(200, NominationSchema)
def get_nomination(nomination_id: str) -> Response:
    """One nomination with its trail (the secretariat, a coordinator of its country)."""
    return _nomination_response(_visible_nomination(nomination_id))


@blp.route("/nominations/<nomination_id>/approve", methods=["POST"])
@require_roles("secretariat")
@blp.response(200, NominationSchema)
def approve_nomination(nomination_id: str) -> Response:
    """The nomination becomes an invitation: the RSVP link, the mail and the
    calendar go to the nominee, and the coordinators are told (secretariat)."""
    sub = current_principal().sub or ""
    return _nomination_response(operations.decide_nomination(ctx(), nomination_id, "approve", sub))


@blp.route("/nominations/<nomination_id>/reject", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(RejectSchema)
@blp.response(200, NominationSchema)
def reject_nomination(args: dict[str, Any], nomination_id: str) -> Response:
    """Refuse a nomination with a reason the coordinators are told; the place
    goes back to the country (or its earliest substitute) (secretariat)."""
    sub = current_principal().sub or ""
    return _nomination_response(
        operations.decide_nomination(ctx(), nomination_id, "reject", sub, args["reason"])
    )


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

"""HTTP routes of the documents service (thin: validation, authorisation and
responses here; receiving files in ``uploads``, the zip in ``archive``, write
paths in ``operations``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.wsgi import wrap_file

from services.documents import archive, operations, uploads
from services.documents.domain import (
    BINDS_TO_SEEN_VERSION,
    CONTENT_TYPES,
    UPLOAD_ROLES,
    check_versionable,
    content_disposition,
    email_hash,
    may_act,
    may_add_version,
    may_read,
    may_upload,
    query_terms,
    read_filter,
)
from services.documents.operations import Context
from services.documents.schemas import (
    SORTABLE,
    ContentQuerySchema,
    DocumentFormSchema,
    DocumentListSchema,
    DocumentQuerySchema,
    DocumentSchema,
    DueDatesSchema,
    HistorySchema,
    UploadFormSchema,
    VersionFormSchema,
)
from services.documents.store import CHUNK, DocumentStore
from shared.auth import Principal, current_principal, require_roles
from shared.http import etag, if_match_parameter, page_body, parse_sort
from shared.problems import Problem
from shared.web import ApiBlueprint, service_context

blp = ApiBlueprint("documents", __name__, url_prefix="/v1", description="Programme papers")

FILTERS = ("event_id", "kind", "country", "language", "status")
_document_schema = DocumentSchema()
_form_schema = DocumentFormSchema()


def ctx() -> Context:
    return service_context()


def store() -> DocumentStore:
    return ctx().store


def accepted_events(who: Principal) -> list[str]:
    email = who.verified_email
    return store().accepted_events(email_hash(email) if email else None)


def _respond(doc: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(_document_schema.dump(doc))
    response.status_code = status
    response.headers["ETag"] = etag(doc["revision"])
    if status == 201:
        response.headers["Location"] = f"/v1/documents/{doc['id']}"
    return response


def _readable(document_id: str) -> dict[str, Any]:
    """The document if the caller may read it; 404 otherwise (its existence stays private)."""
    who = current_principal()
    doc = store().get(document_id)
    if doc is None or not may_read(doc, who, accepted_events(who) if doc else []):
        raise Problem(404, f"There is no document {document_id}.")
    return doc


def _known_event(event_id: str) -> dict[str, Any]:
    event = store().get_event(event_id)
    if event is None:
        raise Problem(404, f"There is no event {event_id}.")
    return event


def _receive(allowed_fields: set[str]) -> uploads.Upload:
    """The request's multipart body streamed into GridFS (see ``uploads``)."""
    limit = ctx().settings.document_max_bytes
    # this endpoint reads bodies up to the file's limit, not the app's default
    request.max_content_length = uploads.body_limit(limit)
    return uploads.receive(
        store(),
        request.environ,
        content_length=request.content_length,
        mimetype=request.mimetype,
        max_bytes=limit,
        allowed_fields=allowed_fields,
    )


def _multipart(form: type[Schema]) -> dict[str, Any]:
    """The request body of an upload: a multipart ``form`` whose ``file`` part is
    one of the accepted types (sniffed from its bytes: 415 otherwise)."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": form,
                "encoding": {"file": {"contentType": ", ".join(CONTENT_TYPES)}},
            }
        },
    }


def _streamed(types: Iterable[str], description: str) -> Callable[[Any], Any]:
    """Document a file answer: whole (200), a byte range of it (206, with
    ``Range``), or not modified (304, with ``If-None-Match``); 416 for a range
    beyond its end."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    content = {media_type: binary for media_type in types}

    def decorator(view: Any) -> Any:
        return blp.doc(
            responses={
                "200": {"description": description, "content": content},
                "206": {"description": "The range asked for", "content": content},
                "304": {"description": "Not modified since the ETag given"},
            }
        )(blp.problems(416)(view))

    return decorator


# --- documents ------------------------------------------------------------------


@blp.route("/events/<event_id>/documents", methods=["POST"])
@require_roles(*UPLOAD_ROLES)
@blp.response(201, DocumentSchema)
@blp.problems(404, 413, 415, 422)
@blp.doc(requestBody=_multipart(UploadFormSchema))
def upload_document(event_id: str) -> Response:
    """Upload a paper (multipart: ``file``, ``kind``, ``title``, ``language``,
    optional ``country`` and ``summary``); it starts as a draft."""
    who = current_principal()
    _known_event(event_id)
    if not may_upload(who, event_id in accepted_events(who)):
        raise Problem(
            403,
            "Only the secretariat and the event's accepted experts and "
            "participants may upload papers.",
        )
    received = _receive(set(_form_schema.fields))
    try:
        data = _form_schema.load(received.fields)
    except ValidationError as exc:
        uploads.discard(store(), [received.sink])
        raise Problem(
            422, "The request body or parameters are not valid.", errors=exc.messages
        ) from exc
    doc = operations.create_document(
        ctx(), event_id, data, received.sink, received.content_type, received.filename, who
    )
    return _respond(doc, 201)


@blp.route("/documents/<document_id>/versions", methods=["POST"])
@require_roles()
@blp.response(201, DocumentSchema)
@blp.problems(404, 409, 413, 415, 422)
@blp.doc(requestBody=_multipart(VersionFormSchema))
def add_version(document_id: str) -> Response:
    """A new version of a draft or submitted paper (multipart ``file``); earlier ones stay."""
    who = current_principal()
    doc = _readable(document_id)
    check_versionable(doc)  # before streaming; the operation checks again as it writes
    if not may_add_version(doc, who):
        raise Problem(403, "Only the secretariat or the uploader may add versions.")
    received = _receive(set())
    updated = operations.add_version(
        ctx(), document_id, received.sink, received.content_type, received.filename, who
    )
    return _respond(updated, 201)


@blp.route("/documents", methods=["GET"])
@blp.arguments(DocumentQuerySchema, location="query")
@blp.response(200, DocumentListSchema)
def list_documents(args: dict[str, Any]) -> dict[str, Any]:
    """The papers the caller may read: filter, sort and page them."""
    who = current_principal()
    filters = {name: args[name] for name in FILTERS if name in args}
    terms = query_terms(args["q"]) if args.get("q") else []
    sort = parse_sort(args["sort"], SORTABLE, default="-created_at")
    page, size = args["page"], args["page_size"]
    items, total = store().find(
        read_filter(who, accepted_events(who)), filters, terms, sort, (page - 1) * size, size
    )
    return page_body(items, total, page, size)


@blp.route("/documents/<document_id>", methods=["GET"])
@blp.response(200, DocumentSchema)
@blp.problems(404)
def get_document(document_id: str) -> Response:
    """One paper's metadata and its versions, with its ETag (the revision)."""
    return _respond(_readable(document_id))


@blp.route("/documents/<document_id>/history", methods=["GET"])
@blp.response(200, HistorySchema)
@blp.problems(404)
def get_history(document_id: str) -> dict[str, Any]:
    """Who did what when."""
    return {"items": _readable(document_id).get("history", [])}


@blp.route("/documents/<document_id>/content", methods=["GET"])
@blp.arguments(ContentQuerySchema, location="query")
@_streamed(CONTENT_TYPES, "The file of the version")
@blp.problems(404)
def get_content(args: dict[str, Any], document_id: str) -> Response:
    """The file (``?version=N`` for an earlier one), streamed from GridFS, with
    ``ETag`` (the sha256), ``If-None-Match`` and byte ranges."""
    doc = _readable(document_id)
    number = args.get("version") or doc["version"]
    entry = next((v for v in doc["versions"] if v["version"] == number), None)
    if entry is None:
        raise Problem(404, f"Document {document_id} has no version {number}.")
    stored = store().open_file(entry["file_id"])
    response = Response(
        wrap_file(request.environ, stored, buffer_size=CHUNK),
        content_type=entry["content_type"],
        direct_passthrough=True,
    )
    response.content_length = entry["size"]
    response.set_etag(entry["sha256"])
    response.last_modified = entry["uploaded_at"]
    response.headers["Content-Disposition"] = content_disposition(
        entry["filename"], args["disposition"]
    )
    response.headers["Cache-Control"] = (
        "public, no-cache" if doc["status"] == "published" else "private, no-cache"
    )
    response.headers["X-Document-Version"] = str(number)
    return response.make_conditional(request, accept_ranges=True, complete_length=entry["size"])


def _transition_view(action: str, doc: str) -> None:
    def view(document_id: str) -> Response:
        who = current_principal()
        current = _readable(document_id)
        if not may_act(action, current, who):
            raise Problem(403, f"You may not {action} this document.")
        return _respond(
            operations.transition(
                ctx(), document_id, action, who, if_match=request.headers.get("If-Match")
            )
        )

    view.__name__ = f"{action}_document"
    view.__doc__ = doc
    binds = action in BINDS_TO_SEEN_VERSION
    if_match = if_match_parameter(required=binds)
    problems = (404, 409, 412, 428) if binds else (404, 409, 412)
    blp.route(f"/documents/<document_id>/{action}", methods=["POST"])(
        require_roles()(
            blp.doc(parameters=[if_match])(
                blp.problems(*problems)(blp.response(200, DocumentSchema)(view))
            )
        )
    )


_transition_view("submit", "Submit a draft for review (the uploader or the secretariat).")
_transition_view(
    "approve",
    "Approve the submitted version read (If-Match: its ETag); it circulates to participants.",
)
_transition_view("publish", "Publish an approved paper to everyone (secretariat).")
_transition_view("withdraw", "Withdraw a paper (secretariat; the uploader before approval).")


# --- the event's papers as one zip ---------------------------------------------


@blp.route("/events/<event_id>/documents.zip", methods=["GET"])
@_streamed(["application/zip"], "The papers, one file each")
@blp.problems(404)
def event_documents_zip(event_id: str) -> Response:
    """Every paper of the event the caller may read (current versions), as one
    zip: built once per set of versions and served from storage, with ``ETag``,
    ``If-None-Match`` and byte ranges."""
    _known_event(event_id)
    who = current_principal()
    docs = list(store().event_papers(read_filter(who, accepted_events(who)), event_id))
    stored = archive.stored_zip(docs, store())
    response = Response(
        wrap_file(request.environ, store().open_archive(stored["_id"]), buffer_size=CHUNK),
        mimetype="application/zip",
        direct_passthrough=True,
    )
    response.content_length = stored["length"]
    response.set_etag(stored["filename"])  # the set's key
    response.headers["Content-Disposition"] = content_disposition(f"papers-{event_id}.zip")
    # Callers see different sets; the ETag names the set, so revalidating is safe.
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request, accept_ranges=True, complete_length=stored["length"])


# --- due dates -----------------------------------------------------------------


@blp.route("/events/<event_id>/due-dates", methods=["PUT"])
@require_roles("secretariat")
@blp.arguments(DueDatesSchema)
@blp.response(200, DueDatesSchema)
@blp.problems(404)
def put_due_dates(body: dict[str, Any], event_id: str) -> dict[str, Any]:
    """Set when each expected paper is due, and whom to remind (secretariat)."""
    _known_event(event_id)
    items = [{**item, "due_on": item["due_on"].isoformat()} for item in body["items"]]
    saved = store().set_due_dates(event_id, items, current_principal().sub)
    return {"items": _dated(saved["items"])}


@blp.route("/events/<event_id>/due-dates", methods=["GET"])
@require_roles("secretariat")
@blp.response(200, DueDatesSchema)
@blp.problems(404)
def get_due_dates(event_id: str) -> dict[str, Any]:
    """The event's due dates (secretariat)."""
    _known_event(event_id)
    saved = store().get_due_dates(event_id) or {"items": []}
    return {"items": _dated(saved["items"])}


def _dated(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "due_on": date.fromisoformat(item["due_on"])} for item in items]

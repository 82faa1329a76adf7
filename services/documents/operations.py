"""Every write path of the documents service: change the state and announce it,
in one MongoDB transaction with its outbox records.

Files are streamed into GridFS *before* the transaction (a 25 MiB write has no
place in one); the transaction then marks the file committed together with the
version that points to it. A file left uncommitted (a crash in between) is
swept by the worker's ``orphan-files`` job (``jobs.py``).

Refusals are the plain errors of :mod:`shared.errors`; the HTTP edge decides
how they are answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession

from services.documents.config import DocumentsSettings
from services.documents.domain import (
    BINDS_TO_SEEN_VERSION,
    check_versionable,
    may_add_version,
    next_status,
    search_terms,
)
from services.documents.store import ERASURE, DocumentStore, UploadSink
from shared import erasure
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, NotFound
from shared.http import check_if_match
from shared.payloads.documents import DocumentPayloadSchema
from shared.payloads.people import ErasureRequestedPayload
from shared.service import ServiceContext

Context = ServiceContext[DocumentsSettings, DocumentStore]
"""What the documents service's views, handlers and jobs run with."""

_payload_schema = DocumentPayloadSchema()


def payload(doc: dict[str, Any]) -> dict[str, Any]:
    return _payload_schema.dump(
        {
            "document_id": doc["id"],
            "event_id": doc["event_id"],
            "kind": doc["kind"],
            "title": doc["title"],
            "language": doc["language"],
            "country": doc.get("country"),
            "version": doc["version"],
            "sha256": doc["sha256"],
            "status": doc["status"],
            "revision": doc["revision"],
            "occurred_at": datetime.now(UTC),
        }
    )


def _announce(ctx: Context, session: ClientSession, topic: str, doc: dict[str, Any]) -> None:
    ctx.outbox.add(
        session,
        topic=topic,
        key=doc["event_id"],
        seq=doc["revision"],
        subject=doc["id"],
        payload=payload(doc),
    )


def _version_entry(
    sink: UploadSink, number: int, content_type: str, filename: str, by: Principal
) -> dict[str, Any]:
    return {
        "version": number,
        "file_id": sink.file_id,
        "sha256": sink.sha256,
        "size": sink.size,
        "content_type": content_type,
        "filename": filename,
        "uploaded_by": by.sub,
        "uploaded_at": datetime.now(UTC),
    }


def _current(entry: dict[str, Any]) -> dict[str, Any]:
    """The document's top-level copy of its current version's facts."""
    return {k: entry[k] for k in ("version", "sha256", "size", "content_type", "filename")}


def _history(action: str, by: Principal, before: str | None, after: str, version: int) -> dict:
    return {
        "action": action,
        "by": by.sub,
        "at": datetime.now(UTC),
        "from_status": before,
        "to_status": after,
        "version": version,
    }


def create_document(
    ctx: Context,
    event_id: str,
    fields: dict[str, Any],
    sink: UploadSink,
    content_type: str,
    filename: str,
    by: Principal,
) -> dict[str, Any]:
    """A new draft document with its first version (the file is already in GridFS)."""
    now = datetime.now(UTC)
    entry = _version_entry(sink, 1, content_type, filename, by)
    doc: dict[str, Any] = {
        **fields,
        "_id": str(uuid.uuid4()),
        "event_id": event_id,
        "status": "draft",
        "revision": 1,
        "uploaded_by": by.sub,
        "created_at": now,
        "updated_at": now,
        **_current(entry),
        "versions": [entry],
        "history": [_history("upload", by, None, "draft", 1)],
    }
    doc["search_terms"] = search_terms(doc)

    def work(session: ClientSession) -> dict[str, Any]:
        ctx.store.insert(doc, session)
        ctx.store.commit_file(sink.file_id, doc["_id"], 1, session)
        created = {**doc, "id": doc["_id"]}
        _announce(ctx, session, "document.uploaded", created)
        return created

    return _with_file(ctx, sink, work)


def _with_file(
    ctx: Context, sink: UploadSink, work: Callable[[ClientSession], dict[str, Any]]
) -> dict[str, Any]:
    """Commit ``work``; the streamed file goes if the transaction does not commit."""
    try:
        return ctx.transaction(work)
    except BaseException:
        ctx.store.delete_file(sink.file_id)
        raise


def _load(ctx: Context, document_id: str, session: ClientSession) -> dict[str, Any]:
    doc = ctx.store.get(document_id, session)
    if doc is None:
        raise NotFound(f"There is no document {document_id}.")
    return doc


def _save(
    ctx: Context,
    doc: dict[str, Any],
    values: dict[str, Any],
    session: ClientSession,
    push: dict[str, Any],
) -> dict[str, Any]:
    updated = ctx.store.update(doc["id"], doc["revision"], values, session, push=push)
    if updated is None:
        # Changed after this transaction read it: only a write conflict makes pymongo
        # retry a transaction, so this refusal aborts it and reaches the caller.
        raise Conflict("The document changed while this request was applied; try again.")
    return updated


def add_version(
    ctx: Context,
    document_id: str,
    sink: UploadSink,
    content_type: str,
    filename: str,
    by: Principal,
) -> dict[str, Any]:
    """Keep every version; the new one becomes current (the status stays).

    Only a draft or submitted paper takes one, and only from the secretariat or
    its uploader: checked here, in the transaction that writes the version, since
    the paper may have been approved while the file was streaming in.
    """

    def work(session: ClientSession) -> dict[str, Any]:
        doc = _load(ctx, document_id, session)
        check_versionable(doc)
        if not may_add_version(doc, by):
            raise Forbidden("Only the secretariat or the uploader may add versions.")
        number = max(v["version"] for v in doc["versions"]) + 1
        entry = _version_entry(sink, number, content_type, filename, by)
        values = {**_current(entry), "updated_at": entry["uploaded_at"]}
        push = {
            "versions": entry,
            "history": _history("new_version", by, doc["status"], doc["status"], number),
        }
        updated = _save(ctx, doc, values, session, push)
        ctx.store.commit_file(sink.file_id, document_id, number, session)
        _announce(ctx, session, "document.uploaded", updated)
        return updated

    return _with_file(ctx, sink, work)


def transition(
    ctx: Context, document_id: str, action: str, by: Principal, if_match: str | None = None
) -> dict[str, Any]:
    """Submit, approve, publish or withdraw; an illegal transition is refused.
    An approval must name the revision the reviewer read (``if_match``): 428
    without it, 412 once a new version (or any change) came in since."""

    def work(session: ClientSession) -> dict[str, Any]:
        doc = _load(ctx, document_id, session)
        status, topic = next_status(action, doc["status"])
        check_if_match(doc["revision"], if_match, required=action in BINDS_TO_SEEN_VERSION)
        now = datetime.now(UTC)
        values = {"status": status, "updated_at": now, f"{status}_at": now}
        push = {"history": _history(action, by, doc["status"], status, doc["version"])}
        updated = _save(ctx, doc, values, session, push)
        _announce(ctx, session, topic, updated)
        return updated

    return ctx.transaction(work)


# --- the right to be forgotten ------------------------------------------------------


def erase_person(ctx: Context, session: ClientSession, request: ErasureRequestedPayload) -> None:
    """Erase what this service holds about the person, and answer the ledger
    (``internal.person.erasure_completed``), in the handler's transaction."""
    erasure.answer_request(ctx, session, ERASURE, request)

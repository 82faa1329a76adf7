"""Every write path of the documents service: change the state and announce it,
in one MongoDB transaction with its outbox records.

Files are streamed into GridFS *before* the transaction (a 25 MiB write has no
place in one); the transaction then marks the file committed together with the
version that points to it. A file left uncommitted (a crash in between) is
swept by the worker's ``sweep_orphan_files`` job.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo.client_session import ClientSession

from services.documents.domain import next_status, search_terms
from services.documents.schemas import DocumentPayloadSchema, ReminderPayloadSchema
from services.documents.store import DocumentStore, UploadSink
from shared.auth import Principal
from shared.errors import Problem
from shared.http import check_if_match
from shared.mongo import in_transaction
from shared.schedule import JobContext
from shared.web import Runtime

_payload_schema = DocumentPayloadSchema()
_reminder_schema = ReminderPayloadSchema()


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


def _announce(rt: Runtime, session: ClientSession, topic: str, doc: dict[str, Any]) -> None:
    rt.outbox.add(
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
    rt: Runtime,
    store: DocumentStore,
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
        store.insert(doc, session)
        store.commit_file(sink.file_id, doc["_id"], 1, session)
        created = {**doc, "id": doc["_id"]}
        _announce(rt, session, "document.uploaded", created)
        return created

    return _with_file(store, sink, lambda: in_transaction(rt.client, work))


def _with_file(store: DocumentStore, sink: UploadSink, commit: Any) -> dict[str, Any]:
    try:
        return commit()
    except BaseException:
        store.delete_file(sink.file_id)
        raise


def _load(store: DocumentStore, document_id: str, session: ClientSession) -> dict[str, Any]:
    doc = store.get(document_id, session)
    if doc is None:
        raise Problem(404, f"There is no document {document_id}.")
    return doc


def _save(
    store: DocumentStore,
    doc: dict[str, Any],
    values: dict[str, Any],
    session: ClientSession,
    push: dict[str, Any],
) -> dict[str, Any]:
    updated = store.update(doc["id"], doc["revision"], values, session, push=push)
    if updated is None:
        raise Problem(409, "The document changed while this request was applied; try again.")
    return updated


def add_version(
    rt: Runtime,
    store: DocumentStore,
    document_id: str,
    sink: UploadSink,
    content_type: str,
    filename: str,
    by: Principal,
) -> dict[str, Any]:
    """Keep every version; the new one becomes current (the status stays)."""

    def work(session: ClientSession) -> dict[str, Any]:
        doc = _load(store, document_id, session)
        if doc["status"] == "withdrawn":
            raise Problem(409, "A withdrawn document takes no new versions.", slug="conflict")
        number = max(v["version"] for v in doc["versions"]) + 1
        entry = _version_entry(sink, number, content_type, filename, by)
        values = {**_current(entry), "updated_at": entry["uploaded_at"]}
        push = {
            "versions": entry,
            "history": _history("new_version", by, doc["status"], doc["status"], number),
        }
        updated = _save(store, doc, values, session, push)
        store.commit_file(sink.file_id, document_id, number, session)
        _announce(rt, session, "document.uploaded", updated)
        return updated

    return _with_file(store, sink, lambda: in_transaction(rt.client, work))


def transition(
    rt: Runtime, store: DocumentStore, document_id: str, action: str, by: Principal
) -> dict[str, Any]:
    """Submit, approve, publish or withdraw; an illegal transition is a 409."""

    def work(session: ClientSession) -> dict[str, Any]:
        doc = _load(store, document_id, session)
        check_if_match(doc["revision"])
        status, topic = next_status(action, doc["status"])
        now = datetime.now(UTC)
        values = {"status": status, "updated_at": now, f"{status}_at": now}
        push = {"history": _history(action, by, doc["status"], status, doc["version"])}
        updated = _save(store, doc, values, session, push)
        _announce(rt, session, topic, updated)
        return updated

    return in_transaction(rt.client, work)


# --- periodic jobs -----------------------------------------------------------


def reminder_id(event_id: str, kind: str, country: str | None, days_before: int) -> str:
    return f"{event_id}:{kind}:{country or '-'}:{days_before}d"


def send_due_reminders(ctx: JobContext, today: date | None = None) -> int:
    """Announce ``internal.document.reminder_due`` once per missing paper and step.

    A step is due from ``due_on - days_before``; a paper counts as there once
    submitted (or later). Each reminder is a unique ``reminders`` row written in
    the same transaction as its outbox record, so a rerun changes nothing.
    """
    today = today or datetime.now(UTC).date()
    store = DocumentStore(ctx.db)
    sent = 0
    for plan in store.all_due_dates():
        event_id = plan["_id"]
        event = store.get_event(event_id) or {}
        if event.get("status") in {"cancelled", "completed"}:
            continue
        for item in plan.get("items", []):
            due_on = date.fromisoformat(item["due_on"])
            if store.has_paper(event_id, item["kind"], item.get("country")):
                continue
            # The most urgent step that is due; earlier steps missed are not sent late.
            due_steps = [
                d
                for d in sorted(item.get("remind_days_before") or [0])
                if today >= due_on - timedelta(days=d)
            ]
            for days in due_steps[:1]:
                rid = reminder_id(event_id, item["kind"], item.get("country"), days)
                if store.reminders.find_one({"_id": rid}, {"_id": 1}) is not None:
                    continue
                body = _reminder_schema.dump(
                    {
                        "event_id": event_id,
                        "kind": item["kind"],
                        "due_on": due_on,
                        "recipients": item.get("recipients") or [],
                        "title": event.get("title") or "",
                        "reminder_id": rid,
                        "occurred_at": datetime.now(UTC),
                        "version": 1,
                    }
                )

                def work(session: ClientSession, rid: str = rid, body: dict = body) -> bool:
                    if store.reminders.find_one({"_id": rid}, session=session) is not None:
                        return False
                    store.reminders.insert_one(
                        {"_id": rid, "event_id": body["event_id"], "at": datetime.now(UTC)},
                        session=session,
                    )
                    ctx.outbox.add(
                        session,
                        topic="internal.document.reminder_due",
                        key=body["event_id"],
                        seq=1,
                        subject=rid,
                        payload=body,
                    )
                    return True

                if in_transaction(ctx.client, work):
                    sent += 1
    return sent


def sweep_orphan_files(ctx: JobContext) -> int:
    return DocumentStore(ctx.db).sweep_orphans(timedelta(hours=1))

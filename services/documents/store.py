"""MongoDB access of the documents service: the ``documents`` collection and
its indexes, the files in GridFS (streamed in and out), and the read models
built from other services' topics (``events`` and ``invitees``)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import gridfs
from bson import Binary, ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.documents.domain import TextProbe
from shared.erasure import Erasure, Step
from shared.errors import TooLarge
from shared.leases import Lease
from shared.payloads import plain
from shared.payloads.events import EventPayload
from shared.readmodel import apply_if_newer

CHUNK = 255 * 1024  # GridFS chunk size; also the read size when streaming out
EVENT_FIELDS = ("status", "title", "starts_on", "ends_on")  # what the events read model keeps


class GridFSWriter:
    """A write-only, unseekable file streamed into a GridFS bucket.

    Each 255 KiB chunk is inserted as it fills (``<bucket>.chunks``, laid out as
    the GridFS spec says); the ``<bucket>.files`` document follows at
    :meth:`finish`, so a file without one is unfinished. pymongo's own ``GridIn``
    is not used for writing: it batches chunk documents up to 48 MB before
    inserting, which would hold a whole 25 MiB paper in memory (twice, with its
    BSON encoding).
    """

    def __init__(
        self, bucket: gridfs.GridFSBucket, filename: str, metadata: dict[str, Any]
    ) -> None:
        self.size = 0
        self.filename = filename
        self.metadata = metadata
        self.file_id = ObjectId()
        self._files = bucket._files
        self._chunks = bucket._chunks
        self._buffer = bytearray()
        self._n = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.size += len(data)
        self._buffer += data
        while len(self._buffer) >= CHUNK:
            self._put(bytes(self._buffer[:CHUNK]))
            del self._buffer[:CHUNK]
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def _put(self, chunk: bytes) -> None:
        self._chunks.insert_one({"files_id": self.file_id, "n": self._n, "data": Binary(chunk)})
        self._n += 1

    def finish(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        self._files.insert_one(
            {
                "_id": self.file_id,
                "length": self.size,
                "chunkSize": CHUNK,
                "uploadDate": datetime.now(UTC),
                "filename": self.filename,
                "metadata": self.metadata,
            }
        )
        self.closed = True

    def abort(self) -> None:
        if not self.closed:
            self._chunks.delete_many({"files_id": self.file_id})
            self._buffer.clear()
            self.closed = True


class UploadSink(GridFSWriter):
    """The file werkzeug's form parser streams one file part into: written to
    the ``files`` bucket (uncommitted until a version points to it) while its
    sha256, size and a UTF-8 probe are computed. More than ``max_bytes`` is
    refused (413) mid-stream.
    """

    def __init__(self, bucket: gridfs.GridFSBucket, max_bytes: int, filename: str) -> None:
        super().__init__(bucket, filename or "upload", {"committed": False})
        self.max_bytes = max_bytes
        self.sha = hashlib.sha256()
        self.text = TextProbe()

    def write(self, data: bytes) -> int:
        if self.size + len(data) > self.max_bytes:
            raise TooLarge(
                f"The file is larger than {self.max_bytes} bytes.", max_bytes=self.max_bytes
            )
        self.sha.update(data)
        self.text.feed(data)
        return super().write(data)

    def seek(self, offset: int, whence: int = 0) -> int:  # the parser rewinds when done
        return 0

    @property
    def sha256(self) -> str:
        return self.sha.hexdigest()


def from_db(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in {"_id", "search_terms"}}
    out["id"] = doc["_id"]
    return out


# What an erasure erases here (shared.erasure): the uploader of a paper is
# pseudonymised (a published paper is the programme's record and stays); the
# accepted participants' address hashes and the reminders' recipients go.
ERASURE = Erasure(
    steps=(
        Step("documents", "uploaded_by", "account", fields=("uploaded_by",), event_field=None),
        Step(
            "documents",
            "versions[].uploaded_by",
            "account",
            fields=("versions[].uploaded_by",),
            event_field=None,
        ),
        Step("documents", "history[].by", "account", fields=("history[].by",), event_field=None),
        Step("invitees", "email_hash", "email_sha256", fields=("email_hash",)),
        Step(
            "due_dates",
            "items[].recipients",
            "email",
            pull=("items[].recipients",),
            event_field="_id",
        ),
    ),
    retained=(
        "documents and their files: the programme's record (uploader pseudonymised)",
        "invitees (invitation id, event, status): who may read, without an address",
    ),
)


class DocumentStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.documents = db["documents"]
        self.events = db["events"]
        self.invitees = db["invitees"]
        self.due_dates = db["due_dates"]
        self.reminders = db["reminders"]
        self.bucket = gridfs.GridFSBucket(db, bucket_name="files")
        self.files = db["files.files"]
        self.archives = gridfs.GridFSBucket(db, bucket_name="archives")
        self.archive_files = db["archives.files"]
        self.archive_builds = db["archive_builds"]

    def ensure_indexes(self) -> None:
        d = self.documents
        for field in ("created_at", "updated_at", "title", "kind"):
            d.create_index([(field, ASCENDING), ("_id", ASCENDING)])
        d.create_index([("event_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)])
        d.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
        d.create_index([("uploaded_by", ASCENDING), ("status", ASCENDING)])
        d.create_index([("kind", ASCENDING), ("created_at", ASCENDING)])
        d.create_index([("country", ASCENDING), ("created_at", ASCENDING)])
        d.create_index([("language", ASCENDING), ("created_at", ASCENDING)])
        d.create_index([("search_terms", ASCENDING)])
        self.invitees.create_index([("email_hash", ASCENDING), ("status", ASCENDING)])
        self.files.create_index([("metadata.committed", ASCENDING), ("uploadDate", ASCENDING)])
        self.files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
        self.archive_files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
        for bucket in ("files", "archives"):
            self.db[f"{bucket}.chunks"].create_index(
                [("files_id", ASCENDING), ("n", ASCENDING)], unique=True
            )

    # --- documents ---------------------------------------------------------

    def get(self, document_id: str, session: ClientSession | None = None) -> dict | None:
        doc = self.documents.find_one({"_id": document_id}, session=session)
        return from_db(doc) if doc else None

    def find(
        self,
        readable: dict[str, Any],
        filters: dict[str, Any],
        terms: list[str],
        sort: list[tuple[str, int]],
        skip: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the ``readable`` documents (``domain.read_filter``) whose
        fields equal ``filters`` and whose search terms hold all ``terms``; and
        how many there are in all."""
        clauses = [readable, *({name: value} for name, value in filters.items())]
        if terms:
            clauses.append({"search_terms": {"$all": terms}})
        query = {"$and": clauses}
        total = self.documents.count_documents(query)
        cursor = self.documents.find(query, {"search_terms": 0}).sort(sort).skip(skip).limit(limit)
        return [from_db(doc) for doc in cursor], total

    def event_papers(self, readable: dict[str, Any], event_id: str) -> Iterator[dict[str, Any]]:
        """The event's ``readable`` documents by kind and age, without their history."""
        query = {"$and": [readable, {"event_id": event_id}]}
        cursor = self.documents.find(query, {"search_terms": 0, "history": 0})
        for doc in cursor.sort([("kind", ASCENDING), ("created_at", ASCENDING)]):
            yield from_db(doc)

    def insert(self, doc: dict[str, Any], session: ClientSession) -> None:
        self.documents.insert_one(doc, session=session)

    def update(
        self,
        document_id: str,
        expected_revision: int,
        values: dict[str, Any],
        session: ClientSession,
        push: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Apply ``values`` if the document is still at ``expected_revision``."""
        change: dict[str, Any] = {"$set": values, "$inc": {"revision": 1}}
        if push:
            change["$push"] = push
        doc = self.documents.find_one_and_update(
            {"_id": document_id, "revision": expected_revision},
            change,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return from_db(doc) if doc else None

    # --- files -------------------------------------------------------------

    def open_upload(self, max_bytes: int, filename: str) -> UploadSink:
        return UploadSink(self.bucket, max_bytes, filename)

    def open_file(self, file_id: ObjectId) -> gridfs.GridOut:
        return self.bucket.open_download_stream(file_id)

    def delete_file(self, file_id: ObjectId) -> None:
        with contextlib.suppress(gridfs.errors.NoFile):
            self.bucket.delete(file_id)

    def commit_file(
        self, file_id: ObjectId, document_id: str, version: int, session: ClientSession
    ) -> None:
        """Mark a streamed file as belonging to a version (in the version's transaction)."""
        self.files.update_one(
            {"_id": file_id},
            {
                "$set": {
                    "metadata.committed": True,
                    "metadata.document_id": document_id,
                    "metadata.version": version,
                }
            },
            session=session,
        )

    def sweep_orphans(self, older_than: timedelta) -> int:
        """Delete files whose upload never became a version (a crash between the two)."""
        cutoff = datetime.now(UTC) - older_than
        orphans = self.files.find(
            {"metadata.committed": False, "uploadDate": {"$lt": cutoff}}, {"_id": 1}
        )
        count = 0
        for row in orphans:
            self.delete_file(row["_id"])
            count += 1
        return count

    # --- cached zips of an event's papers (archive.py) ------------------------

    def find_archive(self, key: str, newer_than: datetime) -> dict[str, Any] | None:
        """The newest finished zip stored under ``key`` since ``newer_than``."""
        return self.archive_files.find_one(
            {"filename": key, "uploadDate": {"$gt": newer_than}}, sort=[("uploadDate", -1)]
        )

    def open_archive_writer(self, key: str) -> GridFSWriter:
        return GridFSWriter(self.archives, key, {"kind": "documents.zip"})

    def open_archive(self, file_id: ObjectId) -> gridfs.GridOut:
        return self.archives.open_download_stream(file_id)

    def archive_build_lease(self, key: str, ttl: timedelta) -> Lease:
        """Held by the one request that builds the zip of ``key``."""
        return Lease(self.archive_builds, key, ttl)

    def sweep_archives(self, older_than: timedelta) -> int:
        """Delete the zips (finished or not: a build may have died) begun before
        ``older_than`` ago, and expired build leases; how many files went."""
        cutoff = datetime.now(UTC) - older_than
        before = {"$lt": ObjectId.from_datetime(cutoff)}  # a writer's id is its start time
        gone = self.archive_files.delete_many({"_id": before}).deleted_count
        self.db["archives.chunks"].delete_many({"files_id": before})
        self.archive_builds.delete_many({"expires_at": {"$lt": datetime.now(UTC)}})
        return gone

    # --- events read model (from event.*) ---------------------------------

    def record_event(self, event: EventPayload, session: ClientSession) -> bool:
        """Keep the newest status, title and dates of an event; False when the record was stale."""
        fields = {name: plain(getattr(event, name)) for name in EVENT_FIELDS}
        return apply_if_newer(self.events, event.event_id, event.version, fields, session)

    def get_event(self, event_id: str, session: ClientSession | None = None) -> dict | None:
        return self.events.find_one({"_id": event_id}, session=session)

    # --- invitee read model (from invitation.* and internal.invitation.issued)

    def record_invitee_status(
        self, invitation_id: str, event_id: str, status: str, version: int, session: ClientSession
    ) -> bool:
        """Keep the newest status of one invitation; a stale or replayed record changes nothing."""
        fields = {"event_id": event_id, "status": status}
        return apply_if_newer(
            self.invitees, invitation_id, version, fields, session, version_field="status_version"
        )

    def record_invitee_email(
        self, invitation_id: str, event_id: str, digest: str, version: int, session: ClientSession
    ) -> bool:
        """Keep the sha256 of the invitee's address (never the address itself)."""
        fields = {"event_id": event_id, "email_hash": digest}
        return apply_if_newer(
            self.invitees, invitation_id, version, fields, session, version_field="email_version"
        )

    def accepted_events(self, digest: str | None) -> list[str]:
        """The events where the holder of this address hash accepted an invitation."""
        if not digest:
            return []
        rows = self.invitees.find({"email_hash": digest, "status": "accepted"}, {"event_id": 1})
        return sorted({row["event_id"] for row in rows})

    # --- due dates and reminders -------------------------------------------

    def set_due_dates(self, event_id: str, items: list[dict[str, Any]], by: str | None) -> dict:
        doc = {"items": items, "updated_at": datetime.now(UTC), "updated_by": by}
        return self.due_dates.find_one_and_update(
            {"_id": event_id},
            {"$set": doc},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    def get_due_dates(self, event_id: str) -> dict | None:
        return self.due_dates.find_one({"_id": event_id})

    def all_due_dates(self) -> Iterator[dict[str, Any]]:
        yield from self.due_dates.find({})

    def was_reminded(self, reminder_id: str, session: ClientSession | None = None) -> bool:
        return (
            self.reminders.find_one({"_id": reminder_id}, {"_id": 1}, session=session) is not None
        )

    def record_reminder(
        self, reminder_id: str, event_id: str, at: datetime, session: ClientSession
    ) -> None:
        self.reminders.insert_one(
            {"_id": reminder_id, "event_id": event_id, "at": at}, session=session
        )

    def has_paper(self, event_id: str, kind: str, country: str | None) -> bool:
        query: dict[str, Any] = {
            "event_id": event_id,
            "kind": kind,
            "status": {"$in": ["submitted", "approved", "published"]},
        }
        if country:
            query["country"] = country
        return self.documents.find_one(query, {"_id": 1}) is not None

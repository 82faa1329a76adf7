"""An event's papers as one zip, built once per set of versions and kept in
GridFS (bucket ``archives``), so that downloading it costs what downloading a
file does.

Anyone may ask for the zip of the published papers, so building it per call
(reading and deflating every paper) handed anonymous callers a lever on the
service's CPU and MongoDB. A zip is determined by the papers in it (their ids,
current versions' sha256, kinds and file names), so that set's digest is its
key and its ETag: the first request for a set builds the zip into GridFS under
a lease, one request at a time per set, and every request serves the stored
file (with ``Content-Length``, ``If-None-Match`` and ranges). A request that
finds another building the same set waits for it a little, then is told to
retry (429 with ``Retry-After``). Zips are kept for :data:`KEEP_FOR` and served
only while younger than :data:`SERVE_FOR`, so the worker's ``archive-cache``
sweep never deletes one that a download has just begun to stream.
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from services.documents.store import CHUNK, DocumentStore, GridFSWriter
from shared.errors import RateLimited

FORMAT = 1  # part of every key: a change to how zips are written makes new ones
KEEP_FOR = timedelta(hours=1)
SERVE_FOR = timedelta(minutes=50)
BUILD_LEASE = timedelta(minutes=5)
BUILD_WAIT_S = 10.0  # how long a request waits for another's build of its set
POLL_S = 0.2
RETRY_AFTER_S = 5


def archive_key(docs: list[dict[str, Any]]) -> str:
    """The digest of what makes the zip of ``docs``: every paper's id, current
    version and its sha256, kind and file name (entry names come from the last two)."""
    entries = sorted(
        [doc["id"], doc["version"], doc["sha256"], doc["kind"], doc["filename"]] for doc in docs
    )
    canonical = json.dumps({"format": FORMAT, "papers": entries}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored_zip(docs: list[dict[str, Any]], store: DocumentStore) -> dict[str, Any]:
    """The ``archives.files`` document of the zip of ``docs``, built now if need be."""
    key = archive_key(docs)
    found = _fresh(store, key)
    if found is not None:
        return found
    lease = store.archive_build_lease(key, BUILD_LEASE)
    if lease.acquire():
        try:
            found = _fresh(store, key)  # built by another while this one asked
            if found is None:
                build_zip(docs, store, store.open_archive_writer(key))
                found = _fresh(store, key)
        finally:
            lease.release()
        if found is not None:
            return found
    deadline = time.monotonic() + BUILD_WAIT_S
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        found = _fresh(store, key)
        if found is not None:
            return found
    raise RateLimited(
        "The zip of these papers is being built; try again in a few seconds.",
        retry_after_s=RETRY_AFTER_S,
    )


def _fresh(store: DocumentStore, key: str) -> dict[str, Any] | None:
    return store.find_archive(key, newer_than=datetime.now(UTC) - SERVE_FOR)


def build_zip(docs: list[dict[str, Any]], store: DocumentStore, target: GridFSWriter) -> None:
    """Write the zip of the current version of each of ``docs`` into ``target``,
    a chunk at a time (never a whole paper in memory); on failure nothing stays."""
    used: set[str] = set()
    try:
        with zipfile.ZipFile(
            target,  # type: ignore[arg-type] - a write-only file, as zipfile allows
            "w",
            compression=zipfile.ZIP_DEFLATED,
            compresslevel=1,
        ) as archive:
            for doc in docs:
                current = next(v for v in doc["versions"] if v["version"] == doc["version"])
                stamp: datetime = current["uploaded_at"]
                info = zipfile.ZipInfo(_entry_name(doc, used), date_time=stamp.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                with store.open_file(current["file_id"]) as source, archive.open(info, "w") as out:
                    while chunk := source.read(CHUNK):
                        out.write(chunk)
        target.finish()
    except BaseException:
        target.abort()
        raise


def _entry_name(doc: dict[str, Any], used: set[str]) -> str:
    """``<kind>/<filename>``, numbered `` (2)``, `` (3)``, ... when already ``used``."""
    name = f"{doc['kind']}/{doc['filename']}"
    stem, dot, ext = name.rpartition(".")
    n = 1
    while name in used:
        n += 1
        name = f"{stem} ({n}).{ext}" if dot else f"{doc['kind']}/{doc['filename']} ({n})"
    used.add(name)
    return name

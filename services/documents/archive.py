"""An event's papers as one zip, streamed: each file is read from GridFS in
chunks and deflated into the response as it goes, never held whole."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from services.documents.store import CHUNK, DocumentStore


class _ZipSink:
    """An unseekable file that zipfile writes into and the response generator drains."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.position = 0

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def zip_stream(docs: list[dict[str, Any]], store: DocumentStore) -> Iterator[bytes]:
    """The bytes of a zip of the current version of each of ``docs``."""
    sink = _ZipSink()
    used: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for doc in docs:
            name = _entry_name(doc, used)
            current = next(v for v in doc["versions"] if v["version"] == doc["version"])
            stamp: datetime = current["uploaded_at"]
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with store.open_file(current["file_id"]) as source, archive.open(info, "w") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if len(sink.buffer) >= CHUNK:
                        yield sink.drain()
            yield sink.drain()
    yield sink.drain()


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

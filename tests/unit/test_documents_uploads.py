"""The documents service's upload refusals that come before a byte is read,
and the zip of an event's papers and its key, without a server: none needs
Flask nor MongoDB."""

import io
import zipfile
from datetime import UTC, datetime

import pytest

from services.documents import archive, uploads
from shared.errors import TooLarge, UnsupportedType

MiB = 1024 * 1024


class Untouchable:
    """A store or body that fails the test when anything is asked of it."""

    def __getattr__(self, name):
        raise AssertionError(f"{name} was used")


def _receive(content_length, mimetype="multipart/form-data", max_bytes=25 * MiB):
    return uploads.receive(
        Untouchable(),
        Untouchable(),
        content_length=content_length,
        mimetype=mimetype,
        max_bytes=max_bytes,
        allowed_fields=(),
    )


def test_a_body_declared_too_large_is_refused_before_anything_is_read():
    with pytest.raises(TooLarge) as refused:
        _receive(26 * MiB)
    assert refused.value.details == {"max_bytes": 25 * MiB}
    assert refused.value.detail == f"Documents may be at most {25 * MiB} bytes."


def test_the_form_overhead_is_allowed_on_top_of_the_file():
    assert uploads.body_limit(1000) == 1000 + uploads.FORM_OVERHEAD
    with pytest.raises(UnsupportedType):  # passes the size check, then the type is wrong
        _receive(1000 + uploads.FORM_OVERHEAD, mimetype="application/json", max_bytes=1000)
    with pytest.raises(TooLarge):
        _receive(1001 + uploads.FORM_OVERHEAD, mimetype="application/json", max_bytes=1000)


class Files:
    def __init__(self, contents):
        self.contents = contents

    def open_file(self, file_id):
        return io.BytesIO(self.contents[file_id])


def _doc(kind, filename, file_id, doc_id=None, sha256="0" * 64):
    stamp = datetime(2027, 3, 10, 9, 30, tzinfo=UTC)
    return {
        "id": doc_id or file_id,
        "kind": kind,
        "filename": filename,
        "version": 2,
        "sha256": sha256,
        "versions": [
            {"version": 1, "file_id": "old", "uploaded_at": stamp},
            {"version": 2, "file_id": file_id, "uploaded_at": stamp},
        ],
    }


class Unseekable:
    """What the zip is written into: a write-only file, as a GridFS writer is."""

    def __init__(self):
        self.data = bytearray()
        self.writes = 0
        self.finished = self.aborted = False

    def write(self, data):
        self.data += data
        self.writes += 1
        return len(data)

    def tell(self):
        return len(self.data)

    def flush(self):
        pass

    def finish(self):
        self.finished = True

    def abort(self):
        self.aborted = True


def test_the_zip_holds_each_current_version_under_a_name_of_its_own():
    contents = {"old": b"stale", "a": b"A" * 600_000, "b": b"B", "c": b"C", "d": b"D"}
    docs = [
        _doc("agenda", "agenda.pdf", "a"),
        _doc("agenda", "agenda.pdf", "b"),
        _doc("minutes", "notes", "c"),
        _doc("minutes", "notes", "d"),
    ]
    target = Unseekable()
    archive.build_zip(docs, Files(contents), target)
    assert target.finished and target.writes >= len(docs)  # written as it goes
    with zipfile.ZipFile(io.BytesIO(bytes(target.data))) as opened:
        assert opened.namelist() == [
            "agenda/agenda.pdf",
            "agenda/agenda (2).pdf",
            "minutes/notes",
            "minutes/notes (2)",
        ]
        assert opened.read("agenda/agenda.pdf") == contents["a"]
        assert opened.read("minutes/notes (2)") == b"D"
        assert opened.getinfo("agenda/agenda.pdf").date_time == (2027, 3, 10, 9, 30, 0)


def test_a_zip_that_fails_half_way_is_aborted():
    target = Unseekable()
    with pytest.raises(KeyError):
        archive.build_zip([_doc("agenda", "a.pdf", "a"), _doc("agenda", "b.pdf", "gone")],
                          Files({"a": b"A"}), target)  # fmt: skip
    assert target.aborted and not target.finished


def test_the_key_names_the_set_of_current_versions_in_any_order():
    a, b = _doc("agenda", "a.pdf", "a"), _doc("minutes", "b.pdf", "b")
    assert archive.archive_key([a, b]) == archive.archive_key([b, a])
    assert archive.archive_key([a]) != archive.archive_key([a, b])
    newer = {**a, "version": 3, "sha256": "1" * 64}
    assert archive.archive_key([newer, b]) != archive.archive_key([a, b])
    renamed = {**a, "filename": "other.pdf"}  # another entry name: another zip
    assert archive.archive_key([renamed, b]) != archive.archive_key([a, b])

"""Receiving an uploaded paper: the multipart body streamed into GridFS.

The body is parsed with werkzeug's form parser directly, its ``stream_factory``
handing each file part an :class:`~services.documents.store.UploadSink` that
writes into GridFS while hashing and counting: the body is never held whole in
memory nor spooled to disk, and an oversized one is refused from its
``Content-Length`` before a byte is read, or as soon as the count passes the
limit. The file's type is then sniffed from its bytes and must agree with its
name.

Refusals are the plain errors of :mod:`shared.errors` (``TooLarge``,
``UnsupportedType``, ``Invalid``); werkzeug's own HTTP errors (a body longer
than it declared, too many parts) and ``BadRequest`` for a body the parser
cannot read pass through. Nothing here knows Flask: the view hands in the WSGI
environ with the request's content length and type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import parse_form_data

from services.documents.domain import confirm_type, safe_filename, sniff
from services.documents.store import DocumentStore, UploadSink
from shared.errors import Invalid, TooLarge, UnsupportedType

FORM_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the text fields
# werkzeug's decoder buffers up to a read chunk (64 KiB) plus a held-back tail
# while it looks for the boundary; this bounds that buffer and the text fields.
FORM_MEMORY = 512 * 1024
FORM_PARTS = 20
INVALID = "The request body or parameters are not valid."
NOT_A_PAPER = (
    "The file's bytes are not a PDF, DOCX, XLSX, PPTX, ODT, ODS, ODP or UTF-8 text "
    "file matching its name."
)


@dataclass(frozen=True)
class Upload:
    """A received file: in GridFS (finished, not yet committed to a version)."""

    fields: dict[str, str]  # the text fields, each given once
    sink: UploadSink
    filename: str  # sanitised
    content_type: str  # sniffed from the bytes, and agreeing with the name


def body_limit(max_bytes: int) -> int:
    """The largest body that may carry a file of ``max_bytes``."""
    return max_bytes + FORM_OVERHEAD


def receive(
    store: DocumentStore,
    environ: dict[str, Any],
    *,
    content_length: int | None,
    mimetype: str,
    max_bytes: int,
    allowed_fields: Iterable[str],
) -> Upload:
    """Stream the multipart body in ``environ``: its text fields (only
    ``allowed_fields``) and its one ``file`` part, whose type is confirmed."""
    _check_declared(content_length, mimetype, max_bytes)
    parts = _FileParts(store, max_bytes)
    form, files = _parse(environ, parts, body_limit(max_bytes))
    try:
        fields, sink = _checked_form(form, files, set(allowed_fields))
        sink.finish()
        if sink.size == 0:
            raise Invalid("The file is empty.", errors={"file": ["The file is empty."]})
        filename, part_type = parts.described(sink)
        content_type = _confirmed_type(store, sink, filename, part_type)
        parts.discard(keep=sink)
        return Upload(fields, sink, filename, content_type)
    except BaseException:
        parts.discard()
        raise


def discard(store: DocumentStore, sinks: Iterable[UploadSink]) -> None:
    """Remove what ``sinks`` wrote: a finished file, or the chunks of an unfinished one."""
    for sink in sinks:
        if sink.closed:
            store.delete_file(sink.file_id)
        else:
            sink.abort()


def _check_declared(content_length: int | None, mimetype: str, max_bytes: int) -> None:
    """Refuse, before reading a byte, a body declared too long or not multipart."""
    if content_length is not None and content_length > body_limit(max_bytes):
        raise TooLarge(f"Documents may be at most {max_bytes} bytes.", max_bytes=max_bytes)
    if mimetype != "multipart/form-data":
        raise UnsupportedType("Send the document as multipart/form-data with a 'file' part.")


class _FileParts:
    """werkzeug's ``stream_factory``: each file part gets a GridFS sink of its
    own, remembered with its sanitised name and the type the client gave it."""

    def __init__(self, store: DocumentStore, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.sinks: list[UploadSink] = []
        self._described: dict[int, tuple[str, str]] = {}

    def __call__(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> UploadSink:
        clean = safe_filename(filename)
        sink = self.store.open_upload(self.max_bytes, clean)
        self.sinks.append(sink)
        self._described[id(sink)] = (clean, content_type or "")
        return sink

    def described(self, sink: UploadSink) -> tuple[str, str]:
        """The sanitised file name and the part's declared type."""
        return self._described[id(sink)]

    def discard(self, keep: UploadSink | None = None) -> None:
        discard(self.store, [sink for sink in self.sinks if sink is not keep])


def _parse(
    environ: dict[str, Any], parts: _FileParts, limit: int
) -> tuple[MultiDict[str, str], MultiDict[str, Any]]:
    """The text fields and file parts; on any failure nothing written is left."""
    try:
        _, form, files = parse_form_data(
            environ,
            stream_factory=parts,
            max_form_memory_size=FORM_MEMORY,
            max_content_length=limit,
            silent=False,
            max_form_parts=FORM_PARTS,
        )
    except ValueError as exc:  # werkzeug refuses with HTTPExceptions, the sinks with DomainErrors
        parts.discard()
        raise BadRequest("The multipart body could not be parsed.") from exc
    except BaseException:
        parts.discard()
        raise
    return form, files


def _checked_form(
    form: MultiDict[str, str], files: MultiDict[str, Any], allowed: set[str]
) -> tuple[dict[str, str], UploadSink]:
    """The text fields and the ``file`` part's sink; every misfit at once is a 422."""
    file_errors, sink = _file_part(files)
    field_errors, fields = _text_fields(form, allowed)
    errors = {**file_errors, **field_errors}
    if errors:
        raise Invalid(INVALID, errors=errors)
    assert sink is not None
    return fields, sink


def _file_part(files: MultiDict[str, Any]) -> tuple[dict[str, list[str]], UploadSink | None]:
    """The sink of the one ``file`` part, or why there is none; no other file part is allowed."""
    errors: dict[str, list[str]] = {}
    parts = files.getlist("file")
    if not parts:
        errors["file"] = ["Missing file part 'file'."]
    elif len(parts) > 1:
        errors["file"] = ["Send exactly one file part 'file'."]
    for name in set(files) - {"file"}:
        errors[_field_name(name)] = ["Unknown field."]
    if errors:
        return errors, None
    sink = parts[0].stream
    assert isinstance(sink, UploadSink)
    return errors, sink


# The error key of a part whose Content-Disposition names no field (werkzeug
# gives it the name None, which no JSON object key can be).
UNNAMED = "_unnamed"


def _field_name(name: str | None) -> str:
    return UNNAMED if name is None else name


def _text_fields(
    form: MultiDict[str, str], allowed: set[str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each allowed text field given once, and the errors of the others."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, str] = {}
    for name, values in form.lists():
        if name not in allowed:
            errors[_field_name(name)] = ["Unknown field."]
        elif len(values) > 1:
            errors[name] = ["Give this field once."]
        else:
            fields[name] = values[0]
    return errors, fields


def _confirmed_type(store: DocumentStore, sink: UploadSink, filename: str, part_type: str) -> str:
    """The type the stored bytes prove, if the name (and part type) agree; else a 415."""
    with store.open_file(sink.file_id) as stored:
        sniffed = sniff(stored, utf8_text=sink.text.finish())
    content_type = confirm_type(sniffed, filename, part_type)
    if content_type is None:
        raise UnsupportedType(NOT_A_PAPER, sniffed=sniffed)
    return content_type

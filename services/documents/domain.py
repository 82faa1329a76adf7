"""Rules of the documents service, without I/O: the
workflow state machine, who may read and write what (the contract's table),
content-type sniffing from the bytes, and safe file names."""

from __future__ import annotations

import codecs
import hashlib
import posixpath
import re
import struct
import unicodedata
import zipfile
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import quote

from shared.auth import Principal
from shared.errors import IllegalTransition, UnsupportedType
from shared.lifecycle import Lifecycle

# --- workflow --------------------------------------------------------------

# action -> (statuses it may start from, status it leads to, topic announcing it)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "submit": (frozenset({"draft"}), "submitted", "document.submitted"),
    "approve": (frozenset({"submitted"}), "approved", "internal.document.approved"),
    "publish": (frozenset({"approved"}), "published", "document.published"),
    "withdraw": (
        frozenset({"draft", "submitted", "approved", "published"}),
        "withdrawn",
        "document.withdrawn",
    ),
}


LIFECYCLE = Lifecycle("document", TRANSITIONS)
next_status = LIFECYCLE.next_status
# An approval binds to the version the reviewer saw: it must name the document's
# ETag (its revision, which every new version changes) in If-Match.
BINDS_TO_SEEN_VERSION = frozenset({"approve"})
# New versions only before approval: an approved or published paper is what was
# reviewed and what readers got; changing it means withdrawing it and uploading anew.
VERSIONABLE = frozenset({"draft", "submitted"})


def check_versionable(doc: dict[str, Any]) -> None:
    """Refuse a new version of a document past review (409, with its status)."""
    if doc["status"] not in VERSIONABLE:
        raise IllegalTransition(
            f"A {doc['status']} document takes no new versions; only drafts and "
            "submitted papers do.",
            current_status=doc["status"],
        )


# --- who may do what -------------------------------------------------------

UPLOADER_READS = frozenset({"draft", "submitted", "approved", "published"})
PARTICIPANT_READS = frozenset({"approved", "published"})
UPLOAD_ROLES = ("secretariat", "expert", "participant")


def may_read(doc: dict[str, Any], who: Principal, accepted_events: Iterable[str]) -> bool:
    """The contract's table. ``accepted_events``: events where ``who`` accepted an invitation."""
    status = doc["status"]
    if status == "published" or who.is_secretariat:
        return True
    if who.anonymous:
        return False
    if doc.get("uploaded_by") == who.sub and status in UPLOADER_READS:
        return True
    return status in PARTICIPANT_READS and doc["event_id"] in set(accepted_events)


def read_filter(who: Principal, accepted_events: Iterable[str]) -> dict[str, Any]:
    """The MongoDB filter selecting exactly the documents :func:`may_read` allows."""
    if who.is_secretariat:
        return {}
    clauses: list[dict[str, Any]] = [{"status": "published"}]
    if not who.anonymous:
        clauses.append({"uploaded_by": who.sub, "status": {"$in": sorted(UPLOADER_READS)}})
        events = sorted(set(accepted_events))
        if events:
            clauses.append(
                {"event_id": {"$in": events}, "status": {"$in": sorted(PARTICIPANT_READS)}}
            )
    return {"$or": clauses}


def may_upload(who: Principal, accepted_here: bool) -> bool:
    """Secretariat anywhere; experts and participants only for events they accepted."""
    if who.is_secretariat:
        return True
    return who.has_any(("expert", "participant")) and accepted_here


def may_act(action: str, doc: dict[str, Any], who: Principal) -> bool:
    """Secretariat may do everything; the uploader may submit, and withdraw before approval."""
    if who.is_secretariat:
        return True
    if who.anonymous or doc.get("uploaded_by") != who.sub:
        return False
    return action == "submit" or (action == "withdraw" and doc["status"] in {"draft", "submitted"})


def may_add_version(doc: dict[str, Any], who: Principal) -> bool:
    """The secretariat or the uploader, while the paper is a draft or submitted."""
    if doc["status"] not in VERSIONABLE:
        return False
    return who.is_secretariat or doc.get("uploaded_by") == who.sub


def email_hash(email: str) -> str:
    """What the invitee read model stores instead of an address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


# --- content types ---------------------------------------------------------

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
TEXT = "text/plain; charset=utf-8"

CONTENT_TYPES = (PDF, DOCX, XLSX, PPTX, ODT, ODS, ODP, TEXT)
EXTENSIONS = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".xlsx": XLSX,
    ".pptx": PPTX,
    ".odt": ODT,
    ".ods": ODS,
    ".odp": ODP,
    ".txt": TEXT,
    ".md": TEXT,
    ".csv": TEXT,
}
_OOXML_PARTS = {"word/": DOCX, "xl/": XLSX, "ppt/": PPTX}
_ODF = {ODT, ODS, ODP}
_NOT_TEXT = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
HEAD_BYTES = 8192


class TextProbe:
    """Fed every chunk of an upload: does the whole file read as UTF-8 text?"""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.ok = True

    def feed(self, chunk: bytes) -> None:
        if not self.ok:
            return
        if _NOT_TEXT.search(chunk):
            self.ok = False
            return
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError:
            self.ok = False

    def finish(self) -> bool:
        if self.ok:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.ok = False
        return self.ok


def sniff(file: IO[bytes], *, utf8_text: bool) -> str | None:
    """The content type the bytes of the seekable ``file`` prove, or None.

    PDF by its ``%PDF-`` header; OOXML by a zip holding ``[Content_Types].xml``
    and ``word/``, ``xl/`` or ``ppt/`` parts (macro-enabled files are refused);
    ODF by the zip's ``mimetype`` entry; plain text when every byte was UTF-8
    without control characters (``utf8_text``, found while streaming). A zip of
    more than :data:`MAX_ZIP_ENTRIES` entries is refused (``UnsupportedType``).
    """
    file.seek(0)
    head = file.read(HEAD_BYTES)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(file)
    if head and utf8_text:
        return TEXT
    return None


# An office file has tens of parts; a zip of many thousands is a zip bomb of
# entries (each a ZipInfo in memory before anything is read), not a paper.
MAX_ZIP_ENTRIES = 1000
MAX_ZIP_DIRECTORY_BYTES = 1024 * 1024
_EOCD = struct.Struct("<4s4H2LH")  # the zip's end of central directory record
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
TOO_MANY_ENTRIES = (
    f"The file is an archive of more than {MAX_ZIP_ENTRIES} entries; no paper format needs so many."
)


def _zip_directory(file: IO[bytes]) -> tuple[int, int] | None:
    """The entry count and central directory size the zip declares, read from its
    end record as :mod:`zipfile` will (the record at the very end, else the last
    one within a comment's reach); None if it has none. A zip64 directory is
    refused: it only serves archives of more than 65,535 entries or 4 GiB."""
    size = file.seek(0, 2)
    tail_start = max(0, size - _EOCD.size - 0xFFFF)
    file.seek(tail_start)
    tail = file.read()
    at = len(tail) - _EOCD.size
    if tail[at : at + 4] != _EOCD_SIGNATURE:
        at = tail.rfind(_EOCD_SIGNATURE)
        if at < 0 or at + _EOCD.size > len(tail):
            return None
    _, _, _, _, entries, directory_bytes, _, _ = _EOCD.unpack_from(tail, at)
    locator_at = at - _ZIP64_LOCATOR.size
    has_zip64 = locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07"
    if has_zip64 or entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
        raise UnsupportedType(TOO_MANY_ENTRIES)
    return entries, directory_bytes


def _sniff_zip(file: IO[bytes]) -> str | None:
    """The OOXML or ODF type of a zip; one of more than :data:`MAX_ZIP_ENTRIES`
    entries (or a bigger directory than they need) is refused before it is parsed."""
    declared = _zip_directory(file)
    if declared is None:
        return None
    entries, directory_bytes = declared
    if entries > MAX_ZIP_ENTRIES or directory_bytes > MAX_ZIP_DIRECTORY_BYTES:
        raise UnsupportedType(TOO_MANY_ENTRIES)
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if len(names) > MAX_ZIP_ENTRIES:  # the directory holds more than it declared
                raise UnsupportedType(TOO_MANY_ENTRIES)
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size > 100:
                    return None
                declared = archive.read(info).decode("ascii", "replace").strip()
                return declared if declared in _ODF else None
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        return None  # macro-enabled (docm, xlsm, pptm): not a paper format
    for prefix, content_type in _OOXML_PARTS.items():
        if any(name.startswith(prefix) for name in names):
            return content_type
    return None


def claimed_type(filename: str, part_type: str | None) -> str | None:
    """The type the client claims: by file extension, else by a part type we know."""
    _, ext = posixpath.splitext(filename.lower())
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    base = (part_type or "").split(";")[0].strip().lower()
    if base == "text/plain":
        return TEXT
    return base if base in CONTENT_TYPES else None


def confirm_type(sniffed: str | None, filename: str, part_type: str | None) -> str | None:
    """The sniffed type if the name's claim (if any) agrees; else None (a 415)."""
    if sniffed is None:
        return None
    _, ext = posixpath.splitext(filename.lower())
    claim = claimed_type(filename, part_type)
    if ext and ext not in EXTENSIONS and claim is None:
        return None  # e.g. "paper.exe" whose bytes happen to be text
    if claim is not None and claim != sniffed:
        return None
    return sniffed


# --- file names ------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
MAX_NAME = 150


def safe_filename(name: str | None, fallback: str = "document") -> str:
    """The last path part of ``name``, without control or reserved characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = _CONTROL.sub("", name)
    name = _UNSAFE.sub("_", name).strip().strip(".").strip()
    if not name:
        return fallback
    if len(name) > MAX_NAME:
        stem, ext = posixpath.splitext(name)
        name = stem[: MAX_NAME - len(ext)] + ext
    return name


def ascii_filename(name: str) -> str:
    """An ASCII stand-in for old clients (accents dropped, the rest '_')."""
    decomposed = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = re.sub(r"[^A-Za-z0-9._ ()+-]", "_", folded).strip()
    return folded or "document"


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII ``filename`` and, for other names, ``filename*`` in UTF-8."""
    fallback = ascii_filename(name)
    header = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


# --- search ----------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MIN_PREFIX = 3


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text or "")]


def search_terms(doc: dict[str, Any]) -> list[str]:
    """Indexed terms for ``q``: title words match by prefix, summary words whole."""
    terms: set[str] = set()
    for word in words(doc.get("title", "")):
        terms.update(word[:n] for n in range(MIN_PREFIX, len(word) + 1))
        terms.add(word)
    terms.update(words(doc.get("summary") or ""))
    return sorted(terms)


def query_terms(q: str) -> list[str]:
    return sorted(set(words(q)))

import io
import zipfile

import pytest

from services.documents import domain
from services.documents.domain import (
    DOCX,
    MAX_ZIP_ENTRIES,
    ODP,
    ODS,
    ODT,
    PDF,
    PPTX,
    TEXT,
    TRANSITIONS,
    XLSX,
    TextProbe,
    confirm_type,
    content_disposition,
    email_hash,
    may_act,
    may_add_version,
    may_read,
    may_upload,
    next_status,
    read_filter,
    safe_filename,
    sniff,
)
from shared.auth import ANONYMOUS, Principal
from shared.errors import IllegalTransition, UnsupportedType
from shared.payloads.documents import STATUSES
from tests.fixtures.documents import EXE_BYTES, PDF_BYTES, odf, ooxml

SEC = Principal(sub="sec", roles=frozenset({"secretariat"}))
UPLOADER = Principal(sub="up", email="up@example.org", roles=frozenset({"expert"}))
PARTICIPANT = Principal(sub="p", email="p@example.org", roles=frozenset({"participant"}))
STRANGER = Principal(sub="s", email="s@example.org", roles=frozenset({"participant"}))


def _sniff(data: bytes) -> str | None:
    probe = TextProbe()
    for i in range(0, len(data), 7):  # chunk boundaries inside multi-byte characters
        probe.feed(data[i : i + 7])
    return sniff(io.BytesIO(data), utf8_text=probe.finish())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF_BYTES, PDF),
        (ooxml("word/document.xml"), DOCX),
        (ooxml("xl/workbook.xml"), XLSX),
        (ooxml("ppt/presentation.xml"), PPTX),
        (odf("application/vnd.oasis.opendocument.text"), ODT),
        (odf("application/vnd.oasis.opendocument.spreadsheet"), ODS),
        (odf("application/vnd.oasis.opendocument.presentation"), ODP),
        ("Päevakord — agenda, ünïcode ✓\n".encode(), TEXT),
        (EXE_BYTES, None),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, None),
        ("latin-1 caf\xe9".encode("latin-1"), None),
        (b"PK\x03\x04 not really a zip", None),
        (odf("application/x-evil"), None),
        (ooxml("other/part.xml"), None),
        (b"", None),
    ],
)
def test_sniffer_recognises_paper_formats_and_nothing_else(data, expected):
    assert _sniff(data) == expected


def test_macro_enabled_office_files_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<doc/>")
        archive.writestr("word/vbaProject.bin", b"\x00")
    assert _sniff(buffer.getvalue()) is None


def _docx_of(entries: int, name_length: int = 8) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<doc/>")
        for n in range(entries - 2):
            archive.writestr(f"word/media/{n:0{name_length}d}.xml", "")
    return buffer.getvalue()


def test_an_office_file_of_at_most_1000_entries_is_sniffed():
    assert _sniff(_docx_of(MAX_ZIP_ENTRIES)) == DOCX


def test_an_archive_of_more_than_1000_entries_is_refused_before_it_is_parsed(monkeypatch):
    many = _docx_of(MAX_ZIP_ENTRIES + 1)
    long_names = _docx_of(600, name_length=2000)  # a directory beyond what 1000 entries need

    def no_parsing(*args, **kwargs):
        raise AssertionError("the central directory was parsed")

    monkeypatch.setattr(domain.zipfile, "ZipFile", no_parsing)
    with pytest.raises(UnsupportedType, match="more than 1000 entries"):
        _sniff(many)
    with pytest.raises(UnsupportedType):
        _sniff(long_names)


def test_an_archive_whose_end_record_understates_its_entries_is_refused():
    data = bytearray(_docx_of(MAX_ZIP_ENTRIES + 500))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (5).to_bytes(2, "little") * 2  # "5 entries"
    with pytest.raises(UnsupportedType):
        _sniff(bytes(data))


def test_a_zip64_archive_is_refused():
    data = bytearray(ooxml())
    end = data.rfind(b"PK\x05\x06")
    data[end:end] = b"PK\x06\x07" + bytes(16)  # a zip64 end-of-directory locator
    with pytest.raises(UnsupportedType):
        _sniff(bytes(data))


@pytest.mark.parametrize(
    ("sniffed", "name", "part_type", "ok"),
    [
        (PDF, "paper.pdf", "application/pdf", True),
        (PDF, "paper", "application/octet-stream", True),
        (PDF, "paper.docx", None, False),
        (DOCX, "paper.pdf", None, False),
        (None, "paper.pdf", "application/pdf", False),  # an executable named .pdf
        (TEXT, "script.exe", None, False),
        (TEXT, "notes.txt", "text/plain", True),
        (TEXT, "notes.PDF", None, False),
        (PDF, "paper.pdf", DOCX, True),  # the extension decides the claim
    ],
)
def test_the_name_must_agree_with_the_bytes(sniffed, name, part_type, ok):
    assert (confirm_type(sniffed, name, part_type) is not None) is ok


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
        ("/abs/path/paper.pdf", "paper.pdf"),
        ("pa\x00per\r\n.pdf", "paper.pdf"),
        ('a<b>c:"d|e?f*.pdf', "a_b_c__d_e_f_.pdf"),
        ("..", "document"),
        ("", "document"),
        (None, "document"),
        ("Päevakord \u2013 Tallinn.pdf", "Päevakord \u2013 Tallinn.pdf"),
    ],
)
def test_file_names_are_sanitised(raw, clean):
    assert safe_filename(raw) == clean


def test_long_names_keep_their_extension():
    name = safe_filename("x" * 400 + ".pdf")
    assert len(name) == 150
    assert name.endswith(".pdf")


def test_content_disposition_uses_rfc6266_filename_star_for_non_ascii():
    assert content_disposition("paper.pdf") == 'attachment; filename="paper.pdf"'
    header = content_disposition("Päevakord \u2013 Tallinn.pdf")
    assert header.startswith('attachment; filename="Paevakord _ Tallinn.pdf"')
    assert "filename*=UTF-8''P%C3%A4evakord%20%E2%80%93%20Tallinn.pdf" in header


def test_every_transition_of_the_contract():
    assert next_status("submit", "draft") == ("submitted", "document.submitted")
    assert next_status("approve", "submitted") == ("approved", "internal.document.approved")
    assert next_status("publish", "approved") == ("published", "document.published")
    for status in ("draft", "submitted", "approved", "published"):
        assert next_status("withdraw", status)[0] == "withdrawn"


def test_every_other_transition_is_illegal():
    legal = {(a, s) for a, (sources, _, _) in TRANSITIONS.items() for s in sources}
    illegal = [(a, s) for a in TRANSITIONS for s in STATUSES if (a, s) not in legal]
    assert len(illegal) == 4 * 5 - len(legal) == 13
    for action, status in illegal:
        with pytest.raises(IllegalTransition):
            next_status(action, status)
    with pytest.raises(IllegalTransition):
        next_status("delete", "draft")


def _doc(status, uploaded_by="up", event_id="ev1"):
    return {"status": status, "uploaded_by": uploaded_by, "event_id": event_id}


# who -> statuses readable; PARTICIPANT accepted for ev1, STRANGER for nothing
TABLE = {
    "secretariat": (SEC, [], set(STATUSES)),
    "uploader": (UPLOADER, [], {"draft", "submitted", "approved", "published"}),
    "accepted participant": (PARTICIPANT, ["ev1"], {"approved", "published"}),
    "participant of another event": (PARTICIPANT, ["ev2"], {"published"}),
    "stranger": (STRANGER, [], {"published"}),
    "anonymous": (ANONYMOUS, [], {"published"}),
}


@pytest.mark.parametrize("who", list(TABLE))
def test_the_contracts_read_table(who):
    principal, accepted, readable = TABLE[who]
    for status in STATUSES:
        assert may_read(_doc(status), principal, accepted) is (status in readable), status


def _matches(query, doc):
    """A tiny evaluator of the filters read_filter builds, to prove they agree with may_read."""
    if not query:
        return True
    if "$or" in query:
        return any(_matches(q, doc) for q in query["$or"])
    for field, cond in query.items():
        value = doc.get(field)
        if isinstance(cond, dict):
            if value not in cond["$in"]:
                return False
        elif value != cond:
            return False
    return True


@pytest.mark.parametrize("who", list(TABLE))
def test_the_list_filter_agrees_with_may_read(who):
    principal, accepted, _ = TABLE[who]
    for status in STATUSES:
        for uploaded_by in ("up", "other"):
            for event_id in ("ev1", "ev2"):
                doc = _doc(status, uploaded_by, event_id)
                assert _matches(read_filter(principal, accepted), doc) is may_read(
                    doc, principal, accepted
                )


def test_who_may_upload_and_act():
    assert may_upload(SEC, accepted_here=False)
    assert may_upload(UPLOADER, accepted_here=True)
    assert not may_upload(UPLOADER, accepted_here=False)
    assert not may_upload(Principal(sub="x", roles=frozenset({"partner"})), accepted_here=True)
    assert may_act("submit", _doc("draft"), UPLOADER)
    assert not may_act("approve", _doc("submitted"), UPLOADER)
    assert not may_act("publish", _doc("approved"), UPLOADER)
    assert may_act("withdraw", _doc("draft"), UPLOADER)
    assert not may_act("withdraw", _doc("approved"), UPLOADER)
    assert not may_act("submit", _doc("draft"), STRANGER)
    assert all(may_act(a, _doc("draft"), SEC) for a in TRANSITIONS)
    assert may_add_version(_doc("submitted"), UPLOADER)
    assert not may_add_version(_doc("approved"), UPLOADER)
    assert may_add_version(_doc("submitted"), SEC)
    for status in ("approved", "published", "withdrawn"):  # reviewed papers are not replaced
        assert not may_add_version(_doc(status), SEC)


def test_email_hash_ignores_case_and_spaces():
    assert email_hash(" Anna@Example.ORG ") == email_hash("anna@example.org")
    assert len(email_hash("a@b.c")) == 64

"""What a reviewer approved stays what readers get, and the zip of an event's
papers costs what a download costs (issue 10, finding 9): no new version of an
approved or published paper, checked in the writing transaction; an approval
names the version seen (If-Match); the zip is built once per set of versions;
an archive of too many entries is no paper."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from werkzeug.test import EnvironBuilder

from devkit.auth import auth
from services.documents import archive, jobs, operations
from shared.auth import Principal
from tests.fixtures.documents import PDF_BYTES, act, known_event, ooxml, upload

SEC = auth("secretariat")
SECRETARIAT = Principal(sub="secretariat-user", roles=frozenset({"secretariat"}))


def _ctx(app):
    return app.extensions["mlp"]


def _paper(client, deliver, *actions, event_id=None, **fields):
    event_id = event_id or known_event(deliver)
    response = upload(client, event_id, SEC, **fields)
    assert response.status_code == 201, response.json
    doc_id = response.json["id"]
    for action in actions:
        assert act(client, doc_id, action, SEC).status_code == 200
    return event_id, doc_id


def _new_version(client, doc_id, headers=SEC, content=PDF_BYTES, filename="v2.pdf"):
    return client.post(
        f"/v1/documents/{doc_id}/versions",
        data={"file": (io.BytesIO(content), filename)},
        headers=headers,
        content_type="multipart/form-data",
    )


def _all_files(app):
    return _ctx(app).db["files.files"].count_documents({})


# --- no new version of a reviewed paper ------------------------------------------


@pytest.mark.parametrize(
    ("actions", "status"),
    [(("submit", "approve"), "approved"), (("submit", "approve", "publish"), "published")],
)
def test_a_reviewed_paper_takes_no_new_version(
    documents_client, documents_app, deliver_to_documents, actions, status
):
    expert = auth("expert", email="author@example.org")
    _, doc_id = _paper(documents_client, deliver_to_documents, *actions)
    files = _all_files(documents_app)
    for headers in (SEC, expert):
        response = _new_version(documents_client, doc_id, headers)
        assert response.status_code in {404, 409}, response.json
    refused = _new_version(documents_client, doc_id)
    assert refused.status_code == 409
    assert refused.json["type"] == "/problems/illegal-transition"
    assert refused.json["current_status"] == status
    current = documents_client.get(f"/v1/documents/{doc_id}", headers=SEC).json
    assert current["version"] == 1 and current["status"] == status
    assert _all_files(documents_app) == files


class _ApprovesMidStream(io.RawIOBase):
    """A request body that, once half of it was read, lets the secretariat
    approve the paper: the approval lands while the new version streams in."""

    def __init__(self, body: bytes, approve) -> None:
        self.body = io.BytesIO(body)
        self.half = len(body) // 2
        self.approve = approve

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.approve is not None and self.body.tell() >= self.half:
            self.approve()
            self.approve = None
        data = self.body.read(min(len(buffer), 4096))
        buffer[: len(data)] = data
        return len(data)


def test_a_paper_approved_while_its_new_version_streamed_in_keeps_its_version(
    documents_client, documents_app, deliver_to_documents
):
    _, doc_id = _paper(documents_client, deliver_to_documents, "submit")
    ctx = _ctx(documents_app)

    def approve():
        seen = ctx.store.get(doc_id)["revision"]
        operations.transition(ctx, doc_id, "approve", SECRETARIAT, if_match=f'"{seen}"')

    content = b"%PDF-1.7\n" + b"0" * 200_000
    built = EnvironBuilder(method="POST", data={"file": (io.BytesIO(content), "v2.pdf")})
    environ = built.get_environ()
    body = environ["wsgi.input"].read()
    response = documents_client.post(
        f"/v1/documents/{doc_id}/versions",
        headers=SEC,
        environ_overrides={
            "wsgi.input": _ApprovesMidStream(body, approve),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": environ["CONTENT_TYPE"],
        },
    )
    assert response.status_code == 409, response.json
    assert response.json["current_status"] == "approved"
    doc = documents_client.get(f"/v1/documents/{doc_id}", headers=SEC).json
    assert doc["status"] == "approved" and doc["version"] == 1
    assert [v["version"] for v in doc["versions"]] == [1]
    assert ctx.db["files.files"].count_documents({}) == 1  # the streamed file is gone
    assert documents_client.get(f"/v1/documents/{doc_id}/content", headers=SEC).data == PDF_BYTES


# --- an approval binds to the version seen ------------------------------------------


def test_approval_needs_if_match_and_binds_to_the_version_seen(
    documents_client, documents_app, deliver_to_documents
):
    author = auth("secretariat")
    _, doc_id = _paper(documents_client, deliver_to_documents, "submit")
    url = f"/v1/documents/{doc_id}/approve"
    for headers in ({}, {"If-Match": "*"}, {"If-Match": ""}):
        response = documents_client.post(url, headers={**SEC, **headers})
        assert response.status_code == 428, (headers, response.json)
        assert response.json["type"] == "/problems/precondition-required"
    seen = documents_client.get(f"/v1/documents/{doc_id}", headers=SEC).headers["ETag"]
    # a new version arrives after the reviewer read the paper
    assert _new_version(documents_client, doc_id, author, ooxml(), "v2.docx").status_code == 201
    stale = documents_client.post(url, headers={**SEC, "If-Match": seen})
    assert stale.status_code == 412
    assert stale.json["type"] == "/problems/precondition-failed"
    assert documents_client.get(f"/v1/documents/{doc_id}", headers=SEC).json["status"] == (
        "submitted"
    )
    fresh = documents_client.get(f"/v1/documents/{doc_id}", headers=SEC)
    approved = documents_client.post(url, headers={**SEC, "If-Match": fresh.headers["ETag"]})
    assert approved.status_code == 200
    assert approved.json["version"] == 2
    history = documents_client.get(f"/v1/documents/{doc_id}/history", headers=SEC).json["items"]
    assert history[-1]["action"] == "approve" and history[-1]["version"] == 2
    [record] = [
        r
        for r in _ctx(documents_app).db["outbox"].find({"topic": "internal.document.approved"})
        if r["subject"] == doc_id
    ]
    assert record["payload"]["version"] == 2


def test_an_illegal_approval_is_409_even_without_if_match(documents_client, deliver_to_documents):
    _, doc_id = _paper(documents_client, deliver_to_documents)
    response = documents_client.post(f"/v1/documents/{doc_id}/approve", headers=SEC)
    assert response.status_code == 409  # a draft cannot be approved, whatever was seen


def test_the_openapi_document_says_approve_needs_if_match(documents_client):
    spec = documents_client.get("/openapi.json").json
    for action in ("approve", "submit"):
        parameters = spec["paths"][f"/v1/documents/{{document_id}}/{action}"]["post"]["parameters"]
        [if_match] = [p for p in parameters if p["name"] == "If-Match"]
        assert if_match["in"] == "header" and if_match["required"] is (action == "approve")


# --- the zip: built once per set of versions ------------------------------------


def _zip(client, event_id, headers=None, **kw):
    return client.get(f"/v1/events/{event_id}/documents.zip", headers=headers or {}, **kw)


def test_the_zip_is_built_once_per_set_of_versions_and_served_from_storage(
    documents_client, documents_app, deliver_to_documents
):
    db = _ctx(documents_app).db
    event_id, _ = _paper(documents_client, deliver_to_documents, "submit", "approve", "publish")
    _paper(
        documents_client, deliver_to_documents, "submit", "approve", "publish",
        event_id=event_id, kind="agenda", filename="agenda.pdf",
    )  # fmt: skip
    first = _zip(documents_client, event_id)
    assert first.status_code == 200
    assert first.headers["Content-Length"] == str(len(first.data))
    assert len(zipfile.ZipFile(io.BytesIO(first.data)).namelist()) == 2

    # a third paper is published: another set, another zip
    _paper(
        documents_client, deliver_to_documents, "submit", "approve", "publish",
        event_id=event_id, kind="minutes", filename="minutes.pdf",
    )  # fmt: skip
    second = _zip(documents_client, event_id)
    assert second.headers["ETag"] != first.headers["ETag"]
    assert len(zipfile.ZipFile(io.BytesIO(second.data)).namelist()) == 3

    # the secretariat also reads a draft: the zip of its own set
    _paper(documents_client, deliver_to_documents, event_id=event_id, kind="presentation")
    assert _zip(documents_client, event_id, SEC).headers["ETag"] != second.headers["ETag"]
    assert db["archives.files"].count_documents({}) == 3  # one per set asked for

    # serving it again reads no paper: it is stored, not deflated anew
    db["files.chunks"].delete_many({})
    for _ in range(3):
        again = _zip(documents_client, event_id)
        assert again.status_code == 200 and again.data == second.data
        assert again.headers["ETag"] == second.headers["ETag"]
    assert db["archives.files"].count_documents({}) == 3
    revalidated = _zip(documents_client, event_id, {"If-None-Match": second.headers["ETag"]})
    assert revalidated.status_code == 304
    ranged = _zip(documents_client, event_id, {"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.data == b"PK\x03\x04"


def test_a_zip_another_request_is_building_is_waited_for_then_429(
    documents_client, documents_app, deliver_to_documents, monkeypatch
):
    event_id, _ = _paper(documents_client, deliver_to_documents, "submit", "approve", "publish")
    store = _ctx(documents_app).store
    docs = list(store.event_papers({"status": "published"}, event_id))
    builder = store.archive_build_lease(archive.archive_key(docs), timedelta(minutes=1))
    assert builder.acquire()
    monkeypatch.setattr(archive, "BUILD_WAIT_S", 0.4)
    busy = _zip(documents_client, event_id)
    assert busy.status_code == 429
    assert busy.headers["Retry-After"] == str(archive.RETRY_AFTER_S)
    assert busy.json["type"] == "/problems/too-many-requests"
    builder.release()
    assert _zip(documents_client, event_id).status_code == 200


def test_old_zips_are_swept(documents_client, documents_app, deliver_to_documents, monkeypatch):
    event_id, _ = _paper(documents_client, deliver_to_documents, "submit", "approve", "publish")
    assert _zip(documents_client, event_id).status_code == 200
    db = _ctx(documents_app).db
    assert db["archives.files"].count_documents({}) == 1
    assert jobs.sweep_archives(_ctx(documents_app)) == 0  # young: kept
    monkeypatch.setattr(archive, "KEEP_FOR", timedelta(seconds=-5))
    assert jobs.sweep_archives(_ctx(documents_app)) == 1
    assert db["archives.files"].count_documents({}) == 0
    assert db["archives.chunks"].count_documents({}) == 0
    assert _zip(documents_client, event_id).status_code == 200  # built again when asked


# --- the sniff refuses archives of too many entries ------------------------------


def test_an_office_file_of_more_than_1000_entries_is_415(
    documents_client, documents_app, deliver_to_documents
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bomb:
        bomb.writestr("[Content_Types].xml", "<Types/>")
        bomb.writestr("word/document.xml", "<doc/>")
        for n in range(1000):
            bomb.writestr(f"word/media/{n}.xml", "")
    event_id = known_event(deliver_to_documents)
    response = upload(documents_client, event_id, SEC, buffer.getvalue(), "paper.docx")
    assert response.status_code == 415, response.json
    assert "1000 entries" in response.json["detail"]
    assert _all_files(documents_app) == 0

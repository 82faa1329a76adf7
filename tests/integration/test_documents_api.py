"""The documents API against real MongoDB (GridFS) through the Flask test client."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import replace
from datetime import date

import pytest

from devkit.auth import auth
from services.documents.app import create_app
from services.documents.jobs import send_due_reminders
from tests.fixtures.documents import (
    EXE_BYTES,
    PDF_BYTES,
    act,
    invite,
    known_event,
    ooxml,
    upload,
)
from tests.helpers import outbox_payload, running_app

SEC = auth("secretariat")
MiB = 1024 * 1024


def _files(app):
    return app.extensions["mlp"].db["files.files"]


def _outbox(app, topic=None):
    query = {"topic": topic} if topic else {}
    return list(app.extensions["mlp"].db["outbox"].find(query).sort("_id", 1))


def _draft(client, deliver, headers=SEC, **kw):
    event_id = known_event(deliver)
    response = upload(client, event_id, headers, **kw)
    assert response.status_code == 201, response.json
    return event_id, response.json


def _act(client, doc_id, action, headers=SEC):
    return act(client, doc_id, action, headers)


# --- upload, versions, download --------------------------------------------------


def test_upload_records_sha256_size_type_and_uploader(
    documents_client, documents_app, deliver_to_documents
):
    event_id, doc = _draft(
        documents_client, deliver_to_documents, summary="Estonia's OSKA", country="ee"
    )
    assert doc["status"] == "draft"
    assert doc["version"] == 1
    assert doc["sha256"] == hashlib.sha256(PDF_BYTES).hexdigest()
    assert doc["size"] == len(PDF_BYTES)
    assert doc["content_type"] == "application/pdf"
    assert doc["country"] == "EE"
    assert doc["uploaded_by"].startswith("user-")
    [record] = _outbox(documents_app, "document.uploaded")
    payload = record["payload"]
    assert record["key"] == event_id
    assert record["subject"] == doc["id"]
    assert set(payload) == {
        "document_id", "event_id", "kind", "title", "language", "country", "version",
        "sha256", "status", "revision", "occurred_at",
    }  # fmt: skip
    assert _files(documents_app).count_documents({"metadata.committed": True}) == 1


def test_versions_are_all_kept_and_served_with_etag_ranges_and_304(
    documents_client, deliver_to_documents
):
    _, doc = _draft(documents_client, deliver_to_documents)
    second = ooxml()
    response = documents_client.post(
        f"/v1/documents/{doc['id']}/versions",
        data={"file": (io.BytesIO(second), "paper v2.docx")},
        headers=SEC,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert response.json["version"] == 2
    assert [v["version"] for v in response.json["versions"]] == [1, 2]
    url = f"/v1/documents/{doc['id']}/content"

    current = documents_client.get(url, headers=SEC)
    assert current.data == second
    assert current.headers["ETag"] == f'"{hashlib.sha256(second).hexdigest()}"'
    assert current.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="paper v2.docx"' in current.headers["Content-Disposition"]

    first = documents_client.get(f"{url}?version=1", headers=SEC)
    assert first.data == PDF_BYTES
    assert first.headers["ETag"] == f'"{doc["sha256"]}"'

    again = documents_client.get(
        f"{url}?version=1", headers={**SEC, "If-None-Match": f'"{doc["sha256"]}"'}
    )
    assert again.status_code == 304
    assert again.data == b""

    part = documents_client.get(f"{url}?version=1", headers={**SEC, "Range": "bytes=5-9"})
    assert part.status_code == 206
    assert part.data == PDF_BYTES[5:10]
    assert part.headers["Content-Range"] == f"bytes 5-9/{len(PDF_BYTES)}"
    tail = documents_client.get(f"{url}?version=1", headers={**SEC, "Range": "bytes=-6"})
    assert tail.data == PDF_BYTES[-6:]
    beyond = documents_client.get(f"{url}?version=1", headers={**SEC, "Range": "bytes=9999-"})
    assert beyond.status_code == 416
    stale = documents_client.get(url, headers={**SEC, "Range": "bytes=0-3", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.data == second

    assert documents_client.get(f"{url}?version=3", headers=SEC).status_code == 404


def test_binary_content_with_line_breaks_streams_through(documents_client, deliver_to_documents):
    # random bytes hold CR/LF, which make the multipart decoder hold data back
    content = b"%PDF-1.7\n" + os.urandom(3 * MiB)
    _, doc = _draft(documents_client, deliver_to_documents, content=content)
    assert doc["sha256"] == hashlib.sha256(content).hexdigest()
    assert documents_client.get(f"/v1/documents/{doc['id']}/content", headers=SEC).data == content


def test_a_non_ascii_name_is_served_with_filename_star(documents_client, deliver_to_documents):
    _, doc = _draft(documents_client, deliver_to_documents, filename="Päevakord.pdf")
    response = documents_client.get(f"/v1/documents/{doc['id']}/content", headers=SEC)
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Paevakord.pdf\"; filename*=UTF-8''P%C3%A4evakord.pdf"
    )


# --- bad input ----------------------------------------------------------------


def test_26_mib_is_413_from_content_length_before_the_body_is_read(
    documents_client, deliver_to_documents
):
    event_id = known_event(deliver_to_documents)

    class Exploding(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise AssertionError("the body was read")

    response = documents_client.post(
        f"/v1/events/{event_id}/documents",
        headers=SEC,
        environ_overrides={
            "wsgi.input": Exploding(),
            "CONTENT_LENGTH": str(26 * MiB),
            "CONTENT_TYPE": "multipart/form-data; boundary=x",
        },
    )
    assert response.status_code == 413
    assert response.json["type"] == "/problems/payload-too-large"


def test_a_real_26_mib_upload_is_413_and_leaves_no_file(
    documents_client, documents_app, deliver_to_documents
):
    event_id = known_event(deliver_to_documents)
    response = upload(documents_client, event_id, SEC, content=b"%PDF-" + b"0" * (26 * MiB))
    assert response.status_code == 413
    assert _files(documents_app).count_documents({}) == 0


@pytest.mark.parametrize("documents_env", [{"MLP_DOCUMENT_MAX_BYTES": "1000"}])
def test_the_count_while_streaming_refuses_what_content_length_let_through(
    documents_client, documents_app, deliver_to_documents
):
    assert documents_app.extensions["mlp"].settings.document_max_bytes == 1000
    event_id = known_event(deliver_to_documents)
    response = upload(documents_client, event_id, SEC, content=b"%PDF-" + b"0" * 1000)
    assert response.status_code == 413
    assert response.json["max_bytes"] == 1000
    assert _files(documents_app).count_documents({}) == 0
    assert documents_app.extensions["mlp"].db["files.chunks"].count_documents({}) == 0


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (EXE_BYTES, "paper.pdf"),  # an executable named .pdf
        (b"#!/bin/sh\nrm -rf /\n", "run.sh"),  # text, but not a paper's name
        (PDF_BYTES, "paper.docx"),  # the name claims another type
        (b"\x00\x01\x02binary", "paper"),
    ],
)
def test_types_the_bytes_do_not_confirm_are_415(
    documents_client, documents_app, deliver_to_documents, content, filename
):
    event_id = known_event(deliver_to_documents)
    response = upload(documents_client, event_id, SEC, content=content, filename=filename)
    assert response.status_code == 415, response.json
    assert _files(documents_app).count_documents({}) == 0


def test_a_path_traversal_name_is_stored_and_served_sanitised(
    documents_client, deliver_to_documents
):
    _, doc = _draft(documents_client, deliver_to_documents, filename="../../etc/\x07passwd.pdf")
    assert doc["filename"] == "passwd.pdf"
    response = documents_client.get(f"/v1/documents/{doc['id']}/content", headers=SEC)
    assert response.headers["Content-Disposition"] == 'attachment; filename="passwd.pdf"'


@pytest.mark.parametrize(
    ("fields", "content", "error_field"),
    [
        ({}, None, "file"),
        ({"kind": "love_letter"}, PDF_BYTES, "kind"),
        ({"language": "xx"}, PDF_BYTES, "language"),
        ({"title": ""}, PDF_BYTES, "title"),
        ({"colour": "red"}, PDF_BYTES, "colour"),
        ({}, b"", "file"),
    ],
)
def test_invalid_forms_are_422_with_field_errors(
    documents_client, documents_app, deliver_to_documents, fields, content, error_field
):
    event_id = known_event(deliver_to_documents)
    response = upload(documents_client, event_id, SEC, content=content, **fields)
    assert response.status_code == 422, response.json
    assert error_field in response.json["errors"]
    assert _files(documents_app).count_documents({}) == 0


def test_json_instead_of_multipart_is_415(documents_client, deliver_to_documents):
    event_id = known_event(deliver_to_documents)
    response = documents_client.post(
        f"/v1/events/{event_id}/documents", json={"kind": "agenda"}, headers=SEC
    )
    assert response.status_code == 415


def test_a_broken_multipart_body_is_refused(documents_client, documents_app, deliver_to_documents):
    event_id = known_event(deliver_to_documents)
    response = documents_client.post(
        f"/v1/events/{event_id}/documents",
        data=b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF',
        headers=SEC,
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code in {400, 422}
    assert _files(documents_app).count_documents({"metadata.committed": True}) == 0


def test_an_unknown_event_is_404(documents_client):
    assert upload(documents_client, "no-such-event", SEC).status_code == 404


# --- workflow -------------------------------------------------------------------


def test_the_workflow_and_its_history(documents_client, documents_app, deliver_to_documents):
    _, doc = _draft(documents_client, deliver_to_documents)
    for action, status in [
        ("submit", "submitted"),
        ("approve", "approved"),
        ("publish", "published"),
        ("withdraw", "withdrawn"),
    ]:
        response = _act(documents_client, doc["id"], action)
        assert response.status_code == 200, response.json
        assert response.json["status"] == status
    history = documents_client.get(f"/v1/documents/{doc['id']}/history", headers=SEC).json["items"]
    assert [h["action"] for h in history] == ["upload", "submit", "approve", "publish", "withdraw"]
    assert all(h["by"] and h["at"] for h in history)
    topics = [r["topic"] for r in _outbox(documents_app)]
    assert topics == [
        "document.uploaded",
        "document.submitted",
        "internal.document.approved",
        "document.published",
        "document.withdrawn",
    ]
    revisions = [r["payload"]["revision"] for r in _outbox(documents_app)]
    assert revisions == sorted(revisions) and len(set(revisions)) == 5


ILLEGAL = {
    "draft": ["approve", "publish"],
    "submitted": ["submit", "publish"],
    "approved": ["submit", "approve"],
    "published": ["submit", "approve", "publish"],
    "withdrawn": ["submit", "approve", "publish", "withdraw"],
}
PATH = {
    "draft": [],
    "submitted": ["submit"],
    "approved": ["submit", "approve"],
    "published": ["submit", "approve", "publish"],
    "withdrawn": ["withdraw"],
}


def test_every_wrong_transition_is_409(documents_client, deliver_to_documents):
    for status, actions in ILLEGAL.items():
        _, doc = _draft(documents_client, deliver_to_documents)
        for step in PATH[status]:
            assert _act(documents_client, doc["id"], step).status_code == 200
        for action in actions:
            response = _act(documents_client, doc["id"], action)
            assert response.status_code == 409, (status, action)
            assert response.json["type"] == "/problems/illegal-transition"
            assert response.json["current_status"] == status
    withdrawn = documents_client.post(
        f"/v1/documents/{doc['id']}/versions",
        data={"file": (io.BytesIO(PDF_BYTES), "v2.pdf")},
        headers=SEC,
        content_type="multipart/form-data",
    )
    assert withdrawn.status_code == 409


def test_if_match_guards_transitions(documents_client, deliver_to_documents):
    _, doc = _draft(documents_client, deliver_to_documents)
    response = documents_client.post(
        f"/v1/documents/{doc['id']}/submit", headers={**SEC, "If-Match": '"7"'}
    )
    assert response.status_code == 412


# --- access -----------------------------------------------------------------------


def test_wrong_callers_everywhere(documents_client, deliver_to_documents):
    event_id = known_event(deliver_to_documents)
    expert = auth("expert", email="author@example.org")
    invite(deliver_to_documents, event_id, "author@example.org")
    response = upload(documents_client, event_id, expert)
    assert response.status_code == 201
    doc = response.json
    doc_id = doc["id"]
    stranger = auth("participant", email="nobody@example.org")
    partner = auth("partner")
    # uploads: anonymous 401, partner 403, an expert not accepted for the event 403
    assert upload(documents_client, event_id, {}).status_code == 401
    assert upload(documents_client, event_id, partner).status_code == 403
    assert (
        upload(documents_client, event_id, auth("expert", email="other@example.org")).status_code
        == 403
    )
    # a draft is invisible to anyone but the uploader and the secretariat
    reads = [
        f"/v1/documents/{doc_id}",
        f"/v1/documents/{doc_id}/content",
        f"/v1/documents/{doc_id}/content?version=1",
        f"/v1/documents/{doc_id}/history",
    ]
    for headers in ({}, stranger, partner):
        for url in reads:
            assert documents_client.get(url, headers=headers).status_code == 404, url
        for action in ("submit", "approve", "publish", "withdraw"):
            expected = 401 if not headers else 404
            assert _act(documents_client, doc_id, action, headers).status_code == expected
        listed = documents_client.get(f"/v1/documents?event_id={event_id}", headers=headers).json
        assert listed["total"] == 0
    for url in reads:
        assert documents_client.get(url, headers=expert).status_code == 200
    # the uploader may submit, but not approve or publish
    assert _act(documents_client, doc_id, "approve", expert).status_code == 403
    assert _act(documents_client, doc_id, "submit", expert).status_code == 200
    assert _act(documents_client, doc_id, "approve", expert).status_code == 403
    assert _act(documents_client, doc_id, "approve").status_code == 200
    assert _act(documents_client, doc_id, "publish", expert).status_code == 403
    assert _act(documents_client, doc_id, "withdraw", expert).status_code == 403
    # due dates are the secretariat's
    body = {"items": [{"kind": "agenda", "due_on": "2027-01-01"}]}
    for headers in ({}, expert, partner):
        assert documents_client.put(
            f"/v1/events/{event_id}/due-dates", json=body, headers=headers
        ).status_code in {401, 403}


def test_readers_per_status_in_metadata_list_content_and_zip(
    documents_client, deliver_to_documents
):
    event_id = known_event(deliver_to_documents)
    invite(deliver_to_documents, event_id, "Accepted@Example.org")
    invite(deliver_to_documents, event_id, "pending@example.org", status="pending")
    accepted = auth("participant", email="accepted@example.org")
    pending = auth("participant", email="pending@example.org")
    author = auth("secretariat")
    ids = {}
    for status, actions in PATH.items():
        response = upload(
            documents_client, event_id, author, title=f"Paper {status}", filename=f"{status}.pdf"
        )
        ids[status] = response.json["id"]
        for action in actions:
            assert _act(documents_client, ids[status], action).status_code == 200

    def visible(headers):
        listed = documents_client.get(f"/v1/documents?event_id={event_id}", headers=headers).json
        by_get = {
            s
            for s, i in ids.items()
            if documents_client.get(f"/v1/documents/{i}", headers=headers).status_code == 200
        }
        by_content = {
            s
            for s, i in ids.items()
            if documents_client.get(f"/v1/documents/{i}/content", headers=headers).status_code
            == 200
        }
        archive = documents_client.get(f"/v1/events/{event_id}/documents.zip", headers=headers)
        assert archive.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
        in_zip = {n.split("/")[1].removesuffix(".pdf") for n in names}
        by_list = {s for s, i in ids.items() if i in {d["id"] for d in listed["items"]}}
        assert by_get == by_content == by_list == in_zip
        assert listed["total"] == len(by_list)
        return by_get

    assert visible(SEC) == set(PATH)
    assert visible(accepted) == {"approved", "published"}
    assert visible(pending) == {"published"}
    assert visible({}) == {"published"}
    archive = documents_client.get(f"/v1/events/{event_id}/documents.zip", headers=accepted)
    with zipfile.ZipFile(io.BytesIO(archive.data)) as opened:
        assert opened.read("host_country_paper/approved.pdf") == PDF_BYTES


def test_papers_of_accepted_invitees_need_a_verified_address_when_required(
    documents_client, documents_settings, deliver_to_documents
):
    event_id = known_event(deliver_to_documents)
    invite(deliver_to_documents, event_id, "accepted@example.org")
    doc_id = upload(documents_client, event_id, SEC, title="Approved paper").json["id"]
    for action in PATH["approved"]:
        assert _act(documents_client, doc_id, action).status_code == 200
    strict = replace(documents_settings, jwt_require_verified_email=True)
    with running_app(create_app, strict) as app:  # the same database
        client = app.test_client()
        claimed = auth("participant", email="accepted@example.org", email_verified=False)
        verified = auth("participant", email="accepted@example.org")
        for path in (f"/v1/documents/{doc_id}", f"/v1/documents/{doc_id}/content"):
            assert client.get(path, headers=claimed).status_code == 404
            assert client.get(path, headers=verified).status_code == 200
        listed = client.get(f"/v1/documents?event_id={event_id}", headers=claimed).json
        assert listed["total"] == 0


def test_list_filters_q_sort_and_pages(documents_client, deliver_to_documents):
    event_id = known_event(deliver_to_documents)
    other = known_event(deliver_to_documents)
    specs = [
        (event_id, "agenda", "Agenda of the peer review", "en", None),
        (event_id, "comments_paper", "Comments from Latvia", "lv", "LV"),
        (event_id, "comments_paper", "Comments from Finland", "en", "FI"),
        (other, "minutes", "Minutes of forecasting workshop", "en", None),
    ]
    for ev, kind, title, language, country in specs:
        fields = {"kind": kind, "title": title, "language": language}
        if country:
            fields["country"] = country
        assert upload(documents_client, ev, SEC, **fields).status_code == 201

    def titles(query):
        response = documents_client.get(f"/v1/documents?{query}", headers=SEC)
        assert response.status_code == 200, response.json
        return [d["title"] for d in response.json["items"]]

    assert len(titles(f"event_id={event_id}")) == 3
    assert titles("kind=minutes") == ["Minutes of forecasting workshop"]
    assert titles("country=lv") == ["Comments from Latvia"]
    assert titles("language=lv") == ["Comments from Latvia"]
    assert set(titles("q=comm")) == {"Comments from Latvia", "Comments from Finland"}
    assert titles("q=forecast workshop") == ["Minutes of forecasting workshop"]
    assert titles("q=nothing+here") == []
    assert titles(f"event_id={event_id}&sort=title") == sorted(titles(f"event_id={event_id}"))
    assert titles(f"event_id={event_id}&sort=-title&page=2&page_size=2") == [
        "Agenda of the peer review"
    ]
    assert documents_client.get("/v1/documents?sort=size", headers=SEC).status_code == 422
    assert documents_client.get("/v1/documents?kind=novel", headers=SEC).status_code == 422


# --- due dates and reminders --------------------------------------------------------


def test_missing_papers_produce_one_reminder_per_step(
    documents_client, documents_app, deliver_to_documents
):
    event_id = known_event(deliver_to_documents, title="Skills forecasting")
    body = {
        "items": [
            {
                "kind": "host_country_paper",
                "due_on": "2027-02-10",
                "remind_days_before": [7, 1],
                "recipients": [{"email": "host@example.ee", "name": "Host", "language": "et"}],
            },
            {"kind": "agenda", "due_on": "2027-02-10"},
        ]
    }
    response = documents_client.put(f"/v1/events/{event_id}/due-dates", json=body, headers=SEC)
    assert response.status_code == 200, response.json
    assert (
        documents_client.get(f"/v1/events/{event_id}/due-dates", headers=SEC).json["items"][0][
            "due_on"
        ]
        == "2027-02-10"
    )
    bad = {"items": [{"kind": "novel", "due_on": "2027-02-10"}]}
    assert (
        documents_client.put(f"/v1/events/{event_id}/due-dates", json=bad, headers=SEC).status_code
        == 422
    )
    # A recipient's name reaches a mail header: no line separators or controls.
    for name in ("Host\u2028Bcc: x@evil.example", "Host\r\nBcc: x@evil.example", "Host\x85"):
        recipient = {"email": "host@example.ee", "name": name}
        bad = {"items": [{"kind": "agenda", "due_on": "2027-02-10", "recipients": [recipient]}]}
        response = documents_client.put(f"/v1/events/{event_id}/due-dates", json=bad, headers=SEC)
        assert response.status_code == 422, name
        assert "name" in str(response.json["errors"])
    # the agenda is there (submitted), the host country paper only as a draft
    agenda = upload(documents_client, event_id, SEC, kind="agenda").json
    assert _act(documents_client, agenda["id"], "submit").status_code == 200
    upload(documents_client, event_id, SEC)
    ctx = documents_app.extensions["mlp"]

    assert send_due_reminders(ctx, today=date(2027, 2, 1)) == 0
    assert send_due_reminders(ctx, today=date(2027, 2, 3)) == 1
    assert send_due_reminders(ctx, today=date(2027, 2, 4)) == 0  # once per step
    assert send_due_reminders(ctx, today=date(2027, 2, 9)) == 1
    assert send_due_reminders(ctx, today=date(2027, 2, 12)) == 0
    records = _outbox(documents_app, "internal.document.reminder_due")
    assert [r["payload"]["reminder_id"].rsplit(":", 1)[1] for r in records] == ["7d", "1d"]
    payload = outbox_payload(records[0])
    assert payload["title"] == "Skills forecasting"
    assert payload["due_on"] == "2027-02-10"
    assert payload["kind"] == "host_country_paper"
    assert payload["recipients"] == [{"email": "host@example.ee", "name": "Host", "language": "et"}]
    assert payload["version"] == 1

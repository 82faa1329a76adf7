"""The documents service end to end: events and documents as real processes
(gunicorn web + worker), real Kafka and MongoDB. The invitations service is
built in parallel, so this test plays its part: it produces
``internal.invitation.issued`` and ``invitation.*`` records with
``devkit.kafka.Producer`` (the shared envelope, source ``/mlp/invitations``)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import requests

from devkit.auth import auth
from devkit.kafka import Producer, collect, partner_consumer
from devkit.samples import event_body, issued_payload, status_payload
from devkit.waiting import wait_until
from tests.fixtures.documents import PDF_BYTES, ooxml

SEC = auth("secretariat")
ACCEPTED = auth("participant", email="accepted.official@example.lv", country="LV")
INVITED = auth("participant", email="invited.official@example.fi", country="FI")


def _invitation(producer, event_id, email, status, version, invitation_id=None):
    """What the invitations service would announce: the issue record naming the
    invitee (when ``email`` is given), then the status (valid payloads both)."""
    invitation_id = invitation_id or str(uuid.uuid4())
    if email:
        issued = issued_payload(event_id, invitation_id, email, name="An Official", country="LV")
        producer.send("internal.invitation.issued", issued, key=event_id, subject=invitation_id)
    state = "pending" if status == "sent" else status
    changed = status_payload(event_id, invitation_id, state, version)
    producer.send(f"invitation.{status}", changed, key=event_id, subject=invitation_id)
    return invitation_id


def _upload(base, event_id, headers, content=PDF_BYTES, filename="host-paper.pdf", **fields):
    form = {"kind": "host_country_paper", "title": "Host country paper", "language": "en"}
    form.update(fields)
    return requests.post(
        f"{base}/v1/events/{event_id}/documents",
        data=form,
        files={"file": (filename, io.BytesIO(content))},
        headers=headers,
        timeout=30,
    )


def _approve(url):
    """Submit, then approve the version read (the approval names its ETag)."""
    assert requests.post(f"{url}/submit", headers=SEC).status_code == 200
    seen = requests.get(url, headers=SEC).headers["ETag"]
    approved = requests.post(f"{url}/approve", headers={**SEC, "If-Match": seen})
    assert approved.status_code == 200, approved.text


def test_papers_circulate_to_accepted_participants_and_then_to_everyone(start_service, topics):
    events = start_service("events", topics)
    documents = start_service("documents", topics)
    base = documents.base_url
    partner = partner_consumer(topics, "document.published")
    producer = Producer(topics)

    response = requests.post(f"{events.base_url}/v1/events", json=event_body(), headers=SEC)
    assert response.status_code == 201
    event_id = response.json()["id"]
    # the documents service learns of the event from event.created
    assert wait_until(lambda: _upload(base, event_id, SEC).status_code == 201)
    accepted_id = _invitation(producer, event_id, "Accepted.Official@example.lv", "accepted", 2)
    _invitation(producer, event_id, "invited.official@example.fi", "sent", 1)

    paper = _upload(base, event_id, SEC, summary="OSKA in practice").json()
    draft = _upload(base, event_id, SEC, kind="agenda", title="Draft agenda").json()
    url = f"{base}/v1/documents/{paper['id']}"
    # a second version while the paper is a draft; the first stays retrievable
    second = ooxml()
    response = requests.post(
        f"{url}/versions",
        files={"file": ("host-paper-v2.docx", io.BytesIO(second))},
        headers=SEC,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    assert requests.get(url, headers=ACCEPTED).status_code == 404
    _approve(url)

    assert wait_until(lambda: requests.get(url, headers=ACCEPTED).status_code == 200)
    content = requests.get(f"{url}/content", headers=ACCEPTED)
    assert content.content == second
    assert requests.get(url, headers=INVITED).status_code == 404
    assert requests.get(f"{url}/content").status_code == 404
    listed = requests.get(f"{base}/v1/documents?event_id={event_id}", headers=ACCEPTED).json()
    assert [d["id"] for d in listed["items"]] == [paper["id"]]
    archive = requests.get(f"{base}/v1/events/{event_id}/documents.zip", headers=ACCEPTED)
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert opened.namelist() == ["host_country_paper/host-paper-v2.docx"]
    assert requests.get(f"{base}/v1/documents/{draft['id']}", headers=ACCEPTED).status_code == 404

    # publish: anyone may read; a partner hears of it without personal data
    assert requests.post(f"{url}/publish", headers=SEC).status_code == 200
    assert requests.get(f"{url}/content").content == second
    records = collect(partner, lambda rs: any(r.key == event_id.encode() for r in rs))
    [record] = [r for r in records if r.key == event_id.encode()]
    payload = json.loads(record.value)
    assert payload["document_id"] == paper["id"] and payload["status"] == "published"
    assert "@" not in record.value.decode()
    assert requests.get(f"{url}/content?version=1").content == PDF_BYTES
    etag = requests.get(f"{url}/content").headers["ETag"]
    assert requests.get(f"{url}/content", headers={"If-None-Match": etag}).status_code == 304
    ranged = requests.get(f"{url}/content?version=1", headers={"Range": "bytes=0-4"})
    assert ranged.status_code == 206 and ranged.content == b"%PDF-"
    # what was reviewed and published is not replaced
    replaced = requests.post(
        f"{url}/versions", files={"file": ("v3.pdf", io.BytesIO(PDF_BYTES))}, headers=SEC
    )
    assert replaced.status_code == 409

    # an approved (unpublished) paper disappears when the participant declines
    other = _upload(base, event_id, SEC, kind="background_paper", title="Background").json()
    other_url = f"{base}/v1/documents/{other['id']}"
    _approve(other_url)
    assert requests.get(other_url, headers=ACCEPTED).status_code == 200
    _invitation(producer, event_id, None, "declined", 3, invitation_id=accepted_id)
    assert wait_until(lambda: requests.get(other_url, headers=ACCEPTED).status_code == 404)
    assert requests.get(url, headers=ACCEPTED).status_code == 200  # published stays public

    # bad input through gunicorn: an oversized body is refused from its Content-Length
    big = requests.post(
        f"{base}/v1/events/{event_id}/documents",
        data=b"x" * (26 * 1024 * 1024),
        headers={**SEC, "Content-Type": "multipart/form-data; boundary=x"},
        timeout=60,
    )
    assert big.status_code == 413
    disguised = _upload(base, event_id, SEC, content=b"MZ\x90\x00" + b"\x00" * 100)
    assert disguised.status_code == 415
    producer.close()
    partner.close()

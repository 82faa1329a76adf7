"""The documents service's read models from invitation and event topics: access
follows acceptance, decline and revocation; replays and late records change nothing."""

from __future__ import annotations

import uuid

from devkit.auth import auth
from devkit.samples import event_payload, issued_payload
from tests.fixtures.documents import act, known_event, set_invitation, upload

SEC = auth("secretariat")
EMAIL = "Official@Example.lv"
READER = auth("participant", email="official@example.lv")


def _approved(client, event_id):
    doc = upload(client, event_id, SEC).json
    for action in ("submit", "approve"):
        assert act(client, doc["id"], action, SEC).status_code == 200
    return doc["id"]


def _issue(deliver, event_id, invitation_id, version=1, email=EMAIL):
    payload = issued_payload(event_id, invitation_id, email, version, name="An Official")
    deliver("internal.invitation.issued", payload)


def _can_read(client, doc_id):
    return client.get(f"/v1/documents/{doc_id}", headers=READER).status_code == 200


def test_access_follows_accept_decline_and_revoke(
    documents_client, documents_app, deliver_to_documents
):
    event_id = known_event(deliver_to_documents)
    doc_id = _approved(documents_client, event_id)
    invitation = str(uuid.uuid4())
    _issue(deliver_to_documents, event_id, invitation)
    set_invitation(deliver_to_documents, invitation, event_id, "pending", 1)
    assert not _can_read(documents_client, doc_id)
    set_invitation(deliver_to_documents, invitation, event_id, "accepted", 2)
    assert _can_read(documents_client, doc_id)
    set_invitation(deliver_to_documents, invitation, event_id, "declined", 3)
    assert not _can_read(documents_client, doc_id)
    set_invitation(deliver_to_documents, invitation, event_id, "accepted", 4)
    assert _can_read(documents_client, doc_id)
    set_invitation(deliver_to_documents, invitation, event_id, "revoked", 5)
    assert not _can_read(documents_client, doc_id)
    stored = documents_app.extensions["mlp"].db["invitees"].find_one({"_id": invitation})
    assert "email" not in stored and len(stored["email_hash"]) == 64
    assert EMAIL.lower() not in str(stored)


def test_access_appears_only_from_approval_on(documents_client, deliver_to_documents):
    event_id = known_event(deliver_to_documents)
    invitation = str(uuid.uuid4())
    _issue(deliver_to_documents, event_id, invitation)
    set_invitation(deliver_to_documents, invitation, event_id, "accepted", 2)
    doc_id = upload(documents_client, event_id, SEC).json["id"]
    assert not _can_read(documents_client, doc_id)
    documents_client.post(f"/v1/documents/{doc_id}/submit", headers=SEC)
    assert not _can_read(documents_client, doc_id)
    act(documents_client, doc_id, "approve", SEC)
    assert _can_read(documents_client, doc_id)
    other_event = known_event(deliver_to_documents)
    other_doc = _approved(documents_client, other_event)
    assert not _can_read(documents_client, other_doc)  # accepted for one event only


def test_replayed_and_out_of_order_records_change_nothing(documents_client, deliver_to_documents):
    event_id = known_event(deliver_to_documents)
    doc_id = _approved(documents_client, event_id)
    invitation = str(uuid.uuid4())
    # the acceptance arrives before the issue record that names the invitee
    set_invitation(deliver_to_documents, invitation, event_id, "accepted", 2)
    assert not _can_read(documents_client, doc_id)
    _issue(deliver_to_documents, event_id, invitation, version=1)
    assert _can_read(documents_client, doc_id)
    # a late "sent" (version 1) and a replayed acceptance change nothing
    set_invitation(deliver_to_documents, invitation, event_id, "pending", 1)
    set_invitation(deliver_to_documents, invitation, event_id, "accepted", 2)
    assert _can_read(documents_client, doc_id)
    set_invitation(deliver_to_documents, invitation, event_id, "revoked", 3)
    set_invitation(deliver_to_documents, invitation, event_id, "accepted", 2)  # late and stale
    assert not _can_read(documents_client, doc_id)
    # a resend (newer issue record) for another address moves the access with it
    other = str(uuid.uuid4())
    _issue(deliver_to_documents, event_id, other, version=1, email="someone@else.org")
    set_invitation(deliver_to_documents, other, event_id, "accepted", 2)
    _issue(deliver_to_documents, event_id, other, version=3, email=EMAIL)
    _issue(deliver_to_documents, event_id, other, version=1, email="someone@else.org")  # stale
    assert _can_read(documents_client, doc_id)


def test_event_read_model_keeps_the_newest_version(
    documents_client, documents_app, deliver_to_documents
):
    event_id = known_event(deliver_to_documents, title="Old title", version=1)
    deliver_to_documents("event.updated", event_payload(event_id, version=3, title="New"))
    deliver_to_documents("event.updated", event_payload(event_id, version=2, title="Stale"))
    stored = documents_app.extensions["mlp"].db["events"].find_one({"_id": event_id})
    assert stored["title"] == "New"
    assert stored["version"] == 3
    unknown = str(uuid.uuid4())
    assert upload(documents_client, unknown, SEC).status_code == 404
    known_event(deliver_to_documents, event_id=unknown)
    assert upload(documents_client, unknown, SEC).status_code == 201

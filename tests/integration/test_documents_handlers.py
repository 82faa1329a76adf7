"""The documents service's read models from invitation and event topics: access
follows acceptance, decline and revocation; replays and late records change nothing."""

from __future__ import annotations

import uuid

from tests.fixtures.documents import known_event, set_invitation, upload
from tests.helpers import auth

SEC = auth("secretariat")
EMAIL = "Official@Example.lv"
READER = auth("participant", email="official@example.lv")


def _approved(docs, app, event_id):
    doc = upload(docs, event_id, SEC).json
    for action in ("submit", "approve"):
        assert docs.post(f"/v1/documents/{doc['id']}/{action}", headers=SEC).status_code == 200
    return doc["id"]


def _issue(app, event_id, invitation_id, version=1, email=EMAIL):
    deliver(
        app,
        "internal.invitation.issued",
        {
            "invitation_id": invitation_id,
            "event_id": event_id,
            "email": email,
            "name": "An Official",
            "version": version,
        },
    )


def _can_read(docs, doc_id):
    return docs.get(f"/v1/documents/{doc_id}", headers=READER).status_code == 200


def test_access_follows_accept_decline_and_revoke(docs, documents_app):
    event_id = known_event(documents_app)
    doc_id = _approved(docs, documents_app, event_id)
    invitation = str(uuid.uuid4())
    _issue(documents_app, event_id, invitation)
    set_invitation(documents_app, invitation, event_id, "pending", 1)
    assert not _can_read(docs, doc_id)
    set_invitation(documents_app, invitation, event_id, "accepted", 2)
    assert _can_read(docs, doc_id)
    set_invitation(documents_app, invitation, event_id, "declined", 3)
    assert not _can_read(docs, doc_id)
    set_invitation(documents_app, invitation, event_id, "accepted", 4)
    assert _can_read(docs, doc_id)
    set_invitation(documents_app, invitation, event_id, "revoked", 5)
    assert not _can_read(docs, doc_id)
    stored = documents_app.extensions["mlp"].db["invitees"].find_one({"_id": invitation})
    assert "email" not in stored and len(stored["email_hash"]) == 64
    assert EMAIL.lower() not in str(stored)


def test_access_appears_only_from_approval_on(docs, documents_app):
    event_id = known_event(documents_app)
    invitation = str(uuid.uuid4())
    _issue(documents_app, event_id, invitation)
    set_invitation(documents_app, invitation, event_id, "accepted", 2)
    doc_id = upload(docs, event_id, SEC).json["id"]
    assert not _can_read(docs, doc_id)
    docs.post(f"/v1/documents/{doc_id}/submit", headers=SEC)
    assert not _can_read(docs, doc_id)
    docs.post(f"/v1/documents/{doc_id}/approve", headers=SEC)
    assert _can_read(docs, doc_id)
    other_event = known_event(documents_app)
    other_doc = _approved(docs, documents_app, other_event)
    assert not _can_read(docs, other_doc)  # accepted for one event only


def test_replayed_and_out_of_order_records_change_nothing(docs, documents_app):
    event_id = known_event(documents_app)
    doc_id = _approved(docs, documents_app, event_id)
    invitation = str(uuid.uuid4())
    # the acceptance arrives before the issue record that names the invitee
    set_invitation(documents_app, invitation, event_id, "accepted", 2)
    assert not _can_read(docs, doc_id)
    _issue(documents_app, event_id, invitation, version=1)
    assert _can_read(docs, doc_id)
    # a late "sent" (version 1) and a replayed acceptance change nothing
    set_invitation(documents_app, invitation, event_id, "pending", 1)
    set_invitation(documents_app, invitation, event_id, "accepted", 2)
    assert _can_read(docs, doc_id)
    set_invitation(documents_app, invitation, event_id, "revoked", 3)
    set_invitation(documents_app, invitation, event_id, "accepted", 2)  # late and stale
    assert not _can_read(docs, doc_id)
    # a resend (newer issue record) for another address moves the access with it
    other = str(uuid.uuid4())
    _issue(documents_app, event_id, other, version=1, email="someone@else.org")
    set_invitation(documents_app, other, event_id, "accepted", 2)
    _issue(documents_app, event_id, other, version=3, email=EMAIL)
    _issue(documents_app, event_id, other, version=1, email="someone@else.org")  # stale
    assert _can_read(docs, doc_id)


def test_event_read_model_keeps_the_newest_version(docs, documents_app):
    event_id = known_event(documents_app, title="Old title", version=1)
    deliver(documents_app, "event.updated", {"event_id": event_id, "title": "New", "version": 3})
    deliver(documents_app, "event.updated", {"event_id": event_id, "title": "Stale", "version": 2})
    stored = documents_app.extensions["mlp"].db["events"].find_one({"_id": event_id})
    assert stored["title"] == "New"
    assert stored["version"] == 3
    unknown = str(uuid.uuid4())
    assert upload(docs, unknown, SEC).status_code == 404
    known_event(documents_app, event_id=unknown)
    assert upload(docs, unknown, SEC).status_code == 201

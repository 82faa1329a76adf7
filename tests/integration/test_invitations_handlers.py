"""Reactions to ``event.*`` records through the real consumer runner, and the
periodic jobs (expiry at the deadline, reminders) against the real database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from services.invitations.jobs import expire_due, remind_due
from tests.fixtures.invitations import SEC, invitee, issued_links, token_of
from tests.helpers import outbox_payload


def _db(app):
    return app.extensions["mlp"].db


def _setup(client, published_event, capacity, people):
    """A published event with ``people`` invitees; the event payload and their RSVP tokens."""
    app = client.application
    ev = published_event(capacity=capacity)
    response = client.post(
        f"/v1/events/{ev['event_id']}/invitations",
        json={"invitees": [invitee(i) for i in range(people)]},
        headers=SEC,
    )
    assert response.status_code == 201
    db = _db(app)
    links = {
        db.invitations.find_one({"_id": iid})["email"]: token_of(url)
        for iid, url in issued_links(app, ev["event_id"]).items()
    }
    tokens = [links[f"official.{i}@gov.example.eu"] for i in range(people)]
    return ev, tokens


def _accept(client, token):
    return client.post(f"/v1/rsvp/{token}", json={"response": "accept"}).json["status"]


def _statuses(app, event_id):
    return sorted(i["status"] for i in _db(app).invitations.find({"event_id": event_id}))


def _topics(app, event_id, topic):
    return [outbox_payload(r) for r in _db(app).outbox.find({"key": event_id, "topic": topic})]


def test_cancellation_revokes_every_open_invitation_once(
    invitations_client, invitations_app, deliver_to_invitations, invitations_published_event
):
    ev, tokens = _setup(invitations_client, invitations_published_event, capacity=1, people=4)
    assert [_accept(invitations_client, t) for t in tokens[:2]] == ["accepted", "waitlisted"]
    invitations_client.post(f"/v1/rsvp/{tokens[2]}", json={"response": "decline"})
    cancelled = {**ev, "status": "cancelled", "version": ev["version"] + 1, "reason": "x"}
    ce_id = deliver_to_invitations("event.cancelled", cancelled)
    assert _statuses(invitations_app, ev["event_id"]) == ["revoked"] * 4
    assert len(_topics(invitations_app, ev["event_id"], "invitation.revoked")) == 4
    # the same record again, and a new record with the same version: nothing changes
    deliver_to_invitations("event.cancelled", cancelled, ce_id=ce_id)
    deliver_to_invitations("event.cancelled", cancelled)
    assert len(_topics(invitations_app, ev["event_id"], "invitation.revoked")) == 4
    for token in tokens:
        response = invitations_client.post(f"/v1/rsvp/{token}", json={"response": "accept"})
        assert response.status_code == 410
    late = invitations_client.post(
        f"/v1/events/{ev['event_id']}/invitations", json=invitee(9), headers=SEC
    )
    assert late.status_code == 409


def test_out_of_order_records_change_nothing(
    invitations_client, invitations_app, deliver_to_invitations, invitations_published_event
):
    ev, tokens = _setup(invitations_client, invitations_published_event, capacity=1, people=2)
    assert [_accept(invitations_client, t) for t in tokens] == ["accepted", "waitlisted"]
    newer = {**ev, "version": 5, "title": "Newest title"}
    deliver_to_invitations("event.updated", newer)
    # an older update raising the capacity arrives late: ignored, nobody promoted
    deliver_to_invitations("event.updated", {**ev, "version": 4, "capacity": 10, "title": "Old"})
    assert _statuses(invitations_app, ev["event_id"]) == ["accepted", "waitlisted"]
    assert _db(invitations_app).events.find_one({"_id": ev["event_id"]})["title"] == "Newest title"
    # an old 'created' (draft) record replayed does not un-publish the event
    deliver_to_invitations("event.created", {**ev, "version": 1, "status": "draft"})
    shown = invitations_client.get(f"/v1/rsvp/{tokens[1]}")
    assert shown.json["event"]["status"] == "published"


def test_a_raised_capacity_promotes_the_earliest_waitlisted(
    invitations_client, invitations_app, deliver_to_invitations, invitations_published_event
):
    ev, tokens = _setup(invitations_client, invitations_published_event, capacity=1, people=4)
    assert [_accept(invitations_client, t) for t in tokens] == ["accepted"] + ["waitlisted"] * 3
    raised = {**ev, "version": ev["version"] + 1, "capacity": 3, "changed": ["capacity"]}
    ce_id = deliver_to_invitations("event.updated", raised)
    statuses = [invitations_client.get(f"/v1/rsvp/{t}").json["status"] for t in tokens]
    assert statuses == ["accepted", "accepted", "accepted", "waitlisted"]  # first come first
    promoted = _topics(invitations_app, ev["event_id"], "invitation.accepted")
    assert sum(1 for p in promoted if p.get("promoted")) == 2
    deliver_to_invitations("event.updated", raised, ce_id=ce_id)  # redelivered: nothing more
    assert len(_topics(invitations_app, ev["event_id"], "invitation.accepted")) == 3
    # lowering the capacity does not take seats away
    deliver_to_invitations("event.updated", {**ev, "version": ev["version"] + 2, "capacity": 1})
    assert _statuses(invitations_app, ev["event_id"]) == ["accepted"] * 3 + ["waitlisted"]


def test_pending_invitations_expire_at_the_deadline(
    invitations_client,
    invitations_app,
    invitations_ctx,
    deliver_to_invitations,
    invitations_published_event,
):
    ev, tokens = _setup(invitations_client, invitations_published_event, capacity=None, people=3)
    _accept(invitations_client, tokens[0])
    assert expire_due(invitations_ctx) == 0  # before the deadline nothing happens
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    deliver_to_invitations(
        "event.updated", {**ev, "version": ev["version"] + 1, "registration_deadline": past}
    )
    assert expire_due(invitations_ctx, batch=1) == 2
    assert expire_due(invitations_ctx) == 0  # idempotent
    assert _statuses(invitations_app, ev["event_id"]) == ["accepted", "expired", "expired"]
    expired = _topics(invitations_app, ev["event_id"], "invitation.expired")
    assert len(expired) == 2 and all(p["status"] == "expired" for p in expired)
    answer = invitations_client.post(f"/v1/rsvp/{tokens[1]}", json={"response": "accept"})
    assert answer.status_code == 409 and answer.json["registration_deadline"]


def test_reminders_once_per_invitee_per_step_even_with_two_workers(
    invitations_client,
    invitations_app,
    invitations_ctx,
    deliver_to_invitations,
    invitations_published_event,
):
    ev, tokens = _setup(invitations_client, invitations_published_event, capacity=None, people=3)
    _accept(invitations_client, tokens[0])
    db = _db(invitations_app)
    # invited long ago; the deadline is 6 days away: the 7-day step is due
    db.invitations.update_many({}, {"$set": {"created_at": datetime.now(UTC) - timedelta(30)}})
    soon = (datetime.now(UTC) + timedelta(days=6)).isoformat()
    deliver_to_invitations(
        "event.updated", {**ev, "version": ev["version"] + 1, "registration_deadline": soon}
    )
    # the schedule comes from the settings; this test pins it rather than rely on the default
    settings = dataclasses.replace(invitations_ctx.settings, reminder_days="7,2")
    ctx = dataclasses.replace(invitations_ctx, settings=settings)
    assert remind_due(ctx) == 2
    assert remind_due(ctx) == 0  # a second worker, or the next run
    due = _topics(invitations_app, ev["event_id"], "internal.invitation.reminder_due")
    assert sorted(p["step"] for p in due) == ["7d", "7d"]
    assert "email" not in due[0]
    # one day before the deadline: the 2-day step, once
    sooner = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    deliver_to_invitations(
        "event.updated", {**ev, "version": ev["version"] + 2, "registration_deadline": sooner}
    )
    assert remind_due(ctx) == 2
    assert remind_due(ctx) == 0
    assert db.reminders.count_documents({}) == 4

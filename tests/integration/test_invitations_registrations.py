"""Open registration through the Flask client, against the real Mongo-wire
server: double opt-in, seats shared with invitations, cancellation, moderation,
abuse protections, expiry and the secretariat's lists."""

from __future__ import annotations

import csv
import dataclasses
import io
import threading
from datetime import UTC, datetime, timedelta

import pytest

from devkit.auth import auth
from services.invitations.app import create_app
from services.invitations.handlers import subscriptions
from services.invitations.jobs import expire_unconfirmed_registrations
from tests.fixtures.invitations import (
    SEC,
    cancel_links,
    confirm_links,
    invitee,
    open_event,
    registrant,
)
from tests.helpers import RecordDeliverer, outbox_payload, running_app

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _db(app):
    return app.extensions["mlp"].db


def _topics(app, event_id):
    rows = _db(app).outbox.find({"key": event_id}, sort=[("_id", 1)])
    return [(r["topic"], outbox_payload(r)) for r in rows]


def _open_event(make, **overrides):
    return make(**{"registration": "open", "visibility": "public", **overrides})


def _register(client, event_id, body, **kw):
    return client.post(f"/v1/events/{event_id}/registrations", json=body, **kw)


def _confirmed(client, app, event_id, *bodies):
    """Register and confirm each body; their statuses after confirming."""
    for body in bodies:
        assert _register(client, event_id, body).status_code == 202
    links = confirm_links(app, event_id)
    out = []
    for body in bodies:
        answer = client.post(f"/v1/registrations/confirm/{links[body['email'].lower()]}")
        assert answer.status_code == 200, answer.json
        out.append(answer.json["status"])
    return out


def _nothing_written(app, event_id):
    db = _db(app)
    assert db.registrations.count_documents({"event_id": event_id}) == 0
    assert db.invitations.count_documents({"event_id": event_id}) == 0
    assert db.outbox.count_documents({"key": event_id}) == 0


# --- double opt-in ----------------------------------------------------------------


def test_a_registration_counts_only_once_confirmed_and_takes_a_seat_like_an_acceptance(
    invitations_client, invitations_app, invitations_published_event
):
    ev = _open_event(invitations_published_event, capacity=3)
    event_id = ev["event_id"]
    answer = _register(invitations_client, event_id, registrant(1), headers={"Host": "evil.test"})
    assert answer.status_code == 202 and answer.json["status"] == "received"
    db = _db(invitations_app)
    stored = db.registrations.find_one({"event_id": event_id})
    assert stored["status"] == "unconfirmed" and stored["email"] == "person.1@ngo.example.org"
    assert stored["consent"]["privacy_notice"] == "2027-01" and stored["consent"]["at"]
    assert stored["expires_at"] - stored["created_at"] == timedelta(hours=48)
    # Nothing counts yet: no participation record, no seat, nothing for partners.
    assert db.invitations.count_documents({"event_id": event_id}) == 0
    assert [t for t, _ in _topics(invitations_app, event_id)] == ["internal.registration.requested"]
    [(_, requested)] = _topics(invitations_app, event_id)
    assert requested["confirm_url"].startswith("https://rsvp.example.eu/v1/registrations/confirm/")
    token = requested["confirm_url"].rsplit("/", 1)[1]
    assert token not in str(stored) and len(stored["confirm_token_hash"]) == 64
    raw = db.outbox.find_one({"topic": "internal.registration.requested"})
    assert "person.1@ngo.example.org" not in str(raw["payload"])  # sealed on the way

    # GET shows and changes nothing (mail scanners prefetch links).
    shown = invitations_client.get(f"/v1/registrations/confirm/{token}")
    assert shown.status_code == 200 and shown.json["status"] == "unconfirmed"
    assert shown.json["can_confirm"] is True and shown.headers["Referrer-Policy"] == "no-referrer"
    assert db.registrations.find_one({"event_id": event_id})["version"] == 1

    confirmed = invitations_client.post(f"/v1/registrations/confirm/{token}")
    assert confirmed.status_code == 200 and confirmed.json["status"] == "accepted"
    [inv] = list(db.invitations.find({"event_id": event_id}))
    assert (inv["origin"], inv["status"], inv["role"]) == (
        "registration",
        "accepted",
        "stakeholder",
    )
    assert db.seats.find_one({"_id": event_id})["accepted"] == 1
    topics = _topics(invitations_app, event_id)
    accepted = [p for t, p in topics if t == "invitation.accepted"]
    assert accepted == [
        {
            "invitation_id": inv["_id"],
            "event_id": event_id,
            "country": "BE",
            "role": "stakeholder",
            "status": "accepted",
            "version": 1,
            "occurred_at": accepted[0]["occurred_at"],
            "origin": "registration",
        }
    ]
    [issued] = [p for t, p in topics if t == "internal.invitation.issued"]
    assert (issued["origin"], issued["status"]) == ("registration", "accepted")
    assert issued["rsvp_url"].startswith("https://rsvp.example.eu/v1/registrations/cancel/")
    # Confirming again changes nothing.
    again = invitations_client.post(f"/v1/registrations/confirm/{token}")
    assert again.status_code == 200 and again.json["status"] == "accepted"
    assert db.invitations.count_documents({"event_id": event_id}) == 1
    history = invitations_client.get(f"/v1/invitations/{inv['_id']}/history", headers=SEC).json
    assert [(h["action"], h["from"], h["to"]) for h in history["items"]] == [
        ("register", None, "unconfirmed"),
        ("confirm", "unconfirmed", "accepted"),
    ]
    assert all(h["by"] == "registrant" for h in history["items"])


def test_four_confirm_for_three_seats_one_waits_and_a_cancellation_promotes_them(
    invitations_client, invitations_app, invitations_published_event
):
    ev = _open_event(invitations_published_event, capacity=3)
    event_id = ev["event_id"]
    bodies = [registrant(i) for i in range(4)]
    statuses = _confirmed(invitations_client, invitations_app, event_id, *bodies)
    assert statuses == ["accepted", "accepted", "accepted", "waitlisted"]
    cancels = cancel_links(invitations_app, event_id)
    first = cancels["person.0@ngo.example.org"]
    # The cancellation link is not an RSVP link.
    assert (
        invitations_client.post(f"/v1/rsvp/{first}", json={"response": "accept"}).status_code == 404
    )
    shown = invitations_client.get(f"/v1/registrations/cancel/{first}")
    assert shown.json["status"] == "accepted" and shown.json["can_cancel"] is True
    cancelled = invitations_client.post(f"/v1/registrations/cancel/{first}")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert invitations_client.post(f"/v1/registrations/cancel/{first}").json["status"] == (
        "cancelled"
    )
    db = _db(invitations_app)
    regs = {r["email"]: r["status"] for r in db.registrations.find({"event_id": event_id})}
    assert regs == {
        "person.0@ngo.example.org": "cancelled",
        "person.1@ngo.example.org": "accepted",
        "person.2@ngo.example.org": "accepted",
        "person.3@ngo.example.org": "accepted",
    }
    seats = db.seats.find_one({"_id": event_id})
    assert (seats["accepted"], seats["waitlisted"]) == (3, 0)
    promoted = [
        p
        for t, p in _topics(invitations_app, event_id)
        if t == "invitation.accepted"
        if p.get("promoted")
    ]
    assert len(promoted) == 1 and promoted[0]["origin"] == "registration"


def test_registrations_and_invitations_share_one_capacity(
    invitations_client, invitations_app, invitations_published_event
):
    ev = _open_event(invitations_published_event, capacity=1)
    event_id = ev["event_id"]
    invitations_client.post(f"/v1/events/{event_id}/invitations", json=invitee(1), headers=SEC)
    [link] = [
        p["rsvp_url"].rsplit("/", 1)[1]
        for t, p in _topics(invitations_app, event_id)
        if t == "internal.invitation.issued"
    ]
    assert (
        invitations_client.post(f"/v1/rsvp/{link}", json={"response": "accept"}).json["status"]
        == "accepted"
    )
    assert _confirmed(invitations_client, invitations_app, event_id, registrant(1)) == [
        "waitlisted"
    ]
    listed = invitations_client.get(
        f"/v1/events/{event_id}/invitations?origin=registration", headers=SEC
    ).json
    assert listed["total"] == 1 and listed["items"][0]["origin"] == "registration"
    assert listed["counts"]["by_origin"] == {"invitation": 1, "registration": 1}
    # The invited address registering creates nothing.
    assert (
        _register(
            invitations_client, event_id, registrant(9, email=invitee(1)["email"])
        ).status_code
        == 202
    )
    assert _db(invitations_app).registrations.count_documents({"event_id": event_id}) == 1


def test_registering_twice_creates_nothing_and_resends_at_most_every_ten_minutes(
    invitations_client, invitations_app, invitations_published_event
):
    ev = _open_event(invitations_published_event)
    event_id = ev["event_id"]
    db = _db(invitations_app)
    assert _register(invitations_client, event_id, registrant(1)).status_code == 202
    first = confirm_links(invitations_app, event_id)["person.1@ngo.example.org"]
    again = _register(invitations_client, event_id, registrant(1, email="PERSON.1@ngo.example.ORG"))
    assert (
        again.status_code == 202
        and again.json == _register(invitations_client, event_id, registrant(2)).json
    )  # the same answer whatever happened
    assert db.registrations.count_documents({"event_id": event_id}) == 2
    requested = [t for t, _ in _topics(invitations_app, event_id)]
    assert requested.count("internal.registration.requested") == 2  # one each, no resend
    # Ten minutes later, a repeated registration sends a new link; the old one dies.
    db.registrations.update_one(
        {"email": "person.1@ngo.example.org"},
        {"$set": {"confirm_sent_at": datetime.now(UTC) - timedelta(minutes=11)}},
    )
    assert _register(invitations_client, event_id, registrant(1)).status_code == 202
    assert _register(invitations_client, event_id, registrant(1)).status_code == 202
    rows = [
        p for t, p in _topics(invitations_app, event_id) if t == "internal.registration.requested"
    ]
    assert [r["resend"] for r in rows] == [False, False, True]
    assert db.registrations.count_documents({"event_id": event_id}) == 2
    new = confirm_links(invitations_app, event_id)["person.1@ngo.example.org"]
    assert new != first
    assert invitations_client.get(f"/v1/registrations/confirm/{first}").status_code == 404
    assert invitations_client.post(f"/v1/registrations/confirm/{new}").json["status"] == "accepted"
    # Once confirmed, registering again sends nothing at all.
    db.registrations.update_one(
        {"email": "person.1@ngo.example.org"},
        {"$set": {"confirm_sent_at": datetime.now(UTC) - timedelta(hours=1)}},
    )
    before = db.outbox.count_documents({"key": event_id})
    assert _register(invitations_client, event_id, registrant(1)).status_code == 202
    assert db.outbox.count_documents({"key": event_id}) == before


# --- refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consent": None}, "consent"),
        ({"consent": {"privacy_notice": "2027-01", "accepted": False}}, "consent"),
        ({"consent": {"accepted": True}}, "consent"),
        ({"consent": {"privacy_notice": "2027-01", "accepted": 1}}, "consent"),  # not JSON's true
        ({"stakeholder_type": "lobbyist"}, "stakeholder_type"),
        ({"country": "XX"}, "country"),
        ({"email": "not-an-address"}, "email"),
        ({"name": "Eve\r\nBcc: all@example.org"}, "name"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_registrations_are_422_problems_and_write_nothing(
    invitations_client, invitations_app, invitations_published_event, change, field
):
    ev = _open_event(invitations_published_event)
    body = registrant(1)
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    answer = _register(invitations_client, ev["event_id"], body)
    assert answer.status_code == 422 and answer.content_type == "application/problem+json"
    assert field in answer.json["errors"]
    _nothing_written(invitations_app, ev["event_id"])


def test_unreadable_json_is_400(invitations_client, invitations_app, invitations_published_event):
    ev = _open_event(invitations_published_event)
    answer = invitations_client.post(
        f"/v1/events/{ev['event_id']}/registrations", data="{", content_type="application/json"
    )
    assert answer.status_code == 400 and answer.content_type == "application/problem+json"
    _nothing_written(invitations_app, ev["event_id"])


def test_the_honeypot_and_the_domain_block_list_refuse_and_write_nothing(invitations_settings):
    settings = dataclasses.replace(
        invitations_settings, registration_blocked_domains="mailinator.com, spam.example"
    )
    with running_app(create_app, settings) as app:
        client = app.test_client()
        ev = open_event(registration="open", visibility="public")
        RecordDeliverer(app, subscriptions)("event.published", ev)
        bot = _register(client, ev["event_id"], registrant(1, website="http://buy.example"))
        assert bot.status_code == 422 and bot.json["type"] == "/problems/registration-refused"
        for email in ("x@mailinator.com", "y@mx.spam.example"):
            blocked = _register(client, ev["event_id"], registrant(2, email=email))
            assert blocked.status_code == 422 and "email" in blocked.json["errors"]
        _nothing_written(app, ev["event_id"])
        assert _register(client, ev["event_id"], registrant(3, website="")).status_code == 202


def test_registrations_are_rate_limited_per_client_and_pending_ones_capped(invitations_settings):
    settings = dataclasses.replace(
        invitations_settings, registration_rate_limit=3, registration_max_pending=2
    )
    with running_app(create_app, settings) as app:
        client = app.test_client()
        ev = open_event(registration="open", visibility="public")
        RecordDeliverer(app, subscriptions)("event.published", ev)
        event_id = ev["event_id"]
        assert _register(client, event_id, registrant(1)).status_code == 202
        assert _register(client, event_id, registrant(2)).status_code == 202
        capped = _register(client, event_id, registrant(3))
        assert capped.status_code == 429 and capped.headers["Retry-After"]
        limited = _register(client, event_id, registrant(4))
        assert limited.status_code == 429 and "registrations" in limited.json["detail"]
        assert _db(app).registrations.count_documents({"event_id": event_id}) == 2
        other = _register(client, event_id, {}, environ_base={"REMOTE_ADDR": "10.9.8.7"})
        assert other.status_code == 422  # another client has a limit of its own


def test_which_events_take_registrations_and_until_when(
    invitations_client, invitations_app, invitations_published_event
):
    unknown = _register(invitations_client, "no-such-event", registrant(1))
    assert unknown.status_code == 404
    private = invitations_published_event(registration="invitation", visibility="invitation_only")
    assert _register(invitations_client, private["event_id"], registrant(1)).status_code == 404
    by_invitation = invitations_published_event(registration="invitation", visibility="public")
    assert (
        _register(invitations_client, by_invitation["event_id"], registrant(1)).status_code == 409
    )
    closed = _open_event(
        invitations_published_event,
        registration_deadline=(datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    )
    late = _register(invitations_client, closed["event_id"], registrant(1))
    assert late.status_code == 409 and late.json["registration_deadline"]
    for ev in (private, by_invitation, closed):
        _nothing_written(invitations_app, ev["event_id"])


def test_confirming_after_the_deadline_is_409(
    invitations_client, invitations_app, invitations_published_event, deliver_to_invitations
):
    ev = _open_event(invitations_published_event)
    assert _register(invitations_client, ev["event_id"], registrant(1)).status_code == 202
    token = confirm_links(invitations_app, ev["event_id"])["person.1@ngo.example.org"]
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    deliver_to_invitations("event.updated", {**ev, "version": 3, "registration_deadline": past})
    late = invitations_client.post(f"/v1/registrations/confirm/{token}")
    assert late.status_code == 409
    assert _db(invitations_app).invitations.count_documents({"event_id": ev["event_id"]}) == 0


# --- expiry and retention -----------------------------------------------------------


def test_unconfirmed_registrations_expire_and_forget_the_person(
    invitations_client, invitations_app, invitations_ctx, invitations_published_event
):
    ev = _open_event(invitations_published_event)
    event_id = ev["event_id"]
    assert _register(invitations_client, event_id, registrant(1)).status_code == 202
    assert _register(invitations_client, event_id, registrant(2)).status_code == 202
    token = confirm_links(invitations_app, event_id)["person.1@ngo.example.org"]
    db = _db(invitations_app)
    db.registrations.update_one(
        {"email": "person.1@ngo.example.org"},
        {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    # Past its window it cannot be confirmed, even before the job comes by.
    assert invitations_client.post(f"/v1/registrations/confirm/{token}").status_code == 410
    assert invitations_client.get(f"/v1/registrations/confirm/{token}").json["status"] == "expired"
    assert expire_unconfirmed_registrations(invitations_ctx) == 1
    assert expire_unconfirmed_registrations(invitations_ctx) == 0
    stub = db.registrations.find_one({"status": "expired"})
    assert set(stub) >= {"_id", "event_id", "stakeholder_type", "country", "language"}
    for erased in ("email", "name", "organisation", "consent"):
        assert erased not in stub
    assert "Person 1" not in str(stub)
    assert invitations_client.post(f"/v1/registrations/confirm/{token}").status_code == 410
    # The person may register again (the expired one no longer names them).
    assert _register(invitations_client, event_id, registrant(1)).status_code == 202
    counts = invitations_client.get(f"/v1/events/{event_id}/registrations", headers=SEC).json
    assert counts["counts"]["by_status"] == {"expired": 1, "unconfirmed": 2}


# --- moderation ---------------------------------------------------------------------


def test_moderated_registrations_wait_for_the_secretariat(
    invitations_client, invitations_app, invitations_published_event
):
    ev = _open_event(invitations_published_event, registration_moderated=True, capacity=5)
    event_id = ev["event_id"]
    statuses = _confirmed(
        invitations_client, invitations_app, event_id, registrant(1), registrant(2)
    )
    assert statuses == ["awaiting_approval", "awaiting_approval"]
    db = _db(invitations_app)
    assert db.invitations.count_documents({"event_id": event_id}) == 0
    regs = {r["email"]: r["_id"] for r in db.registrations.find({"event_id": event_id})}
    one, two = regs["person.1@ngo.example.org"], regs["person.2@ngo.example.org"]
    participant = auth("participant", email="person.1@ngo.example.org")
    assert (
        invitations_client.post(f"/v1/registrations/{one}/approve", headers=participant).status_code
        == 403
    )
    assert invitations_client.post(f"/v1/registrations/{one}/approve").status_code == 401
    approved = invitations_client.post(f"/v1/registrations/{one}/approve", headers=SEC)
    assert approved.status_code == 200 and approved.json["status"] == "accepted"
    assert (
        invitations_client.post(f"/v1/registrations/{one}/approve", headers=SEC).status_code == 409
    )
    no_reason = invitations_client.post(f"/v1/registrations/{two}/reject", json={}, headers=SEC)
    assert no_reason.status_code == 422
    rejected = invitations_client.post(
        f"/v1/registrations/{two}/reject",
        json={"reason": "Places are for practitioners."},
        headers=SEC,
    )
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    topics = _topics(invitations_app, event_id)
    [mail] = [p for t, p in topics if t == "internal.registration.rejected"]
    assert (
        mail["reason"] == "Places are for practitioners."
        and mail["email"] == "person.2@ngo.example.org"
    )
    [inv] = list(db.invitations.find({"event_id": event_id}))
    assert inv["on_behalf"] is True
    trail = invitations_client.get(f"/v1/invitations/{inv['_id']}/history", headers=SEC).json
    assert [h["action"] for h in trail["items"]] == ["register", "confirm", "approve"]
    assert trail["items"][-1]["by"] != "registrant"
    shown = invitations_client.get(f"/v1/registrations/{two}", headers=SEC).json
    assert shown["reason"] == "Places are for practitioners."
    assert [h["action"] for h in shown["history"]] == ["register", "confirm", "reject"]


# --- the secretariat's lists --------------------------------------------------------


def test_the_secretariat_lists_counts_and_exports_and_nobody_else_sees_them(
    invitations_client, invitations_app, invitations_published_event
):
    ev = _open_event(invitations_published_event)
    event_id = ev["event_id"]
    bodies = [
        registrant(1, stakeholder_type="academia", country="FR"),
        registrant(2, stakeholder_type="academia", country="DE"),
        registrant(3, stakeholder_type="ngo", country="FR", name="=HYPERLINK(1)"),
    ]
    for body in bodies:
        assert _register(invitations_client, event_id, body).status_code == 202
    url = f"/v1/events/{event_id}/registrations"
    listed = invitations_client.get(url + "?stakeholder_type=academia&country=FR", headers=SEC).json
    assert listed["total"] == 1 and listed["items"][0]["email"] == "person.1@ngo.example.org"
    assert listed["counts"]["by_stakeholder_type"] == {"academia": 2, "ngo": 1}
    assert listed["counts"]["by_country"] == {"FR": 2, "DE": 1}
    assert invitations_client.get(url + "?status=bogus", headers=SEC).status_code == 422
    exported = invitations_client.get(url + "?country=FR", headers={**SEC, "Accept": "text/csv"})
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [r["email"] for r in rows] == ["person.1@ngo.example.org", "person.3@ngo.example.org"]
    assert rows[1]["name"] == "'=HYPERLINK(1)"  # no formula for the spreadsheet
    assert rows[0]["privacy_notice"] == "2027-01" and rows[0]["consent_at"]
    for headers in (
        auth("participant", email="person.1@ngo.example.org"),
        auth("coordinator", country="FR"),
    ):
        assert invitations_client.get(url, headers=headers).status_code == 403
    assert invitations_client.get(url).status_code == 401
    some = listed["items"][0]["id"]
    assert (
        invitations_client.get(f"/v1/registrations/{some}", headers=auth("partner")).status_code
        == 403
    )


def test_a_cancelled_event_closes_its_registrations(
    invitations_client, invitations_app, invitations_published_event, deliver_to_invitations
):
    ev = _open_event(invitations_published_event, registration_moderated=True)
    event_id = ev["event_id"]
    assert (
        _confirmed(invitations_client, invitations_app, event_id, registrant(1), registrant(2))
        == ["awaiting_approval"] * 2
    )
    regs = {r["email"]: r["_id"] for r in _db(invitations_app).registrations.find()}
    invitations_client.post(
        f"/v1/registrations/{regs['person.1@ngo.example.org']}/approve", headers=SEC
    )
    assert _register(invitations_client, event_id, registrant(3)).status_code == 202
    deliver_to_invitations("event.cancelled", {**ev, "version": 3, "status": "cancelled"})
    db = _db(invitations_app)
    statuses = {r.get("email"): r["status"] for r in db.registrations.find({"event_id": event_id})}
    assert statuses == {
        "person.1@ngo.example.org": "revoked",
        "person.2@ngo.example.org": "revoked",
        None: "expired",  # unconfirmed: expired and forgotten
    }
    token = cancel_links(invitations_app, event_id)["person.1@ngo.example.org"]
    assert invitations_client.post(f"/v1/registrations/cancel/{token}").status_code == 410


# --- pages --------------------------------------------------------------------------


def test_the_confirmation_and_cancellation_pages_in_the_registrants_language(
    invitations_client, invitations_app, invitations_published_event
):
    ev = _open_event(invitations_published_event)
    event_id = ev["event_id"]
    assert _register(invitations_client, event_id, registrant(1, language="fr")).status_code == 202
    token = confirm_links(invitations_app, event_id)["person.1@ngo.example.org"]
    page = invitations_client.get(f"/v1/registrations/confirm/{token}", headers=HTML)
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert "Confirmer mon inscription" in text and "OSKA system" in text
    posted = invitations_client.post(f"/v1/registrations/confirm/{token}", headers=HTML)
    assert posted.status_code == 200 and "vous avez une place" in posted.get_data(as_text=True)
    cancel = cancel_links(invitations_app, event_id)["person.1@ngo.example.org"]
    page = invitations_client.get(f"/v1/registrations/cancel/{cancel}", headers=HTML)
    assert "Annuler mon inscription" in page.get_data(as_text=True)
    done = invitations_client.post(f"/v1/registrations/cancel/{cancel}", headers=HTML)
    assert done.status_code == 200 and "annulée" in done.get_data(as_text=True)
    missing = invitations_client.get("/v1/registrations/confirm/nope", headers=HTML)
    assert missing.status_code == 404 and missing.content_type.startswith("text/html")


# --- concurrency --------------------------------------------------------------------


def test_twenty_concurrent_confirmations_for_the_last_two_seats_give_exactly_two(
    invitations_client, invitations_app, invitations_published_event
):
    ev = _open_event(invitations_published_event, capacity=3)
    event_id = ev["event_id"]
    assert _confirmed(invitations_client, invitations_app, event_id, registrant(100)) == [
        "accepted"
    ]
    n = 20
    for i in range(n):
        assert _register(invitations_client, event_id, registrant(i)).status_code == 202
    links = confirm_links(invitations_app, event_id)
    barrier = threading.Barrier(n)
    results: list[str] = []

    def confirm(i):
        racer = invitations_app.test_client()
        barrier.wait()
        answer = racer.post(f"/v1/registrations/confirm/{links[f'person.{i}@ngo.example.org']}")
        results.append(
            answer.json["status"] if answer.status_code == 200 else str(answer.status_code)
        )

    threads = [threading.Thread(target=confirm, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == ["accepted"] * 2 + ["waitlisted"] * (n - 2)
    db = _db(invitations_app)
    assert db.invitations.count_documents({"event_id": event_id, "status": "accepted"}) == 3
    seats = db.seats.find_one({"_id": event_id})
    assert (seats["accepted"], seats["waitlisted"]) == (3, n - 2)

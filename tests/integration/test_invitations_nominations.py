"""National nominations through the Flask client, against the real Mongo-wire
server: coordinators, quotas, nominations within them, the secretariat's
decisions, places given back, substitutes, the deadline report, concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from devkit.auth import auth
from services.invitations.jobs import report_unused_places
from tests.fixtures.invitations import SEC, nominee, token_of
from tests.helpers import outbox_payload

LT = auth("coordinator", country="LT", sub="coord-lt")
DE = auth("coordinator", country="DE", sub="coord-de")
QUOTAS = {"LT": {"places": 2}, "DE": {"places": 2}, "EE": {"places": 4}}


def _db(app):
    return app.extensions["mlp"].db


def _topics(app, event_id, topic=None):
    query = {"key": event_id, **({"topic": topic} if topic else {})}
    return [(r["topic"], outbox_payload(r)) for r in _db(app).outbox.find(query, sort=[("_id", 1)])]


@pytest.fixture
def peer_review(invitations_client, invitations_published_event):
    """A published peer review run by nominations (host EE, guests LT and DE),
    with coordinators registered for LT (two) and DE, and the quotas set."""

    def make(quotas=QUOTAS, **overrides):
        ev = invitations_published_event(
            registration="nomination",
            host_country="EE",
            guest_countries=["LT", "DE"],
            visibility="invitation_only",
            capacity=20,
            **overrides,
        )
        for country, email in (
            ("LT", "nck@socmin.lt"),
            ("LT", "deputy@socmin.lt"),
            ("DE", "nkp@bmas.de"),
        ):
            invitations_client.post(
                "/v1/coordinators",
                json={"country": country, "email": email, "name": f"Coordinator {country}"},
                headers=SEC,
            )
        if quotas is not None:
            put = invitations_client.put(
                f"/v1/events/{ev['event_id']}/quotas", json=quotas, headers=SEC
            )
            assert put.status_code == 200, put.json
        return ev

    return make


def _nominate(client, event_id, body, headers=LT):
    return client.post(f"/v1/events/{event_id}/nominations", json=body, headers=headers)


# --- coordinators and quotas --------------------------------------------------------


def test_the_secretariat_keeps_the_coordinators_registry(invitations_client):
    body = {"country": "LT", "email": "Contact@SocMin.lt", "name": "Rūta Jonaitė", "language": "en"}
    created = invitations_client.post("/v1/coordinators", json=body, headers=SEC)
    assert created.status_code == 201 and created.json["email"] == "contact@socmin.lt"
    assert invitations_client.post("/v1/coordinators", json=body, headers=SEC).status_code == 409
    assert invitations_client.post("/v1/coordinators", json=body, headers=LT).status_code == 403
    bad = invitations_client.post("/v1/coordinators", json={**body, "country": "XX"}, headers=SEC)
    assert bad.status_code == 422 and "country" in bad.json["errors"]
    listed = invitations_client.get("/v1/coordinators?country=LT", headers=SEC).json
    assert [c["email"] for c in listed["items"]] == ["contact@socmin.lt"]
    gone = invitations_client.delete(f"/v1/coordinators/{created.json['id']}", headers=SEC)
    assert gone.status_code == 204
    assert (
        invitations_client.delete(f"/v1/coordinators/{created.json['id']}", headers=SEC).status_code
        == 404
    )


def test_quotas_ask_the_coordinators_of_each_country_for_nominations(
    invitations_client, invitations_app, peer_review
):
    ev = peer_review()
    event_id = ev["event_id"]
    view = invitations_client.get(f"/v1/events/{event_id}/quotas", headers=SEC).json
    assert view["countries"] == {
        "DE": {"places": 2, "used": 0, "remaining": 2, "coordinators": 1},
        "EE": {"places": 4, "used": 0, "remaining": 4, "coordinators": 0},
        "LT": {"places": 2, "used": 0, "remaining": 2, "coordinators": 2},
    }
    requests = {
        p["country"]: p
        for _, p in _topics(invitations_app, event_id, "internal.nomination.requested")
    }
    assert set(requests) == {"LT", "DE"}  # EE has no coordinator to ask
    assert sorted(r["email"] for r in requests["LT"]["recipients"]) == [
        "deputy@socmin.lt",
        "nck@socmin.lt",
    ]
    assert requests["LT"]["places"] == 2 and requests["LT"]["nominate_url"].endswith(
        f"/v1/events/{event_id}/nominations"
    )
    raw = _db(invitations_app).outbox.find_one({"topic": "internal.nomination.requested"})
    assert "socmin.lt" not in str(raw["payload"])  # the recipients travel sealed
    # The same quotas again ask nobody again; a coordinator sees their country only.
    invitations_client.put(f"/v1/events/{event_id}/quotas", json=QUOTAS, headers=SEC)
    assert len(_topics(invitations_app, event_id, "internal.nomination.requested")) == 2
    mine = invitations_client.get(f"/v1/events/{event_id}/quotas", headers=LT).json
    assert list(mine["countries"]) == ["LT"]
    fr = auth("coordinator", country="FR")
    assert invitations_client.get(f"/v1/events/{event_id}/quotas", headers=fr).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"FR": {"places": 2}}, 422),  # neither host nor guest
        ({"XX": {"places": 2}}, 422),
        ({"LT": {"places": -1}}, 422),
        ({"LT": {"places": "2"}}, 422),  # JSON integers only, as documented
        ({"LT": {"places": 2.5}}, 422),
        ({"LT": {"seats": 2}}, 422),
        ({"LT": 2}, 422),
        ([1, 2], 422),
    ],
)
def test_bad_quotas_are_4xx_problems_and_write_nothing(
    invitations_client, invitations_app, peer_review, body, status
):
    ev = peer_review(quotas=None)
    answer = invitations_client.put(f"/v1/events/{ev['event_id']}/quotas", json=body, headers=SEC)
    assert answer.status_code == status and answer.content_type == "application/problem+json"
    assert _db(invitations_app).quotas.count_documents({"event_id": ev["event_id"]}) == 0
    assert _db(invitations_app).outbox.count_documents({"key": ev["event_id"]}) == 0


def test_quotas_need_a_published_nomination_event_and_the_secretariat(
    invitations_client, invitations_published_event
):
    by_invitation = invitations_published_event()
    url = f"/v1/events/{by_invitation['event_id']}/quotas"
    assert invitations_client.put(url, json={"EE": {"places": 2}}, headers=SEC).status_code == 409
    assert invitations_client.put("/v1/events/nope/quotas", json={}, headers=SEC).status_code == 404
    assert invitations_client.put(url, json={}, headers=LT).status_code == 403
    assert invitations_client.put(url, json={}).status_code == 401


# --- nominating ---------------------------------------------------------------------


def test_a_coordinator_nominates_within_the_quota_and_sees_their_country_only(
    invitations_client, invitations_app, peer_review
):
    ev = peer_review()
    event_id = ev["event_id"]
    first = _nominate(invitations_client, event_id, nominee(1))
    assert (
        first.status_code == 201
        and first.json["country"] == "LT"
        and first.json["status"] == "nominated"
    )
    assert _nominate(invitations_client, event_id, nominee(2)).status_code == 201
    third = _nominate(invitations_client, event_id, nominee(3))
    assert third.status_code == 409 and third.json["remaining"] == 0
    substitute = _nominate(invitations_client, event_id, nominee(4, substitute=True))
    assert substitute.status_code == 201 and substitute.json["substitute"] is True
    again = _nominate(invitations_client, event_id, nominee(1, email="NOMINEE.1@gov.example.eu"))
    assert again.status_code == 409
    mine = invitations_client.get(f"/v1/events/{event_id}/nominations", headers=LT).json
    assert mine["total"] == 3 and mine["quota"]["remaining"] == 0
    theirs = invitations_client.get(f"/v1/events/{event_id}/nominations", headers=DE).json
    assert theirs["total"] == 0 and theirs["quota"]["remaining"] == 2
    peek = invitations_client.get(f"/v1/events/{event_id}/nominations?country=LT", headers=DE)
    assert peek.status_code == 403
    assert (
        invitations_client.get(f"/v1/nominations/{first.json['id']}", headers=DE).status_code == 404
    )
    assert (
        invitations_client.get(f"/v1/nominations/{first.json['id']}", headers=LT).status_code == 200
    )
    everyone = invitations_client.get(f"/v1/events/{event_id}/nominations", headers=SEC).json
    assert everyone["total"] == 3
    assert everyone["counts"]["LT"] == {
        "places": 2,
        "used": 2,
        "remaining": 0,
        "coordinators": 2,
        "by_status": {"nominated": 3},
    }
    assert everyone["counts"]["EE"]["remaining"] == 4


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        (DE, nominee(1, country="LT"), 403),  # another country
        (auth("coordinator", country="FR"), nominee(1), 404),  # a country not invited
        (auth("coordinator"), nominee(1), 403),  # no country claim
        (auth("coordinator", country="ZZ"), nominee(1), 403),  # no ISO 3166 country
        (auth("participant", country="LT"), nominee(1), 403),
        ({}, nominee(1), 401),
        (LT, nominee(1, role="minister"), 422),
        (LT, {**nominee(1), "email": None}, 422),
        (LT, {**nominee(1), "favourite": True}, 422),
        (LT, nominee(1, substitute=1), 422),  # JSON booleans only, as documented
        (SEC, nominee(1), 422),  # the secretariat names the country
    ],
)
def test_who_may_nominate_and_what(
    invitations_client, invitations_app, peer_review, headers, body, status
):
    ev = peer_review()
    answer = _nominate(invitations_client, ev["event_id"], body, headers=headers)
    assert answer.status_code == status and answer.content_type == "application/problem+json"
    assert _db(invitations_app).nominations.count_documents({"event_id": ev["event_id"]}) == 0


def test_nominations_close_at_the_nomination_deadline(invitations_client, peer_review):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    ev = peer_review(nomination_deadline=past)
    late = _nominate(invitations_client, ev["event_id"], nominee(1))
    assert late.status_code == 409 and late.json["nomination_deadline"]
    by_invitation_only = auth("coordinator", country="EE")
    other = _nominate(invitations_client, "unknown-event", nominee(1), headers=by_invitation_only)
    assert other.status_code == 404


# --- decisions and places given back -----------------------------------------------


def test_approval_invites_and_a_decline_gives_the_place_back(
    invitations_client, invitations_app, peer_review
):
    ev = peer_review()
    event_id = ev["event_id"]
    ids = [_nominate(invitations_client, event_id, nominee(n)).json["id"] for n in (1, 2)]
    assert (
        invitations_client.post(f"/v1/nominations/{ids[0]}/approve", headers=LT).status_code == 403
    )
    for nomination_id in ids:
        approved = invitations_client.post(f"/v1/nominations/{nomination_id}/approve", headers=SEC)
        assert approved.status_code == 200 and approved.json["status"] == "approved"
    again = invitations_client.post(f"/v1/nominations/{ids[0]}/approve", headers=SEC)
    assert again.status_code == 409
    sent = [p for _, p in _topics(invitations_app, event_id, "invitation.sent")]
    assert [p["origin"] for p in sent] == ["nomination", "nomination"]
    issued = [p for _, p in _topics(invitations_app, event_id, "internal.invitation.issued")]
    assert all(p["origin"] == "nomination" and "/v1/rsvp/" in p["rsvp_url"] for p in issued)
    decided = [p for _, p in _topics(invitations_app, event_id, "internal.nomination.decided")]
    assert [(p["status"], p["nominee_name"], p["remaining"]) for p in decided] == [
        ("approved", "Nominee 1", 0),
        ("approved", "Nominee 2", 0),
    ]
    # The nominee declines through the RSVP link: LT has one place again.
    token = token_of(issued[0]["rsvp_url"])
    declined = invitations_client.post(f"/v1/rsvp/{token}", json={"response": "decline"})
    assert declined.status_code == 200 and declined.json["status"] == "declined"
    mine = invitations_client.get(f"/v1/events/{event_id}/nominations", headers=LT).json
    assert mine["quota"]["remaining"] == 1
    assert {i["status"] for i in mine["items"]} == {"declined", "approved"}
    [freed] = [p for _, p in _topics(invitations_app, event_id, "internal.nomination.place_freed")]
    assert (freed["status"], freed["remaining"], freed["moved_up_name"]) == ("declined", 1, "")
    # A decline is final: the place went back to the coordinator.
    assert (
        invitations_client.post(f"/v1/rsvp/{token}", json={"response": "accept"}).status_code == 409
    )
    assert _nominate(invitations_client, event_id, nominee(3)).status_code == 201
    # The invitation's audit trail tells the whole story.
    invitation_id = _db(invitations_app).nominations.find_one({"_id": ids[0]})["invitation_id"]
    trail = invitations_client.get(f"/v1/invitations/{invitation_id}/history", headers=SEC).json[
        "items"
    ]
    assert [(h["action"], h["by"]) for h in trail] == [
        ("nominate", "coord-lt"),
        ("approve", trail[1]["by"]),
        ("answer", "invitee"),
    ]
    assert trail[1]["by"] != "coord-lt"


def test_a_rejection_tells_the_reason_and_the_earliest_substitute_moves_up(
    invitations_client, invitations_app, peer_review
):
    ev = peer_review()
    event_id = ev["event_id"]
    first = _nominate(invitations_client, event_id, nominee(1)).json["id"]
    _nominate(invitations_client, event_id, nominee(2))
    sub_a = _nominate(invitations_client, event_id, nominee(3, substitute=True)).json["id"]
    sub_b = _nominate(invitations_client, event_id, nominee(4, substitute=True)).json["id"]
    assert (
        invitations_client.post(f"/v1/nominations/{sub_a}/approve", headers=SEC).status_code == 409
    )
    assert (
        invitations_client.post(f"/v1/nominations/{first}/reject", json={}, headers=SEC).status_code
        == 422
    )
    rejected = invitations_client.post(
        f"/v1/nominations/{first}/reject",
        json={"reason": "Not an official of the ministry."},
        headers=SEC,
    )
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    [decided] = [p for _, p in _topics(invitations_app, event_id, "internal.nomination.decided")]
    assert decided["reason"] == "Not an official of the ministry."
    assert (decided["moved_up_name"], decided["remaining"]) == ("Nominee 3", 0)
    shown = invitations_client.get(f"/v1/nominations/{sub_a}", headers=LT).json
    assert shown["substitute"] is False and [h["action"] for h in shown["history"]] == [
        "nominate",
        "move_up",
    ]
    assert invitations_client.get(f"/v1/nominations/{sub_b}", headers=LT).json["substitute"] is True
    # More places for LT: the next substitute moves up too.
    invitations_client.put(
        f"/v1/events/{event_id}/quotas", json={**QUOTAS, "LT": {"places": 3}}, headers=SEC
    )
    assert (
        invitations_client.get(f"/v1/nominations/{sub_b}", headers=LT).json["substitute"] is False
    )
    assert (
        invitations_client.get(f"/v1/events/{event_id}/nominations", headers=LT).json["quota"][
            "remaining"
        ]
        == 0
    )


def test_the_nomination_deadline_reports_unused_places_once(
    invitations_client, invitations_app, invitations_ctx, peer_review, deliver_to_invitations
):
    ev = peer_review(nomination_deadline=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    event_id = ev["event_id"]
    _nominate(invitations_client, event_id, nominee(1))
    _nominate(invitations_client, event_id, nominee(2))
    assert report_unused_places(invitations_ctx) == 0
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    deliver_to_invitations("event.updated", {**ev, "version": 3, "nomination_deadline": past})
    assert report_unused_places(invitations_ctx) == 1
    assert report_unused_places(invitations_ctx) == 0
    [(_, report)] = _topics(invitations_app, event_id, "internal.nomination.quota_unused")
    assert report["countries"] == [
        {"country": "DE", "places": 2, "used": 0, "unused": 2},
        {"country": "EE", "places": 4, "used": 0, "unused": 4},
    ]


def test_a_cancelled_event_revokes_nominations_without_telling_of_freed_places(
    invitations_client, invitations_app, peer_review, deliver_to_invitations
):
    ev = peer_review()
    event_id = ev["event_id"]
    first = _nominate(invitations_client, event_id, nominee(1)).json["id"]
    second = _nominate(invitations_client, event_id, nominee(2)).json["id"]
    invitations_client.post(f"/v1/nominations/{first}/approve", headers=SEC)
    deliver_to_invitations("event.cancelled", {**ev, "version": 3, "status": "cancelled"})
    db = _db(invitations_app)
    assert {n["_id"]: n["status"] for n in db.nominations.find({"event_id": event_id})} == {
        first: "revoked",
        second: "revoked",
    }
    assert _topics(invitations_app, event_id, "internal.nomination.place_freed") == []


# --- concurrency --------------------------------------------------------------------


def test_ten_concurrent_nominations_for_the_last_place_create_exactly_one(
    invitations_client, invitations_app, peer_review
):
    ev = peer_review()
    event_id = ev["event_id"]
    assert _nominate(invitations_client, event_id, nominee(100)).status_code == 201
    n = 10
    barrier = threading.Barrier(n)
    results: list[int] = []

    def race(i):
        racer = invitations_app.test_client()
        barrier.wait()
        results.append(_nominate(racer, event_id, nominee(i)).status_code)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == [201] + [409] * (n - 1)
    db = _db(invitations_app)
    assert db.nominations.count_documents({"event_id": event_id, "country": "LT"}) == 2
    assert db.quotas.find_one({"_id": f"{event_id}|LT"})["used"] == 2

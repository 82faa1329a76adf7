"""Hosting proposals through the events API (Flask test client, real Mongo-wire
server): coordinators propose for their own country only, the secretariat
accepts (a draft event linked both ways, in one transaction) or declines, and
every refusal is a problem with nothing written."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta

import pytest

from devkit.auth import auth
from devkit.samples import proposal_body
from services.events.app import create_app
from tests.helpers import outbox_payload, running_app

SEC = auth("secretariat")
LT_EMAIL = "coordinator@socmin.example.lt"
LT = auth("coordinator", country="LT", email=LT_EMAIL)
DE = auth("coordinator", country="DE", email="koordination@bmas.example.de")


def _submit(client, headers=LT, **overrides):
    response = client.post("/v1/proposals", json=proposal_body(**overrides), headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _accept(client, proposal_id, body=None, headers=SEC):
    body = {"programme": "employment"} if body is None else body
    return client.post(f"/v1/proposals/{proposal_id}/accept", json=body, headers=headers)


def _outbox(app):
    return list(app.extensions["mlp"].db.outbox.find({}, sort=[("_id", 1)]))


def _written(app):
    db = app.extensions["mlp"].db
    return db.proposals.count_documents({}), db.events.count_documents({}), len(_outbox(app))


def _problem(response, status):
    assert response.status_code == status, response.json
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == status
    return response.json


def test_a_coordinator_proposes_for_their_country_and_partners_hear_no_personal_data(
    events_client, events_app
):
    response = events_client.post("/v1/proposals", json=proposal_body(), headers=LT)
    assert response.status_code == 201, response.json
    proposal = response.json
    assert response.headers["Location"] == f"/v1/proposals/{proposal['id']}"
    assert response.headers["ETag"] == '"1"'
    assert proposal["country"] == "LT"
    assert proposal["status"] == "submitted"
    assert proposal["event_id"] is None
    assert proposal["preferred_period"] == proposal_body()["preferred_period"]
    assert proposal["contact"]["email"] == "ruta.kazlauskiene@example.lt"
    assert proposal["submitted_by"]["email"] == LT_EMAIL
    [record] = _outbox(events_app)
    assert record["topic"] == "proposal.submitted"
    assert record["key"] == proposal["id"]
    payload = record["payload"]
    assert payload["proposal_id"] == proposal["id"]
    assert payload["country"] == "LT"
    assert payload["policy_summary"] == proposal["policy_summary"]
    assert payload["preferred_period"] == proposal["preferred_period"]
    text = json.dumps(payload, ensure_ascii=False)
    for personal in ("ruta.kazlauskiene", "Rūta", "+370", LT_EMAIL, "Ministry"):
        assert personal not in text
    # The country in the body may name the coordinator's own.
    assert _submit(events_client, country="lt")["country"] == "LT"


@pytest.mark.parametrize(
    ("headers", "body", "status", "field"),
    [
        (auth("coordinator", email=LT_EMAIL), proposal_body(), 403, None),  # no country claim
        (auth("coordinator", country="ZZ", email=LT_EMAIL), proposal_body(), 403, None),
        (LT, proposal_body(country="DE"), 403, None),  # another country's
        (SEC, proposal_body(), 403, None),  # the secretariat does not propose
        (auth("participant", country="LT"), proposal_body(), 403, None),
        ({}, proposal_body(), 401, None),
        (LT, {**proposal_body(), "budget": 10_000}, 422, "budget"),  # unknown field
        (LT, proposal_body(contact={"name": "A", "email": "a@b.lt", "fax": "1"}), 422, "contact"),
        (LT, proposal_body(format="barbecue"), 422, "format"),
        (LT, proposal_body(title="x"), 422, "title"),
        (LT, proposal_body(languages=["xx"]), 422, "languages"),
        (LT, proposal_body(country="Lithuania"), 422, "country"),
        (
            LT,
            proposal_body(preferred_period={"from": "2027-06-01", "to": "2027-05-01"}),
            422,
            "preferred_period",
        ),
        (
            LT,
            proposal_body(preferred_period={"from": "2020-06-01", "to": "2020-07-01"}),
            422,
            "preferred_period",
        ),
        (LT, proposal_body(preferred_period={"from": "2027-06-01"}), 422, "preferred_period"),
        (LT, {k: v for k, v in proposal_body().items() if k != "policy_summary"}, 422, None),
        # No address in the token and no contact: nobody to tell the decision to.
        (
            auth("coordinator", country="LT"),
            {k: v for k, v in proposal_body().items() if k != "contact"},
            422,
            "contact",
        ),
        (LT, [], 422, None),
    ],
)
def test_bad_proposals_are_problems_and_write_nothing(
    events_client, events_app, headers, body, status, field
):
    response = events_client.post("/v1/proposals", json=body, headers=headers)
    problem = _problem(response, status)
    if field:
        assert field in problem["errors"], problem
    assert _written(events_app) == (0, 0, 0)


def test_a_coordinator_without_a_country_claim_reads_nothing(events_client):
    proposal = _submit(events_client)
    nowhere = auth("coordinator", email=LT_EMAIL)
    assert "country" in _problem(events_client.get("/v1/proposals", headers=nowhere), 403)["detail"]
    _problem(events_client.get(f"/v1/proposals/{proposal['id']}", headers=nowhere), 403)


def test_each_coordinator_sees_their_country_only_and_the_secretariat_all(events_client):
    lt = _submit(events_client)
    de = _submit(events_client, headers=DE, title="Kurzarbeit in the energy transition")

    def ids(headers, query=""):
        response = events_client.get(f"/v1/proposals{query}", headers=headers)
        assert response.status_code == 200, response.json
        return [p["id"] for p in response.json["items"]]

    assert ids(SEC) == [de["id"], lt["id"]]  # newest first
    assert ids(auth("ops")) == [de["id"], lt["id"]]
    assert ids(LT) == [lt["id"]]
    assert ids(DE) == [de["id"]]
    assert ids(DE, "?country=LT") == []  # a filter never widens what one may see
    assert ids(SEC, "?country=LT") == [lt["id"]]
    assert ids(SEC, "?status=accepted") == []
    assert ids(SEC, "?sort=title") == [de["id"], lt["id"]]
    assert events_client.get(f"/v1/proposals/{lt['id']}", headers=LT).json["id"] == lt["id"]
    other = _problem(events_client.get(f"/v1/proposals/{lt['id']}", headers=DE), 404)
    assert other["type"] == "/problems/not-found"
    for headers in ({}, auth("participant", country="LT"), auth("partner")):
        assert events_client.get("/v1/proposals", headers=headers).status_code in (401, 403)
    _problem(events_client.get("/v1/proposals?status=lost", headers=SEC), 422)
    _problem(events_client.get("/v1/proposals?sort=-contact", headers=SEC), 422)


def test_accepting_makes_a_draft_event_linked_both_ways_in_one_transaction(
    events_client, events_app
):
    proposal = _submit(events_client)
    starts = date.fromisoformat(proposal["preferred_period"]["from"]) + timedelta(days=14)
    response = _accept(
        events_client,
        proposal["id"],
        {
            "programme": "employment",
            "starts_on": starts.isoformat(),
            "ends_on": (starts + timedelta(days=1)).isoformat(),
            "timezone": "Europe/Vilnius",
            "guest_countries": ["EE", "LV"],
        },
    )
    assert response.status_code == 200, response.json
    accepted = response.json
    assert accepted["status"] == "accepted"
    assert response.headers["ETag"] == '"2"'
    event = events_client.get(f"/v1/events/{accepted['event_id']}", headers=SEC).json
    assert event["status"] == "draft"
    assert event["proposal_id"] == proposal["id"]
    assert event["title"] == proposal["title"]
    assert event["summary"] == proposal["policy_summary"]
    assert event["format"] == "peer_review"
    assert event["host_country"] == "LT"
    assert event["guest_countries"] == ["EE", "LV"]
    assert event["languages"] == ["en", "lt"]
    assert event["tags"] == ["youth", "outreach"]
    assert event["starts_on"] == starts.isoformat()
    assert event["registration"] == "invitation"
    records = _outbox(events_app)
    assert [r["topic"] for r in records] == [
        "proposal.submitted",
        "event.created",
        "proposal.accepted",
        "internal.proposal.decided",
    ]
    assert records[2]["payload"]["event_id"] == event["id"]
    assert records[2]["key"] == proposal["id"] and records[2]["seq"] == 2
    decided = records[3]
    assert decided["key_id"]  # the recipients travel sealed
    assert LT_EMAIL not in json.dumps(decided["payload"])
    opened = outbox_payload(decided)
    assert opened["status"] == "accepted"
    assert opened["event_id"] == event["id"]
    assert [r["email"] for r in opened["recipients"]] == [
        LT_EMAIL,
        "ruta.kazlauskiene@example.lt",
    ]
    assert all(r["language"] == "en" for r in opened["recipients"])
    # A decided proposal is decided for good.
    again = _problem(_accept(events_client, proposal["id"]), 409)
    assert again["type"] == "/problems/illegal-transition"
    assert again["current_status"] == "accepted"
    declined = events_client.post(
        f"/v1/proposals/{proposal['id']}/decline", json={"reason": "Changed our mind"}, headers=SEC
    )
    _problem(declined, 409)
    assert _written(events_app) == (1, 1, 4)


def test_the_draft_defaults_to_the_first_day_of_the_preferred_period(events_client):
    proposal = _submit(events_client)
    accepted = _accept(events_client, proposal["id"]).json
    event = events_client.get(f"/v1/events/{accepted['event_id']}", headers=SEC).json
    first = proposal["preferred_period"]["from"]
    assert (event["starts_on"], event["ends_on"]) == (first, first)
    assert event["programme"] == "employment"
    assert event["visibility"] == "invitation_only"


@pytest.mark.parametrize(
    ("headers", "body", "status", "field"),
    [
        (SEC, {}, 422, "programme"),  # a proposal names no programme
        (SEC, {"programme": "employment", "host_country": "DE"}, 422, "host_country"),
        (SEC, {"programme": "employment", "owner": "me"}, 422, "owner"),
        (SEC, {"programme": "employment", "ends_on": "2020-01-01"}, 422, "ends_on"),
        (SEC, {"programme": "employment", "guest_countries": ["LT"]}, 422, "guest_countries"),
        (
            SEC,
            {"programme": "employment", "registration": "open"},  # not public
            422,
            "registration",
        ),
        (SEC, {"programme": "Employment!"}, 422, "programme"),
        (LT, {"programme": "employment"}, 403, None),  # a coordinator does not decide
        (DE, {"programme": "employment"}, 403, None),
        ({}, {"programme": "employment"}, 401, None),
        ({**SEC, "If-Match": '"7"'}, {"programme": "employment"}, 412, None),
    ],
)
def test_a_refused_acceptance_writes_nothing(
    events_client, events_app, headers, body, status, field
):
    proposal = _submit(events_client)
    problem = _problem(_accept(events_client, proposal["id"], body, headers=headers), status)
    if field:
        assert field in problem["errors"], problem
    assert _written(events_app) == (1, 0, 1)
    assert events_client.get(f"/v1/proposals/{proposal['id']}", headers=SEC).json["status"] == (
        "submitted"
    )


def test_declining_tells_the_coordinator_why_and_partners_only_that(events_client, events_app):
    proposal = _submit(events_client, language="fr")
    url = f"/v1/proposals/{proposal['id']}/decline"
    for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": "x", "cc": "y"}):
        _problem(events_client.post(url, json=body, headers=SEC), 422)
    _problem(events_client.post(url, json={"reason": "No"}, headers=LT), 403)
    _problem(
        events_client.post("/v1/proposals/nope/decline", json={"reason": "No"}, headers=SEC), 404
    )
    assert _written(events_app) == (1, 0, 1)
    reason = "The programme already has a peer review on youth outreach this year."
    response = events_client.post(url, json={"reason": f" {reason} "}, headers=SEC)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "declined"
    assert response.json["decline_reason"] == reason
    assert response.json["event_id"] is None
    assert events_client.get(url.removesuffix("/decline"), headers=LT).json["decline_reason"] == (
        reason
    )
    partner, internal = _outbox(events_app)[1:]
    assert partner["topic"] == "proposal.declined"
    assert reason not in json.dumps(partner["payload"])
    assert internal["topic"] == "internal.proposal.decided"
    assert reason not in json.dumps(internal["payload"])  # sealed
    opened = outbox_payload(internal)
    assert opened["reason"] == reason
    assert opened["status"] == "declined"
    assert {r["language"] for r in opened["recipients"]} == {"fr"}
    assert events_client.get("/v1/events", headers=SEC).json["total"] == 0
    _problem(_accept(events_client, proposal["id"]), 409)


def test_concurrent_acceptances_make_exactly_one_event(events_app, events_client):
    proposal = _submit(events_client)

    def accept(_: int) -> int:
        return _accept(events_app.test_client(), proposal["id"]).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(accept, range(8)))
    assert sorted(statuses) == [200] + [409] * 7, statuses
    db = events_app.extensions["mlp"].db
    assert db.events.count_documents({"proposal_id": proposal["id"]}) == 1
    topics = [r["topic"] for r in _outbox(events_app)]
    assert topics.count("proposal.accepted") == topics.count("event.created") == 1


def test_the_openapi_document_lists_the_proposal_routes(events_client):
    paths = events_client.get("/openapi.json").json["paths"]
    for path in (
        "/v1/proposals",
        "/v1/proposals/{proposal_id}",
        "/v1/proposals/{proposal_id}/accept",
        "/v1/proposals/{proposal_id}/decline",
    ):
        assert path in paths


def test_only_a_verified_address_is_told_the_decision(events_settings):
    """As in production, an address the identity provider did not verify is not
    the coordinator's: it is neither stored nor mailed."""
    strict = replace(events_settings, jwt_require_verified_email=True)
    body = {k: v for k, v in proposal_body().items() if k != "contact"}
    with running_app(create_app, strict) as app:
        client = app.test_client()
        claimed = auth("coordinator", country="LT", email=LT_EMAIL, email_verified=False)
        problem = _problem(client.post("/v1/proposals", json=body, headers=claimed), 422)
        assert "contact" in problem["errors"]
        assert _written(app) == (0, 0, 0)
        with_contact = client.post("/v1/proposals", json=proposal_body(), headers=claimed)
        assert with_contact.status_code == 201
        assert with_contact.json["submitted_by"]["email"] is None
        verified = client.post("/v1/proposals", json=body, headers=LT)
        assert verified.status_code == 201
        assert verified.json["submitted_by"]["email"] == LT_EMAIL

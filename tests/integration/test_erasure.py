"""Erasure (the right to be forgotten) in each service, through the real consumer
runner against the real Mongo-wire server: the ledger and its API in the
invitations service, each service's handler (idempotent, unknown person gives
zero counts, a replay finds rows by the keyed hash alone), and the retention
job of every service with the time under the test's control."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deploy import catalog
from devkit.auth import auth
from devkit.samples import event_payload, issued_payload, proposal_body
from services.documents.handlers import subscriptions as documents_subscriptions
from services.invitations import operations as invitations_operations
from services.invitations.jobs import retain_personal_data
from services.notifications.handlers import subscriptions as notifications_subscriptions
from shared import erasure
from shared.erasure import MARKER
from shared.topics import PRODUCERS, source_of
from tests.fixtures.documents import invite, known_event, upload
from tests.fixtures.invitations import SEC, invitee, issued_links, nominee, registrant, token_of
from tests.fixtures.surveys import completed_event, links
from tests.helpers import RecordDeliverer, outbox_payload, running_app, service_settings

OPS = auth("ops")
REQUESTED = "internal.person.erasure_requested"
COMPLETED = "internal.person.erasure_completed"


def _db(app):
    return app.extensions["mlp"].db


def _outbox(app, topic: str) -> list[dict[str, Any]]:
    return [outbox_payload(r) for r in _db(app).outbox.find({"topic": topic}, sort=[("_id", 1)])]


def _request(person: str, salt: str, **overrides: Any) -> dict[str, Any]:
    """An ``internal.person.erasure_requested`` payload as the ledger announces it."""
    return {
        "request_id": str(uuid.uuid4()),
        "subject": erasure.subject_key(salt, person),
        "email": person,
        "accounts": [],
        "account_keys": [],
        "invitation_ids": [],
        "replay": False,
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def _answers(app, request_id: str) -> list[dict[str, Any]]:
    return [a for a in _outbox(app, COMPLETED) if a["request_id"] == request_id]


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    """The collections an erasure changed (it counts every collection it looked in)."""
    return {collection: n for collection, n in counts.items() if n}


def _erase(app, deliver, payload) -> dict[str, int]:
    """Deliver the request; the counts this service answered with."""
    deliver(REQUESTED, payload)
    [answer] = _answers(app, payload["request_id"])
    assert answer["service"] == app.extensions["mlp"].settings.service
    return answer["counts"]


# --- invitations: the ledger, its API and its own rows ------------------------------


def _invite_two_accept_one(client, published_event, app, email: str) -> list[str]:
    events = [published_event(capacity=5)["event_id"] for _ in range(2)]
    for event_id in events:
        body = {"invitees": [invitee(1, email=email, name="Kadri Tamm")]}
        assert (
            client.post(f"/v1/events/{event_id}/invitations", json=body, headers=SEC).status_code
            == 201
        )
    [url] = issued_links(app, events[0]).values()
    assert client.post(f"/v1/rsvp/{token_of(url)}", json={"response": "accept"}).status_code == 200
    return events


def test_a_request_is_202_keeps_no_address_and_announces_it_sealed(
    invitations_client, invitations_app, invitations_published_event
):
    email = "kadri.tamm@gov.example.ee"
    _invite_two_accept_one(invitations_client, invitations_published_event, invitations_app, email)
    answer = invitations_client.post(
        "/v1/erasure-requests", json={"email": email, "reason": "art. 17 request"}, headers=SEC
    )
    assert answer.status_code == 202, answer.json
    body = answer.json
    assert answer.headers["Location"] == f"/v1/erasure-requests/{body['id']}"
    assert body["status"] == "in_progress" and set(body["services"]) == set(PRODUCERS)
    ledger = _db(invitations_app).erasures.find_one({"_id": body["id"]})
    assert email not in str(ledger) and erasure.email_sha256(email) not in str(ledger)
    assert ledger["subject"] == erasure.subject_key(
        invitations_app.extensions["mlp"].settings.erasure_salt, email
    )
    assert len(ledger["invitation_ids"]) == 2
    [raw] = _db(invitations_app).outbox.find({"topic": REQUESTED})
    assert email not in str(raw["payload"]) and raw["payload"]["email"] == ""  # sealed
    [opened] = _outbox(invitations_app, REQUESTED)
    assert opened["email"] == email and opened["replay"] is False
    assert sorted(opened["invitation_ids"]) == ledger["invitation_ids"]


def test_the_invitations_handler_pseudonymises_keeps_seats_and_is_idempotent(
    invitations_client, invitations_app, invitations_published_event, deliver_to_invitations
):
    email = "Kadri.Tamm@Gov.example.ee"
    events = _invite_two_accept_one(
        invitations_client, invitations_published_event, invitations_app, email.lower()
    )
    db = _db(invitations_app)
    seats = [db.seats.find_one({"_id": e}) for e in events]
    salt = invitations_app.extensions["mlp"].settings.erasure_salt
    counts = _erase(invitations_app, deliver_to_invitations, _request(email, salt))
    assert _nonzero(counts) == {"invitations": 2}
    rows = list(db.invitations.find({"event_id": {"$in": events}}))
    for row in rows:
        assert row["email"] == f"{MARKER}:{row['_id']}" and row["name"] == MARKER
        assert row["organisation"] == MARKER and row["token_hash"].startswith(MARKER)
        assert {h["by"] for h in row["history"]} == {MARKER}
        assert all(h["action"] and h["at"] for h in row["history"])  # action and time kept
    assert sorted(r["status"] for r in rows) == ["accepted", "pending"]
    assert [db.seats.find_one({"_id": e}) for e in events] == seats  # a seat stays counted
    assert "Kadri" not in str(rows) and email.lower() not in str(rows)
    # again (a redelivered request, a second request, a replay without the address)
    assert sum(_erase(invitations_app, deliver_to_invitations, _request(email, salt)).values()) == 0
    replay = _request(email, salt, email="", replay=True)
    assert sum(_erase(invitations_app, deliver_to_invitations, replay).values()) == 0
    # the RSVP link is dead
    [url] = issued_links(invitations_app, events[1]).values()
    assert invitations_client.get(f"/v1/rsvp/{token_of(url)}").status_code == 404


def test_an_unknown_person_completes_with_zero_counts(invitations_app, deliver_to_invitations):
    salt = invitations_app.extensions["mlp"].settings.erasure_salt
    counts = _erase(invitations_app, deliver_to_invitations, _request("nobody@x.eu", salt))
    assert sum(counts.values()) == 0


def _answer(
    deliver, request_id: str, service: str, counts=None, reason: str = "request", event_id=None
):
    payload = {
        "event_id": event_id,
        "request_id": request_id,
        "service": service,
        "reason": reason,
        "counts": counts or {},
        "retained": [f"{service}: something, for a reason"],
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    deliver(COMPLETED, payload, source=source_of(service))


def test_the_ledger_completes_once_every_service_answered_with_a_certificate(
    invitations_client, invitations_app, deliver_to_invitations
):
    body = invitations_client.post(
        "/v1/erasure-requests", json={"email": "who@gov.example.eu"}, headers=OPS
    ).json
    url = f"/v1/erasure-requests/{body['id']}"
    for service in PRODUCERS[:-1]:
        _answer(deliver_to_invitations, body["id"], service, {"rows": 1})
    # an answer that claims another service than its source changes nothing
    deliver_to_invitations(
        COMPLETED,
        {"request_id": body["id"], "service": PRODUCERS[-1], "reason": "request", "counts": {},
         "retained": [], "version": 1, "occurred_at": datetime.now(UTC).isoformat()},
        source=source_of(PRODUCERS[0]),
    )  # fmt: skip
    waiting = invitations_client.get(url, headers=SEC).json
    assert waiting["status"] == "in_progress" and waiting["certificate"] is None
    assert waiting["services"][PRODUCERS[-1]]["status"] == "pending"
    _answer(deliver_to_invitations, body["id"], PRODUCERS[-1], {"rows": 2})
    done = invitations_client.get(url, headers=SEC).json
    assert done["status"] == "completed"
    cert = done["certificate"]
    assert cert["request_id"] == body["id"] and cert["total"] == len(PRODUCERS) + 1
    assert {s["service"] for s in cert["services"]} == set(PRODUCERS)
    assert all(s["retained"] for s in cert["services"])
    listed = invitations_client.get("/v1/erasure-requests?page_size=1", headers=SEC).json
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]


def test_a_service_that_has_not_answered_in_time_shows_overdue(
    kafka, mongo, deliver_to_invitations
):
    from devkit.env import service_env
    from services.invitations.app import create_app

    env = {
        **service_env("invitations", kafka.bootstrap, mongo.uri),
        "MLP_ERASURE_OVERDUE_AFTER_S": "0",
    }
    with running_app(create_app, service_settings("invitations", env)) as app:
        client = app.test_client()
        body = client.post("/v1/erasure-requests", json={"email": "a@b.eu"}, headers=SEC).json
        deliver = RecordDeliverer(
            app, importlib.import_module("services.invitations.handlers").subscriptions
        )
        _answer(deliver, body["id"], "events")
        view = client.get(f"/v1/erasure-requests/{body['id']}", headers=SEC).json
        assert view["status"] == "overdue"
        assert view["overdue"] == sorted(set(PRODUCERS) - {"events"})


def test_requests_need_the_secretariat_or_ops_and_bad_input_writes_nothing(
    invitations_client, invitations_app
):
    db = _db(invitations_app)
    url = "/v1/erasure-requests"
    assert invitations_client.post(url, json={"email": "a@b.eu"}).status_code == 401
    for who in (auth("participant", email="a@b.eu"), auth("partner"), auth("coordinator")):
        refused = invitations_client.post(url, json={"email": "a@b.eu"}, headers=who)
        assert refused.status_code == 403
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert invitations_client.get(url, headers=who).status_code == 403
    bad_bodies = [
        {},
        {"email": "not-an-address"},
        {"email": "a@b.eu", "name": "A"},
        {"email": "a@b.eu", "reason": "x" * 501},
        {"email": "a@b.eu", "accounts": "s"},
    ]
    for bad in bad_bodies:
        answer = invitations_client.post(url, json=bad, headers=SEC)
        assert answer.status_code == 422, bad
        assert answer.headers["Content-Type"] == "application/problem+json"
    broken = invitations_client.post(
        url, data="{", headers={**SEC, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert db.erasures.count_documents({}) == 0 and db.outbox.count_documents({}) == 0
    missing = invitations_client.get(f"{url}/nope", headers=SEC)
    assert (
        missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    )
    assert invitations_client.get(f"{url}?page=0", headers=SEC).status_code == 422


def test_a_replay_after_a_restore_erases_what_the_backup_brought_back(
    invitations_client, invitations_app, invitations_published_event, deliver_to_invitations
):
    email = "restored@gov.example.eu"
    events = _invite_two_accept_one(
        invitations_client, invitations_published_event, invitations_app, email
    )
    db = _db(invitations_app)
    backup = list(db.invitations.find({"event_id": {"$in": events}}))
    body = invitations_client.post("/v1/erasure-requests", json={"email": email}, headers=SEC).json
    [request] = _outbox(invitations_app, REQUESTED)
    deliver_to_invitations(REQUESTED, request)
    for service in PRODUCERS:
        if service != "invitations":
            _answer(deliver_to_invitations, body["id"], service)
    [own] = [a for a in _answers(invitations_app, body["id"])]
    _answer(deliver_to_invitations, body["id"], "invitations", own["counts"])
    assert db.erasures.find_one({"_id": body["id"]})["status"] == "completed"
    # the database is restored from the backup: the person is back
    db.invitations.delete_many({"event_id": {"$in": events}})
    db.invitations.insert_many(backup)
    db.outbox.delete_many({})
    ctx = invitations_app.extensions["mlp"]
    assert invitations_operations.replay_erasures(ctx) == 1
    [again] = _outbox(invitations_app, REQUESTED)
    assert again["replay"] is True and again["email"] == "" and again["request_id"] == body["id"]
    assert again["subject"] == request["subject"]
    assert again["invitation_ids"] == sorted(request["invitation_ids"])
    assert _nonzero(_erase(invitations_app, deliver_to_invitations, again)) == {"invitations": 2}
    assert email not in str(list(db.invitations.find()))
    view = invitations_client.get(f"/v1/erasure-requests/{body['id']}", headers=SEC).json
    assert view["status"] == "in_progress" and len(view["earlier_runs"]) == 1
    assert invitations_operations.replay_erasures(ctx) == 0  # only completed requests


def test_invitations_retention_pseudonymises_invitees_of_events_long_completed(
    invitations_client, invitations_app, invitations_published_event, deliver_to_invitations
):
    email = "old@gov.example.eu"
    events = _invite_two_accept_one(
        invitations_client, invitations_published_event, invitations_app, email
    )
    finished = event_payload(events[0], version=9, status="completed", ends_on="2024-03-01",
                             starts_on="2024-02-28")  # fmt: skip
    deliver_to_invitations("event.completed", finished)
    ctx = invitations_app.extensions["mlp"]
    assert retain_personal_data(ctx, now=datetime(2025, 12, 1, tzinfo=UTC)) == 0  # not yet
    assert retain_personal_data(ctx, now=datetime(2026, 3, 3, tzinfo=UTC)) == 1
    [answer] = _outbox(invitations_app, COMPLETED)
    assert answer["reason"] == "retention" and answer["event_id"] == events[0]
    assert answer["request_id"] == f"retention:{events[0]}"
    assert _nonzero(answer["counts"]) == {"invitations": 1}
    db = _db(invitations_app)
    assert db.invitations.find_one({"event_id": events[0]})["name"] == MARKER
    assert db.invitations.find_one({"event_id": events[1]})["email"] == email  # still open
    assert retain_personal_data(ctx, now=datetime(2026, 3, 4, tzinfo=UTC)) == 0  # once
    # the ledger counts it like an erasure
    _answer(
        deliver_to_invitations,
        answer["request_id"],
        "invitations",
        answer["counts"],
        "retention",
        events[0],
    )
    entry = invitations_client.get(f"/v1/erasure-requests/{answer['request_id']}", headers=SEC).json
    assert entry["kind"] == "retention" and entry["event_id"] == events[0]
    assert _nonzero(entry["services"]["invitations"]["counts"]) == {"invitations": 1}


# --- the other services' handlers -----------------------------------------------------


@pytest.fixture
def deliver_to_notifications(notifications_app) -> RecordDeliverer:
    return RecordDeliverer(notifications_app, notifications_subscriptions)


def test_notifications_deletes_contacts_mails_feed_optouts_and_waiting_links(
    notifications_app, deliver_to_notifications
):
    email = "Kadri.Tamm@Gov.example.ee"
    ctx = notifications_app.extensions["mlp"]
    db = ctx.db
    event_id, invitation_id = str(uuid.uuid4()), str(uuid.uuid4())
    deliver_to_notifications("event.published", event_payload(event_id, version=2))
    deliver_to_notifications(
        "internal.invitation.issued", issued_payload(event_id, invitation_id, email)
    )
    other = str(uuid.uuid4())
    deliver_to_notifications(
        "internal.invitation.issued", issued_payload(event_id, other, "x@y.eu")
    )
    ctx.store.opt_out(erasure.email_sha256(email), datetime.now(UTC))
    db.feed.insert_one({"_id": "f1", "key": "k1", "email": email.lower(), "sub": "sub-k",
                        "event_id": event_id, "title": "t"})  # fmt: skip
    db.deferred.insert_one({"_id": "d1", "invitation_id": invitation_id, "event_id": event_id})
    assert db.mails.count_documents({}) == 2
    feed = db.feed.count_documents({"$or": [{"email": email.lower()}, {"sub": "sub-k"}]})
    salt = ctx.settings.erasure_salt
    payload = _request(email, salt, invitation_ids=[invitation_id], accounts=["sub-k"])
    counts = _erase(notifications_app, deliver_to_notifications, payload)
    assert counts == {"contacts": 1, "mails": 1, "feed": feed, "optouts": 1, "deferred": 1}
    everything = str([list(db[c].find()) for c in db.list_collection_names() if c != "outbox"])
    assert email.lower() not in everything.lower() and erasure.email_sha256(email) not in everything
    assert db.contacts.count_documents({}) == 1 and db.mails.count_documents({}) == 1  # others'
    again = _request(email, salt, email="", replay=True, invitation_ids=[invitation_id])
    assert set(_erase(notifications_app, deliver_to_notifications, again).values()) == {0}


def test_documents_pseudonymises_the_uploader_and_forgets_the_participant(
    documents_app, documents_client
):
    deliver = RecordDeliverer(documents_app, documents_subscriptions)
    email = "expert@uni.example.eu"
    event_id = known_event(deliver)
    invite(deliver, event_id, email)
    expert = auth("expert", sub="sub-expert", email=email)
    created = upload(documents_client, event_id, expert)
    assert created.status_code == 201, created.json
    document_id = created.json["id"]
    db = _db(documents_app)
    db.due_dates.insert_one({"_id": event_id, "items": [{"kind": "agenda",
                             "recipients": [email, "other@x.eu"]}]})  # fmt: skip
    before = db.documents.find_one({"_id": document_id})
    salt = documents_app.extensions["mlp"].settings.erasure_salt
    counts = _erase(documents_app, deliver, _request(email, salt, accounts=["sub-expert"]))
    assert counts == {"documents": 1, "invitees": 1, "due_dates": 1}
    after = db.documents.find_one({"_id": document_id})
    assert after["uploaded_by"] == MARKER and {v["uploaded_by"] for v in after["versions"]} == {
        MARKER
    }
    assert {h["by"] for h in after["history"]} == {MARKER}
    assert after["sha256"] == before["sha256"] and after["status"] == before["status"]
    assert db.invitees.find_one({})["email_hash"] == MARKER
    assert db.due_dates.find_one({"_id": event_id})["items"][0]["recipients"] == ["other@x.eu"]
    everything = str([list(db[c].find()) for c in ("documents", "invitees", "due_dates")])
    assert "sub-expert" not in everything and erasure.email_sha256(email) not in everything
    # the file stays (the programme's record)
    assert db["files.files"].count_documents({"_id": before["versions"][0]["file_id"]}) == 1
    replay = _request(email, salt, email="", replay=True,
                      account_keys=[erasure.account_key(salt, "sub-expert")])  # fmt: skip
    assert set(_erase(documents_app, deliver, replay).values()) == {0}


def test_surveys_unlinks_the_invitation_and_keeps_every_count(
    surveys_app, surveys_client, deliver_to_surveys
):
    event_id, ids = completed_event(deliver_to_surveys, ["LT", "DE", "LV"])
    url = links(surveys_app, event_id)[ids[0]]
    body = {"answers": [{"question_id": "knowledge", "value": 4}]}
    surveys_client.post(f"/v1/survey-responses/{url.rsplit('/', 1)[1]}", json=body)
    db = _db(surveys_app)
    snapshot = (list(db.surveys.find()), list(db.responses.find()), list(db.participants.find()))
    salt = surveys_app.extensions["mlp"].settings.erasure_salt
    counts = _erase(
        surveys_app, deliver_to_surveys, _request("p@x.eu", salt, invitation_ids=[ids[0]])
    )
    assert counts == {"respondents": 1}
    row = db.respondents.find_one({"_id": ids[0]})
    assert row["token_hash"] == f"{MARKER}:{ids[0]}" and "old_token_hashes" not in row
    assert (
        list(db.surveys.find()),
        list(db.responses.find()),
        list(db.participants.find()),
    ) == snapshot
    assert surveys_client.get(url).status_code == 404  # the link names nobody now
    assert _erase(
        surveys_app, deliver_to_surveys, _request("p@x.eu", salt, invitation_ids=[ids[0]])
    ) == {"respondents": 0}


@pytest.mark.parametrize("service", ["events", "catalogue"])
def test_services_without_personal_data_still_answer(service, request):
    app = request.getfixturevalue(f"{service}_app")
    subscriptions = importlib.import_module(f"services.{service}.handlers").subscriptions
    deliver = RecordDeliverer(app, subscriptions)
    salt = app.extensions["mlp"].settings.erasure_salt
    counts = _erase(app, deliver, _request("a@b.eu", salt, accounts=["sub-staff"]))
    assert set(counts.values()) == {0}


# --- retention in every service -------------------------------------------------------


@pytest.mark.parametrize("service", catalog.names())
def test_every_service_runs_its_retention_once_per_event_and_announces_it(service, request):
    app = request.getfixturevalue(f"{service}_app")
    ctx = app.extensions["mlp"]
    jobs = importlib.import_module(f"services.{service}.jobs")
    assert any(job.name == f"{service}-retention" for job in jobs.periodic_jobs(ctx))
    old, recent = str(uuid.uuid4()), str(uuid.uuid4())
    ctx.db.events.insert_many([
        {"_id": old, "status": "completed", "ends_on": "2023-05-01"},
        {"_id": recent, "status": "completed", "ends_on": "2025-05-01"},
    ])  # fmt: skip
    now = datetime(2025, 6, 1, tzinfo=UTC)
    assert jobs.retain_personal_data(ctx, now=now) == 1
    assert jobs.retain_personal_data(ctx, now=now + timedelta(hours=1)) == 0
    [answer] = _outbox(app, COMPLETED)
    assert (answer["service"], answer["reason"], answer["event_id"]) == (service, "retention", old)
    assert ctx.db.events.find_one({"_id": old})[erasure.ERASED_AT]


def test_registrations_nominations_and_the_coordinators_registry_are_erased_too(
    invitations_client, invitations_app, invitations_published_event, deliver_to_invitations
):
    """The ways in hold people as well: a registrant of an open conference, a
    nominee of a peer review, and the same person as a country's contact point."""
    email = "ona.jankauskiene@socmin.lt"
    conference = invitations_published_event(registration="open", visibility="public", capacity=10)[
        "event_id"
    ]
    body = registrant(1, email=email, name="Ona Jankauskiene", organisation="SADM")
    registered = invitations_client.post(f"/v1/events/{conference}/registrations", json=body)
    assert registered.status_code == 202, registered.json
    review = invitations_published_event(
        registration="nomination", host_country="EE", guest_countries=["LT"], capacity=10
    )["event_id"]
    coordinator = {"country": "LT", "email": email, "name": "Ona Jankauskiene"}
    assert invitations_client.post("/v1/coordinators", json=coordinator, headers=SEC).status_code
    quotas = {"LT": {"places": 2}}
    put = invitations_client.put(f"/v1/events/{review}/quotas", json=quotas, headers=SEC)
    assert put.status_code == 200, put.json
    lt = auth("coordinator", country="LT", sub="coord-lt-ona")
    nominated = invitations_client.post(
        f"/v1/events/{review}/nominations",
        json=nominee(1, email=email, name="Ona Jankauskiene"),
        headers=lt,
    )
    assert nominated.status_code == 201, nominated.json
    db = _db(invitations_app)
    salt = invitations_app.extensions["mlp"].settings.erasure_salt
    accounts = [erasure.account_key(salt, "coord-lt-ona")]
    counts = _erase(
        invitations_app, deliver_to_invitations, _request(email, salt, account_keys=accounts)
    )
    assert counts["registrations"] == 1 and counts["nominations"] == 1
    assert counts["coordinators"] == 1
    rows = [*db.registrations.find({"event_id": conference}), *db.nominations.find({})]
    assert rows and "Ona" not in str(rows) and email not in str(rows)
    assert "coord-lt-ona" not in str(rows)  # who nominated, in the row and its trail
    assert db.coordinators.find_one({"email": email}) is None
    [registration] = db.registrations.find({"event_id": conference})
    assert registration["stakeholder_type"] == body["stakeholder_type"]  # the counts keep it
    assert registration["consent"]["privacy_notice"]  # and the proof of consent
    again = _erase(invitations_app, deliver_to_invitations, _request(email, salt))
    assert sum(again.values()) == 0


def test_a_hosting_proposal_forgets_its_contact_and_its_coordinator(events_client, events_app):
    """The events service holds people in hosting proposals: the contact named in
    one and the coordinator who submitted it (by address and by account)."""
    email = "ruta.kazlauskiene@example.lt"
    coordinator = auth("coordinator", country="LT", sub="coord-ruta", email=email)
    submitted = events_client.post("/v1/proposals", json=proposal_body(), headers=coordinator)
    assert submitted.status_code == 201, submitted.json
    deliver = RecordDeliverer(
        events_app, importlib.import_module("services.events.handlers").subscriptions
    )
    salt = events_app.extensions["mlp"].settings.erasure_salt
    keys = [erasure.account_key(salt, "coord-ruta")]
    counts = _erase(events_app, deliver, _request(email, salt, account_keys=keys))
    assert counts["proposals"] == 1
    [row] = _db(events_app).proposals.find({})
    assert "Kazlauskien" not in str(row) and email not in str(row) and "coord-ruta" not in str(row)
    assert row["country"] == "LT" and row["title"] == proposal_body()["title"]  # the record stays
    again = _erase(events_app, deliver, _request(email, salt, account_keys=keys))
    assert sum(again.values()) == 0

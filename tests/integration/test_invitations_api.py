"""The invitations API through the Flask client, against the real Mongo-wire server."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from datetime import UTC, datetime, timedelta

from devkit.auth import auth
from services.invitations.app import create_app
from tests.fixtures.invitations import SEC, invitee, issued_links, open_event, token_of
from tests.helpers import outbox_payload, running_app

CSV = (
    "email,name,country,organisation,role,language\n"
    "a.one@gov.example.eu,Anna One,LV,Ministry,government_official,fr\n"
    "b.two@gov.example.eu,Ben Two,FI,,expert,\n"
)


def _db(app):
    return app.extensions["mlp"].db


def _invite(client, event_id, *people, **kw):
    response = client.post(
        f"/v1/events/{event_id}/invitations", json={"invitees": list(people)}, headers=SEC, **kw
    )
    assert response.status_code == 201, response.json
    return response.json["created"]


def _links(app, event_id):
    """email -> RSVP token, from what the internal topic will carry."""
    db = _db(app)
    out = {}
    for iid, url in issued_links(app, event_id).items():
        out[db.invitations.find_one({"_id": iid})["email"]] = token_of(url)
    return out


def _topics(app, event_id=None):
    query = {"key": event_id} if event_id else {}
    return [(r["topic"], outbox_payload(r)) for r in _db(app).outbox.find(query, sort=[("_id", 1)])]


# --- inviting ---------------------------------------------------------------------


def test_invite_creates_announces_and_keeps_only_the_token_hash(
    invitations_client, invitations_app, invitations_published_event
):
    ev = invitations_published_event()
    response = invitations_client.post(
        f"/v1/events/{ev['event_id']}/invitations",
        json={"invitees": [invitee(1), invitee(2, country="FI", role="expert", language="fr")]},
        headers={**SEC, "Host": "evil.example.com"},
    )
    assert response.status_code == 201
    body = response.json
    assert [c["email"] for c in body["created"]] == [
        "official.1@gov.example.eu",
        "official.2@gov.example.eu",
    ]
    assert body["skipped"] == [] and body["rejected"] == []
    topics = _topics(invitations_app, ev["event_id"])
    assert (
        sorted(t for t, _ in topics) == ["internal.invitation.issued"] * 2 + ["invitation.sent"] * 2
    )
    for topic, payload in topics:
        if topic == "invitation.sent":
            assert set(payload) == {
                "invitation_id",
                "event_id",
                "country",
                "role",
                "status",
                "version",
                "occurred_at",
            }
            assert payload["status"] == "pending"
        else:
            assert payload["rsvp_url"].startswith("https://rsvp.example.eu/v1/rsvp/")
            assert payload["event"]["title"] == ev["title"]
            assert payload["resend"] is False
            token = token_of(payload["rsvp_url"])
            assert len(token) >= 43
            stored = _db(invitations_app).invitations.find_one({"_id": payload["invitation_id"]})
            assert token not in str(stored)
            assert len(stored["token_hash"]) == 64


def test_inviting_again_skips_the_same_address_whatever_its_case(
    invitations_client, invitations_published_event
):
    ev = invitations_published_event()
    url = f"/v1/events/{ev['event_id']}/invitations"
    _invite(invitations_client, ev["event_id"], invitee(1))
    again = invitations_client.post(
        url,
        json={"invitees": [invitee(1, email="OFFICIAL.1@gov.EXAMPLE.eu"), invitee(2), invitee(2)]},
        headers=SEC,
    )
    assert again.status_code == 201
    assert [c["row"] for c in again.json["created"]] == [1]
    assert [(s["row"], s["reason"]) for s in again.json["skipped"]] == [
        (0, "already invited"),
        (2, "listed twice"),
    ]
    # a single invitee object, already invited
    only_dupes = invitations_client.post(url, json=invitee(1), headers=SEC)
    assert only_dupes.status_code == 200 and only_dupes.json["created"] == []


def test_csv_upload_as_body_and_as_multipart(invitations_client, invitations_published_event):
    ev = invitations_published_event()
    url = f"/v1/events/{ev['event_id']}/invitations"
    response = invitations_client.post(url, data=CSV, content_type="text/csv", headers=SEC)
    assert response.status_code == 201, response.json
    assert len(response.json["created"]) == 2
    listed = invitations_client.get(url, headers=SEC).json["items"]
    assert {(i["email"], i["language"], i["organisation"]) for i in listed} == {
        ("a.one@gov.example.eu", "fr", "Ministry"),
        ("b.two@gov.example.eu", "en", ""),
    }
    ev2 = invitations_published_event()
    multipart = invitations_client.post(
        f"/v1/events/{ev2['event_id']}/invitations",
        data={"file": (io.BytesIO(CSV.encode()), "people.csv")},
        content_type="multipart/form-data",
        headers=SEC,
    )
    assert multipart.status_code == 201 and len(multipart.json["created"]) == 2


def test_bad_input_is_a_clear_problem_and_nothing_is_half_written(
    invitations_client, invitations_app, invitations_published_event
):
    ev = invitations_published_event()
    url = f"/v1/events/{ev['event_id']}/invitations"
    db = _db(invitations_app)

    def problem(response, status):
        assert response.status_code == status, response.json
        assert response.content_type == "application/problem+json"
        return response.json

    problem(
        invitations_client.post(url, data="{nope", content_type="application/json", headers=SEC),
        400,
    )
    problem(invitations_client.post(url, json={"invitees": []}, headers=SEC), 422)
    problem(invitations_client.post(url, json={"invitees": [invitee(1)], "x": 1}, headers=SEC), 422)
    too_many = [invitee(i) for i in range(5001)]
    body = problem(invitations_client.post(url, json={"invitees": too_many}, headers=SEC), 422)
    assert "5000" in body["detail"]
    mixed = [invitee(1), invitee(2, country="XX"), invitee(3, colour="blue"), invitee(4)]
    body = problem(invitations_client.post(url, json={"invitees": mixed}, headers=SEC), 422)
    assert [r["row"] for r in body["rejected"]] == [1, 2]
    assert "country" in body["rejected"][0]["errors"]
    assert "colour" in body["rejected"][1]["errors"]
    bad_csv = CSV.replace("FI,,expert,", "FI,,expert,,surplus")
    body = problem(
        invitations_client.post(url, data=bad_csv, content_type="text/csv", headers=SEC), 422
    )
    assert body["rejected"][0]["row"] == 3
    body = problem(
        invitations_client.post(url, data="mail,name\nx,y\n", content_type="text/csv", headers=SEC),
        422,
    )
    assert body["type"] == "/problems/malformed-csv" and body["unknown_columns"] == ["mail"]
    problem(
        invitations_client.post(url, data=b"\xff\xfe", content_type="text/csv", headers=SEC), 422
    )
    problem(invitations_client.post(url, data="x", content_type="text/plain", headers=SEC), 415)
    assert db.invitations.count_documents({}) == 0
    assert db.outbox.count_documents({"key": ev["event_id"]}) == 0
    # partial=true creates the good rows and reports the bad ones
    partial = invitations_client.post(url + "?partial=true", json={"invitees": mixed}, headers=SEC)
    assert partial.status_code == 201
    assert len(partial.json["created"]) == 2 and len(partial.json["rejected"]) == 2


def test_only_known_published_events_before_their_deadline(
    invitations_client, deliver_to_invitations, invitations_published_event
):
    one = [invitee(1)]
    unknown = invitations_client.post("/v1/events/nope/invitations", json=one, headers=SEC)
    assert unknown.status_code == 404
    draft = open_event(status="draft", version=1)
    deliver_to_invitations("event.created", draft)
    response = invitations_client.post(
        f"/v1/events/{draft['event_id']}/invitations", json=one, headers=SEC
    )
    assert response.status_code == 409
    past = invitations_published_event(
        registration_deadline=(datetime.now(UTC) - timedelta(hours=1)).isoformat()
    )
    response = invitations_client.post(
        f"/v1/events/{past['event_id']}/invitations", json=one, headers=SEC
    )
    assert response.status_code == 409 and "deadline" in response.json["detail"]


def test_a_body_above_the_global_limit_is_accepted_here_only_up_to_its_own(
    invitations_client, invitations_settings, invitations_published_event
):
    ev = invitations_published_event(capacity=None)
    people = [invitee(i, name="N" * 150, organisation="O" * 150) for i in range(3000)]
    assert len(json.dumps({"invitees": people})) > 1024 * 1024
    response = invitations_client.post(
        f"/v1/events/{ev['event_id']}/invitations", json={"invitees": people}, headers=SEC
    )
    assert response.status_code == 201 and len(response.json["created"]) == 3000
    smaller = dataclasses.replace(
        invitations_settings,
        invitation_max_request_bytes=1000,
        mongo_db=f"{invitations_settings.mongo_db}_small",
    )
    with running_app(create_app, smaller) as app:
        too_big = app.test_client().post(
            f"/v1/events/{ev['event_id']}/invitations", json={"invitees": people[:10]}, headers=SEC
        )
    assert too_big.status_code == 413


# --- RSVP ---------------------------------------------------------------------------


def test_rsvp_capacity_waitlist_promotion_and_changing_answers(
    invitations_client, invitations_app, invitations_published_event
):
    ev = invitations_published_event(capacity=2)
    _invite(invitations_client, ev["event_id"], *(invitee(i) for i in range(3)))
    links = _links(invitations_app, ev["event_id"])
    tokens = [links[f"official.{i}@gov.example.eu"] for i in range(3)]
    shown = invitations_client.get(f"/v1/rsvp/{tokens[0]}")
    assert shown.status_code == 200
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert shown.json["status"] == "pending" and shown.json["event"]["title"] == ev["title"]
    assert shown.json["event"]["venue"]["city"] == "Tallinn" and shown.json["can_answer"]
    # GET changes nothing
    assert invitations_client.get(f"/v1/rsvp/{tokens[0]}").json["status"] == "pending"
    statuses = [
        invitations_client.post(f"/v1/rsvp/{t}", json={"response": "accept"}).json["status"]
        for t in tokens
    ]
    assert statuses == ["accepted", "accepted", "waitlisted"]
    again = invitations_client.post(f"/v1/rsvp/{tokens[0]}", json={"response": "accept"})
    assert again.json["status"] == "accepted"  # idempotent
    declined = invitations_client.post(f"/v1/rsvp/{tokens[0]}", json={"response": "decline"})
    assert declined.json["status"] == "declined"
    assert invitations_client.get(f"/v1/rsvp/{tokens[2]}").json["status"] == "accepted"  # promoted
    promoted = [
        p
        for t, p in _topics(invitations_app, ev["event_id"])
        if t == "invitation.accepted" and p.get("promoted")
    ]
    assert len(promoted) == 1
    # changing one's mind: back to accept, but the seat is gone now
    back = invitations_client.post(f"/v1/rsvp/{tokens[0]}", json={"response": "accept"})
    assert back.json["status"] == "waitlisted"
    listed = invitations_client.get(f"/v1/events/{ev['event_id']}/invitations", headers=SEC)
    counts = listed.json["counts"]
    assert counts["by_status"] == {"accepted": 2, "waitlisted": 1}
    seats = _db(invitations_app).seats.find_one({"_id": ev["event_id"]})
    assert (seats["accepted"], seats["waitlisted"]) == (2, 1)


def test_rsvp_errors(
    invitations_client, invitations_app, deliver_to_invitations, invitations_published_event
):
    ev = invitations_published_event()
    [created] = _invite(invitations_client, ev["event_id"], invitee(1))
    token = _links(invitations_app, ev["event_id"])["official.1@gov.example.eu"]
    assert invitations_client.get("/v1/rsvp/unknown-token").status_code == 404
    unknown = invitations_client.post("/v1/rsvp/unknown-token", json={"response": "accept"})
    assert unknown.status_code == 404
    bad = invitations_client.post(f"/v1/rsvp/{token}", json={"response": "maybe"})
    assert bad.status_code == 422 and "response" in bad.json["errors"]
    extra = invitations_client.post(f"/v1/rsvp/{token}", json={"response": "accept", "x": 1})
    assert extra.status_code == 422
    broken = invitations_client.post(f"/v1/rsvp/{token}", data="{", content_type="application/json")
    assert broken.status_code == 400
    # after the deadline: 409 with the deadline in the problem
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    deliver_to_invitations("event.updated", {**ev, "version": 3, "registration_deadline": past})
    late = invitations_client.post(f"/v1/rsvp/{token}", json={"response": "accept"})
    assert late.status_code == 409 and late.json["registration_deadline"]
    assert invitations_client.get(f"/v1/rsvp/{token}").json["can_answer"] is False
    deliver_to_invitations("event.updated", {**ev, "version": 4})
    revoked = invitations_client.post(f"/v1/invitations/{created['id']}/revoke", headers=SEC)
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    gone = invitations_client.post(f"/v1/rsvp/{token}", json={"response": "accept"})
    assert gone.status_code == 410 and gone.headers["Referrer-Policy"] == "no-referrer"
    again = invitations_client.post(f"/v1/invitations/{created['id']}/revoke", headers=SEC)
    assert again.status_code == 409


def test_rsvp_html_page_in_the_invitees_language_and_its_form(
    invitations_client, invitations_app, invitations_published_event
):
    ev = invitations_published_event()
    _invite(
        invitations_client, ev["event_id"], invitee(1, language="fr"), invitee(2, language="et")
    )
    links = _links(invitations_app, ev["event_id"])
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = invitations_client.get(f"/v1/rsvp/{links['official.1@gov.example.eu']}", headers=html)
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    text = page.get_data(as_text=True)
    assert "Votre invitation" in text and "Accepter" in text and "OSKA system" in text
    english = invitations_client.get(f"/v1/rsvp/{links['official.2@gov.example.eu']}", headers=html)
    assert "Your invitation" in english.get_data(as_text=True)  # no Estonian: English
    posted = invitations_client.post(
        f"/v1/rsvp/{links['official.1@gov.example.eu']}", data={"response": "accept"}, headers=html
    )
    assert posted.status_code == 200 and "acceptée" in posted.get_data(as_text=True)
    missing = invitations_client.get("/v1/rsvp/nope", headers=html)
    assert missing.status_code == 404 and missing.content_type.startswith("text/html")


def test_rsvp_is_rate_limited_per_client_address(invitations_settings):
    strict = dataclasses.replace(invitations_settings, rsvp_rate_limit=3)
    with running_app(create_app, strict) as app:
        client = app.test_client()
        for _ in range(3):
            assert client.get("/v1/rsvp/guess").status_code == 404
        limited = client.get("/v1/rsvp/guess")
        assert limited.status_code == 429 and limited.headers["Retry-After"]
        other = client.get("/v1/rsvp/guess", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert other.status_code == 404


def _rsvp_from(client, peer, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.get("/v1/rsvp/guess", headers=headers, environ_base={"REMOTE_ADDR": peer})


def test_behind_trusted_proxies_the_limit_counts_the_forwarded_client(invitations_settings):
    proxy = "10.0.0.7"
    settings = dataclasses.replace(invitations_settings, rsvp_rate_limit=2, trusted_proxies=1)
    with running_app(create_app, settings) as app:
        client = app.test_client()
        for _ in range(2):
            assert _rsvp_from(client, proxy, "198.51.100.1").status_code == 404
        assert _rsvp_from(client, proxy, "198.51.100.1").status_code == 429
        # another client behind the same ingress has a limit of its own
        assert _rsvp_from(client, proxy, "198.51.100.2").status_code == 404
        # what a client writes left of the hop the ingress appended is not believed
        spoofed = _rsvp_from(client, proxy, "192.0.2.77, 198.51.100.1")
        assert spoofed.status_code == 429


def test_without_trusted_proxies_forwarded_headers_are_ignored(invitations_settings):
    strict = dataclasses.replace(invitations_settings, rsvp_rate_limit=2)
    with running_app(create_app, strict) as app:
        client = app.test_client()
        for n in range(2):
            assert _rsvp_from(client, "10.0.0.7", f"198.51.100.{n}").status_code == 404
        assert _rsvp_from(client, "10.0.0.7", "198.51.100.9").status_code == 429


def test_ipv6_clients_are_counted_per_64(invitations_settings):
    strict = dataclasses.replace(invitations_settings, rsvp_rate_limit=2)
    with running_app(create_app, strict) as app:
        client = app.test_client()
        assert _rsvp_from(client, "2001:db8:aa:1::1").status_code == 404
        assert _rsvp_from(client, "2001:db8:aa:1::2").status_code == 404
        # a new address of the same /64 is the same client
        assert _rsvp_from(client, "2001:db8:aa:1:dead:beef:0:1").status_code == 429
        assert _rsvp_from(client, "2001:db8:aa:2::1").status_code == 404


def _race_for_the_last_seat(client, published_event, n):
    app = client.application
    ev = published_event(capacity=3)
    _invite(client, ev["event_id"], *(invitee(i) for i in range(n + 2)))
    links = _links(app, ev["event_id"])
    for i in (n, n + 1):  # two seats already taken
        client.post(
            f"/v1/rsvp/{links[f'official.{i}@gov.example.eu']}", json={"response": "accept"}
        )
    barrier = threading.Barrier(n)
    results: list[str] = []

    def accept(i):
        racer = app.test_client()  # one client per thread
        barrier.wait()
        response = racer.post(
            f"/v1/rsvp/{links[f'official.{i}@gov.example.eu']}", json={"response": "accept"}
        )
        ok = response.status_code == 200
        results.append(response.json["status"] if ok else str(response.status_code))

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["accepted"] + ["waitlisted"] * (n - 1)
    db = _db(app)
    assert db.invitations.count_documents({"event_id": ev["event_id"], "status": "accepted"}) == 3
    seats = db.seats.find_one({"_id": ev["event_id"]})
    assert (seats["accepted"], seats["waitlisted"]) == (3, n - 1)


def test_exactly_one_of_many_concurrent_acceptances_gets_the_last_seat(
    invitations_client, invitations_published_event
):
    for _round in range(3):
        _race_for_the_last_seat(invitations_client, invitations_published_event, n=8)


# --- management and authorisation -------------------------------------------------------


def test_management_filters_counts_on_behalf_resend_and_history(
    invitations_client, invitations_app, invitations_published_event
):
    ev = invitations_published_event(capacity=10)
    url = f"/v1/events/{ev['event_id']}/invitations"
    created = _invite(
        invitations_client,
        ev["event_id"],
        invitee(1),
        invitee(2, country="FI"),
        invitee(3, country="FI", role="expert"),
    )
    listed = invitations_client.get(url + "?country=FI&role=expert", headers=SEC).json
    assert listed["total"] == 1 and listed["items"][0]["email"] == "official.3@gov.example.eu"
    assert listed["counts"]["by_country"] == {"LV": 1, "FI": 2}
    assert invitations_client.get(url + "?status=accepted", headers=SEC).json["total"] == 0
    assert invitations_client.get(url + "?status=bogus", headers=SEC).status_code == 422
    first = created[0]["id"]
    on_behalf = invitations_client.post(
        f"/v1/invitations/{first}/response", json={"response": "accept"}, headers=SEC
    )
    assert on_behalf.status_code == 200 and on_behalf.json["on_behalf"] is True
    [accepted] = [p for t, p in _topics(invitations_app) if t == "invitation.accepted"]
    assert accepted["on_behalf"] is True
    old = _links(invitations_app, ev["event_id"])["official.1@gov.example.eu"]
    resent = invitations_client.post(f"/v1/invitations/{first}/resend", headers=SEC)
    assert resent.status_code == 200 and resent.json["sent_count"] == 2
    issued = [p for t, p in _topics(invitations_app) if t == "internal.invitation.issued"]
    assert issued[-1]["resend"] is True
    assert invitations_client.get(f"/v1/rsvp/{old}").status_code == 404  # the old link died
    new = token_of(issued[-1]["rsvp_url"])
    assert invitations_client.get(f"/v1/rsvp/{new}").json["status"] == "accepted"
    history = invitations_client.get(f"/v1/invitations/{first}/history", headers=SEC).json["items"]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("invited", None, "pending"),
        ("answer", "pending", "accepted"),
        ("resend", "accepted", "accepted"),
    ]
    assert history[1]["on_behalf"] is True and history[1]["by"]
    assert [h["version"] for h in history] == [1, 2, 3]


def test_e_mail_matched_access_trusts_only_verified_addresses_when_required(
    invitations_client, invitations_settings, invitations_published_event
):
    ev = invitations_published_event()
    [mine] = _invite(invitations_client, ev["event_id"], invitee(1))
    email = "official.1@gov.example.eu"
    strict = dataclasses.replace(invitations_settings, jwt_require_verified_email=True)
    with running_app(create_app, strict) as app:  # the same database
        client = app.test_client()
        verified = auth("participant", country="LV", email=email)
        for claimed in (
            auth("participant", country="LV", email=email, email_verified=False),
            auth("participant", country="LV", email=email, email_verified=None),
        ):
            assert client.get("/v1/invitations", headers=claimed).json["total"] == 0
            assert client.get(f"/v1/invitations/{mine['id']}", headers=claimed).status_code == 404
            listed = client.get(f"/v1/events/{ev['event_id']}/invitations", headers=claimed)
            assert listed.json["total"] == 0
        own = client.get("/v1/invitations", headers=verified).json["items"]
        assert [i["id"] for i in own] == [mine["id"]]
        assert client.get(f"/v1/invitations/{mine['id']}", headers=verified).status_code == 200


def test_wrong_callers_for_every_endpoint(
    invitations_client, invitations_app, invitations_published_event
):
    ev = invitations_published_event()
    url = f"/v1/events/{ev['event_id']}/invitations"
    [mine, theirs] = _invite(
        invitations_client, ev["event_id"], invitee(1), invitee(2, country="FI", email="fi@gov.fi")
    )
    me = auth("participant", country="LV", email="Official.1@gov.example.eu")
    colleague = auth("participant", country="LV", email="someone.else@gov.example.eu")
    finn = auth("participant", country="FI", email="fi@gov.fi")
    partner = auth("partner")
    # inviting: secretariat only
    assert invitations_client.post(url, json=invitee(9)).status_code == 401
    for who in (me, partner):
        assert invitations_client.post(url, json=invitee(9), headers=who).status_code == 403
    # listing: anonymous refused; others see only their own, without counts
    assert invitations_client.get(url).status_code == 401
    own = invitations_client.get(url, headers=me).json
    assert [i["id"] for i in own["items"]] == [mine["id"]] and "counts" not in own
    assert invitations_client.get(url, headers=colleague).json["total"] == 0
    assert invitations_client.get(url, headers=partner).json["total"] == 0
    assert invitations_client.get("/v1/invitations").status_code == 401
    assert [
        i["id"] for i in invitations_client.get("/v1/invitations", headers=me).json["items"]
    ] == [mine["id"]]
    # one invitation: own yes; another person's or another country's: 404
    assert invitations_client.get(f"/v1/invitations/{mine['id']}").status_code == 401
    assert invitations_client.get(f"/v1/invitations/{mine['id']}", headers=me).status_code == 200
    assert (
        invitations_client.get(f"/v1/invitations/{mine['id']}", headers=colleague).status_code
        == 404
    )
    assert invitations_client.get(f"/v1/invitations/{mine['id']}", headers=finn).status_code == 404
    assert invitations_client.get(f"/v1/invitations/{theirs['id']}", headers=me).status_code == 404
    assert invitations_client.get(f"/v1/invitations/{theirs['id']}", headers=SEC).status_code == 200
    # secretariat-only actions
    for path, body in [
        (f"/v1/invitations/{mine['id']}/revoke", None),
        (f"/v1/invitations/{mine['id']}/resend", None),
        (f"/v1/invitations/{mine['id']}/response", {"response": "accept"}),
    ]:
        assert invitations_client.post(path, json=body).status_code == 401
        assert invitations_client.post(path, json=body, headers=me).status_code == 403
    assert invitations_client.get(f"/v1/invitations/{mine['id']}/history").status_code == 401
    assert (
        invitations_client.get(f"/v1/invitations/{mine['id']}/history", headers=me).status_code
        == 403
    )
    assert invitations_client.get("/v1/invitations/nope", headers=SEC).status_code == 404
    # a bad token is refused, never downgraded to anonymous
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert invitations_client.get("/v1/rsvp/whatever", headers=bad).status_code == 401
    assert _db(invitations_app).invitations.count_documents({"status": "pending"}) == 2


def test_names_with_control_or_line_separator_characters_are_422_and_others_pass(
    invitations_client, invitations_app, invitations_published_event
):
    """Names reach mail headers: U+2028, CR/LF, U+0085, form feed and bidi
    overrides are refused (422, nothing created); any script, apostrophes, commas
    and angle brackets are names (the mail quotes them)."""
    ev = invitations_published_event()
    url = f"/v1/events/{ev['event_id']}/invitations"
    refused = ["Ana\u2028Bcc: x@evil.example", "Ana\r\nBcc: x@evil.example", "Ana\x85", "A\x0cB"]
    refused.append("Ana \u202egnp.exe")
    for n, name in enumerate(refused):
        response = invitations_client.post(
            url, json={"invitees": [invitee(n, name=name)]}, headers=SEC
        )
        assert response.status_code == 422, name
        assert response.content_type == "application/problem+json"
        assert "name" in response.json["rejected"][0]["errors"], name
    csv_body = 'email,name,country,role\nz@gov.example.eu,"Zoë\u2028Z",LV,expert\n'
    response = invitations_client.post(url, data=csv_body, content_type="text/csv", headers=SEC)
    assert response.status_code == 422
    assert _db(invitations_app).invitations.count_documents({}) == 0
    persian = "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627"  # with ZERO WIDTH NON-JOINER
    accepted = ["Zoë O'Brien", "José María Pérez", "Ζωή Παπαδοπούλου", persian]
    accepted.append("Smith, John <john@evil.example>")
    people = [invitee(10 + n, name=name) for n, name in enumerate(accepted)]
    assert len(_invite(invitations_client, ev["event_id"], *people)) == len(accepted)
    stored = _db(invitations_app).invitations.find({"event_id": ev["event_id"]})
    assert sorted(doc["name"] for doc in stored) == sorted(accepted)

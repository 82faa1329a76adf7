"""The events API through the Flask test client, against the real Mongo-wire server."""

from __future__ import annotations

import pytest

from devkit.auth import auth
from devkit.samples import event_body

SEC = auth("secretariat")


def _create(events_client, **overrides):
    response = events_client.post("/v1/events", json=event_body(**overrides), headers=SEC)
    assert response.status_code == 201, response.json
    return response.json


def _published(events_client, **overrides):
    event = _create(events_client, **overrides)
    response = events_client.post(f"/v1/events/{event['id']}/publish", headers=SEC)
    assert response.status_code == 200
    return response.json


def _outbox(events_app):
    return list(events_app.extensions["mlp"].db.outbox.find({}, sort=[("_id", 1)]))


def test_create_stores_the_event_and_its_outbox_record(events_client, events_app):
    response = events_client.post("/v1/events", json=event_body(), headers=SEC)
    assert response.status_code == 201
    event = response.json
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/events/{event['id']}"
    assert event["status"] == "draft"
    assert event["guest_countries"] == ["LV", "FI", "PT"]
    [record] = _outbox(events_app)
    assert record["topic"] == "event.created"
    assert record["key"] == event["id"]
    assert record["payload"]["event_id"] == event["id"]
    assert record["payload"]["title"] == event["title"]


def test_get_returns_the_event_with_etag(events_client):
    event = _create(events_client)
    response = events_client.get(f"/v1/events/{event['id']}", headers=SEC)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.json["title"] == event["title"]
    cached = events_client.get(f"/v1/events/{event['id']}", headers={**SEC, "If-None-Match": '"1"'})
    assert cached.status_code == 304
    assert cached.get_data() == b""
    stale = events_client.get(f"/v1/events/{event['id']}", headers={**SEC, "If-None-Match": '"0"'})
    assert stale.status_code == 200


def test_lifecycle_and_its_announcements(events_client, events_app):
    event = _create(events_client)
    eid = event["id"]
    assert events_client.post(f"/v1/events/{eid}/complete", headers=SEC).status_code == 409
    published = events_client.post(f"/v1/events/{eid}/publish", headers=SEC)
    assert published.json["status"] == "published"
    assert published.json["published_at"]
    again = events_client.post(f"/v1/events/{eid}/publish", headers=SEC)
    assert again.status_code == 409
    assert again.content_type == "application/problem+json"
    assert again.json["type"] == "/problems/illegal-transition"
    cancelled = events_client.post(
        f"/v1/events/{eid}/cancel", json={"reason": "Host withdrew"}, headers=SEC
    )
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["cancellation_reason"] == "Host withdrew"
    assert events_client.post(f"/v1/events/{eid}/complete", headers=SEC).status_code == 409
    assert (
        events_client.patch(f"/v1/events/{eid}", json={"title": "Late"}, headers=SEC).status_code
        == 409
    )
    records = _outbox(events_app)
    assert [r["topic"] for r in records] == ["event.created", "event.published", "event.cancelled"]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[-1]["payload"]["reason"] == "Host withdrew"


def test_complete_after_publish(events_client):
    event = _published(events_client)
    done = events_client.post(f"/v1/events/{event['id']}/complete", headers=SEC)
    assert done.status_code == 200
    assert done.json["status"] == "completed"


def test_patch_with_if_match(events_client, events_app):
    event = _create(events_client)
    url = f"/v1/events/{event['id']}"
    stale = events_client.patch(url, json={"title": "Renamed"}, headers={**SEC, "If-Match": '"9"'})
    assert stale.status_code == 412
    assert stale.json["current_etag"] == '"1"'
    ok = events_client.patch(
        url, json={"title": "Renamed", "capacity": 25}, headers={**SEC, "If-Match": '"1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["ETag"] == '"2"'
    assert ok.json["title"] == "Renamed"
    assert ok.json["summary"] == event["summary"]  # untouched fields stay
    updated = _outbox(events_app)[-1]
    assert updated["topic"] == "event.updated"
    assert updated["payload"]["changed"] == ["capacity", "title"]
    # The stale writer loses again: its ETag is now two versions old.
    assert (
        events_client.patch(
            url, json={"title": "Stale edit"}, headers={**SEC, "If-Match": '"1"'}
        ).status_code
        == 412
    )


def test_patch_that_changes_nothing_announces_nothing(events_client, events_app):
    event = _create(events_client)
    same = events_client.patch(
        f"/v1/events/{event['id']}", json={"title": event["title"]}, headers=SEC
    )
    assert same.status_code == 200
    assert same.headers["ETag"] == '"1"'
    assert len(_outbox(events_app)) == 1


def test_patch_is_validated_against_the_merged_event(events_client, events_app):
    event = _create(events_client)
    response = events_client.patch(
        f"/v1/events/{event['id']}", json={"guest_countries": ["EE"]}, headers=SEC
    )
    assert response.status_code == 422
    assert "guest_countries" in response.json["errors"]
    assert events_client.get(f"/v1/events/{event['id']}", headers=SEC).json["guest_countries"] == [
        "LV",
        "FI",
        "PT",
    ]
    assert len(_outbox(events_app)) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (event_body(host_country="ZZ"), 422, "host_country"),
        (
            event_body(
                guest_countries=["LV", "LT", "FI", "SE", "DK", "NO", "PL", "DE", "FR", "BE", "NL"]
            ),
            422,
            "guest_countries",
        ),
        (event_body(ends_on="2027-03-01"), 422, "ends_on"),
        (event_body(registration_deadline="2027-03-12T00:00:00Z"), 422, "registration_deadline"),
        (event_body(starts_on="tomorrow"), 422, "starts_on"),
        ({**event_body(), "owner": "me"}, 422, "owner"),
        ({"title": "x"}, 422, "format"),
        ([], 422, None),
    ],
)
def test_bad_input_is_a_problem_not_a_500(events_client, events_app, body, status, field):
    response = events_client.post("/v1/events", json=body, headers=SEC)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == status
    if field:
        assert field in response.json["errors"]
    assert _outbox(events_app) == []


def test_malformed_json_is_400(events_client):
    response = events_client.post(
        "/v1/events", data='{"title": ', content_type="application/json", headers=SEC
    )
    assert response.status_code == 400
    assert response.json["type"] == "/problems/bad-request"


def test_huge_body_is_413(events_client):
    response = events_client.post(
        "/v1/events",
        data='{"title": "' + "x" * (2 * 1024 * 1024) + '"}',
        content_type="application/json",
        headers=SEC,
    )
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-jwt"}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        (auth("participant", country="EE"), 403),
        (auth("partner"), 403),
    ],
)
def test_only_the_secretariat_writes(events_client, headers, status):
    event = _create(events_client)
    for method, url in [
        ("post", "/v1/events"),
        ("patch", f"/v1/events/{event['id']}"),
        ("post", f"/v1/events/{event['id']}/publish"),
        ("post", f"/v1/events/{event['id']}/cancel"),
        ("post", f"/v1/events/{event['id']}/complete"),
    ]:
        response = getattr(events_client, method)(url, json={"title": "Hijack"}, headers=headers)
        assert response.status_code == status, (method, url)
        assert response.content_type == "application/problem+json"
    assert events_client.get(f"/v1/events/{event['id']}", headers=SEC).json["status"] == "draft"


def test_expired_token_is_401(events_client):
    from devkit.auth import JWT_SECRET
    from shared.auth import mint_token

    expired = mint_token(JWT_SECRET, "u", ["secretariat"], ttl_seconds=-10)
    response = events_client.get("/v1/events", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert "expired" in response.json["detail"].lower()


def test_unknown_route_and_method_are_problems(events_client):
    assert events_client.get("/v1/nothing-here").json["type"] == "/problems/not-found"
    assert events_client.delete("/v1/events").status_code == 405
    assert events_client.get("/v1/events/does-not-exist").status_code == 404


def test_anonymous_visitors_see_only_published_public_events(events_client):
    draft = _create(events_client)
    public = _published(events_client)
    private = _published(events_client, visibility="invitation_only", host_country="LT")
    listing = events_client.get("/v1/events").json
    assert [e["id"] for e in listing["items"]] == [public["id"]]
    assert listing["total"] == 1
    assert events_client.get(f"/v1/events/{draft['id']}").status_code == 404
    assert events_client.get(f"/v1/events/{private['id']}").status_code == 404
    # An official of a guest country sees the invitation-only event; another does not.
    guest = auth("participant", country="FI")
    assert events_client.get(f"/v1/events/{private['id']}", headers=guest).status_code == 200
    outsider = auth("participant", country="DE")
    assert events_client.get(f"/v1/events/{private['id']}", headers=outsider).status_code == 404
    assert events_client.get("/v1/events", headers=SEC).json["total"] == 3


def test_catalogue_filters_sort_and_pages(events_client):
    a = _published(
        events_client,
        title="Gender pay gap law",
        format="good_practice_seminar",
        programme="gender_equality",
        host_country="BE",
        guest_countries=["FR"],
        starts_on="2027-05-03",
        ends_on="2027-05-04",
        registration_deadline="2027-04-01T12:00:00Z",
        tags=["pay"],
    )
    b = _published(
        events_client,
        title="PES events_client service model",
        host_country="LT",
        guest_countries=["EE", "LV"],
        starts_on="2027-06-01",
        ends_on="2027-06-02",
        registration_deadline="2027-05-01T12:00:00Z",
        tags=["public employment services"],
    )
    c = _published(events_client)  # OSKA, EE host, 2027-03-10
    _create(events_client, title="Draft only")

    def ids(query):
        response = events_client.get(f"/v1/events?{query}")
        assert response.status_code == 200, response.json
        return [e["id"] for e in response.json["items"]]

    assert ids("") == [c["id"], a["id"], b["id"]]
    assert ids("sort=-starts_on") == [b["id"], a["id"], c["id"]]
    assert ids("sort=title") == [a["id"], b["id"], c["id"]]
    assert ids("country=EE") == [c["id"], b["id"]]  # host or guest
    assert ids("programme=gender_equality") == [a["id"]]
    assert ids("format=good_practice_seminar") == [a["id"]]
    assert ids("from=2027-05-04") == [a["id"], b["id"]]
    assert ids("to=2027-05-03") == [c["id"], a["id"]]
    assert ids("q=forecast") == [c["id"]]
    assert ids("q=gender%20pay") == [a["id"]]
    assert ids("q=employment") == [b["id"]]  # a tag word
    assert ids("q=gender%20pay") == [a["id"]]
    assert ids("q=employment") == [b["id"]]  # a tag word
    assert ids("q=PES%20client") == [b["id"]]
    assert ids("q=nothing-matches-this") == []
    assert ids("status=draft") == []  # anonymous never sees drafts
    page = events_client.get("/v1/events?page=2&page_size=2").json
    assert page["total"] == 3
    assert [e["id"] for e in page["items"]] == [b["id"]]
    assert events_client.get("/v1/events?page_size=501").status_code == 422
    assert events_client.get("/v1/events?country=Narnia").status_code == 422
    assert events_client.get("/v1/events?sort=-password").status_code == 422


def test_openapi_document_lists_the_routes(events_client):
    spec = events_client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/v1/events", "/v1/events/{event_id}", "/v1/events/{event_id}/publish"):
        assert path in spec["paths"]


def test_health_readiness_and_metrics(events_client):
    assert events_client.get("/healthz").json["status"] == "ok"
    ready = events_client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"mongo": "ok", "kafka": "ok"}
    events_client.get("/v1/events")
    metrics = events_client.get("/metrics").get_data(as_text=True)
    assert "mlp_http_request_seconds" in metrics


def test_follows_up_names_earlier_known_events_and_travels_in_the_payload(
    events_client, events_app
):
    review = _create(
        events_client,
        starts_on="2016-10-11",
        ends_on="2016-10-12",
        registration_deadline="2016-09-20T17:00:00+02:00",
    )
    body = dict(
        title="Dissemination seminar: the Gender Pay Gap Law at home",
        starts_on="2017-03-02",
        ends_on="2017-03-02",
        registration_deadline="2017-02-20T17:00:00+01:00",
        format="dissemination_seminar",
        guest_countries=[],
    )
    follow = _create(events_client, follows_up=[review["id"]], **body)
    assert follow["follows_up"] == [review["id"]]
    record = _outbox(events_app)[-1]
    assert record["topic"] == "event.created" and record["payload"]["follows_up"] == [review["id"]]
    # an event made earlier than what it follows up, an unknown id, itself, twice, too many
    bad = {
        "later": dict(
            body,
            follows_up=[follow["id"]],
            starts_on="2016-01-05",
            ends_on="2016-01-05",
            registration_deadline="2016-01-01T12:00:00Z",
        ),
        "unknown": dict(body, follows_up=["no-such-event"]),
        "twice": dict(body, follows_up=[review["id"], review["id"]]),
        "too many": dict(body, follows_up=[f"e{i}" for i in range(21)]),
    }
    for name, case in bad.items():
        response = events_client.post("/v1/events", json=event_body(**case), headers=SEC)
        assert response.status_code == 422, name
        assert response.mimetype == "application/problem+json"
        assert "follows_up" in response.json["errors"], (name, response.json)
    itself = events_client.patch(
        f"/v1/events/{follow['id']}", json={"follows_up": [follow["id"]]}, headers=SEC
    )
    assert itself.status_code == 422 and "itself" in str(itself.json["errors"]["follows_up"])
    # moving the follow-up before what it follows up is refused too
    moved = events_client.patch(
        f"/v1/events/{follow['id']}",
        json={
            "starts_on": "2016-01-05",
            "ends_on": "2016-01-05",
            "registration_deadline": "2016-01-01T12:00:00Z",
        },
        headers=SEC,
    )
    assert moved.status_code == 422 and "follows_up" in moved.json["errors"]

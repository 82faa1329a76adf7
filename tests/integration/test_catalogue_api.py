"""The catalogue's practices API, its read model of the programme and its search,
through the Flask test client and the real consumer runner, against the real
Mongo-wire server."""

from __future__ import annotations

import uuid

from devkit.auth import auth
from tests.fixtures.catalogue import (
    SEC,
    practice_body,
    published_practice,
    put_event,
    put_paper,
    relay,
)

PARTNER = auth("partner")


def _outbox(app):
    return list(app.extensions["mlp"].db.outbox.find({}, sort=[("_id", 1)]))


def test_a_practice_goes_from_draft_to_published_and_is_announced_only_then(
    catalogue_client, catalogue_app
):
    response = catalogue_client.post("/v1/practices", json=practice_body(), headers=SEC)
    assert response.status_code == 201
    practice = response.json
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/practices/{practice['id']}"
    assert practice["publication"] == "draft" and practice["status"] == "ongoing"
    url = f"/v1/practices/{practice['id']}"
    assert catalogue_client.get(url).status_code == 404  # drafts are the secretariat's
    assert catalogue_client.get("/v1/practices").json["total"] == 0
    patched = catalogue_client.patch(url, json={"tags": ["pes"]}, headers=SEC)
    assert patched.status_code == 200 and patched.headers["ETag"] == '"2"'
    assert _outbox(catalogue_app) == []  # partners never hear of drafts

    stale = catalogue_client.post(f"{url}/publish", headers={**SEC, "If-Match": '"1"'})
    assert stale.status_code == 412
    published = catalogue_client.post(f"{url}/publish", headers={**SEC, "If-Match": '"2"'})
    assert published.status_code == 200 and published.json["publication"] == "published"
    [record] = _outbox(catalogue_app)
    assert record["topic"] == "practice.published" and record["key"] == practice["id"]
    assert record["payload"]["practice_id"] == practice["id"]
    assert record["payload"]["status"] == "ongoing" and "created_by" not in record["payload"]
    assert catalogue_client.get(url).status_code == 200
    assert catalogue_client.get(url, headers={"If-None-Match": '"3"'}).status_code == 304

    catalogue_client.patch(url, json={"outcomes": "Nationwide since 2017."}, headers=SEC)
    assert _outbox(catalogue_app)[-1]["topic"] == "practice.updated"
    withdrawn = catalogue_client.post(f"{url}/withdraw", headers=SEC)
    assert withdrawn.json["publication"] == "withdrawn"
    assert _outbox(catalogue_app)[-1]["topic"] == "practice.withdrawn"
    again = catalogue_client.post(f"{url}/withdraw", headers=SEC)
    assert again.status_code == 409
    assert again.json["type"] == "/problems/illegal-transition"
    assert again.json["current_status"] == "withdrawn"
    assert catalogue_client.patch(url, json={"tags": []}, headers=SEC).status_code == 409


def test_bad_practices_and_transfers_are_clear_4xx_problems(catalogue_client, deliver_to_catalogue):
    cases = {
        "unknown field": practice_body(colour="blue"),
        "bad area": practice_body(policy_area="astrology"),
        "bad country": practice_body(country="XX"),
        "ends first": practice_body(start_year=2017, end_year=2015),
        "ended without end": practice_body(status="ended"),
        "tag twice": practice_body(tags=["pes", "PES"]),
        "unknown event": practice_body(events=["no-such-event"]),
        "unknown paper": practice_body(papers=["no-such-paper"]),
    }
    for name, body in cases.items():
        response = catalogue_client.post("/v1/practices", json=body, headers=SEC)
        assert response.status_code == 422, (name, response.json)
        assert response.mimetype == "application/problem+json", name
        assert response.json["errors"], name
    assert catalogue_client.post("/v1/practices", json=practice_body()).status_code == 401
    assert (
        catalogue_client.post("/v1/practices", json=practice_body(), headers=PARTNER).status_code
        == 403
    )
    practice = published_practice(catalogue_client)
    url = f"/v1/practices/{practice['id']}/transfers"
    for body in (
        {"country": "LV", "stage": "copied", "year": 2017},
        {"country": "LV", "stage": "adopted"},
        {"country": "LV", "stage": "adopted", "year": 2017, "event_id": "no-such-event"},
        {"country": "LV", "stage": "adopted", "year": 1066},
    ):
        response = catalogue_client.post(url, json=body, headers=SEC)
        assert response.status_code == 422, (body, response.json)
    assert (
        catalogue_client.post(
            "/v1/practices/nope/transfers",
            json={"country": "LV", "stage": "adopted", "year": 2017},
            headers=SEC,
        ).status_code
        == 404
    )
    assert catalogue_client.get("/v1/search?year=abc").status_code == 422
    assert catalogue_client.get("/v1/search?type=person").status_code == 422
    assert catalogue_client.get("/v1/practices?sort=colour").status_code == 422


def test_a_transfer_is_recorded_announced_and_listed(
    catalogue_client, catalogue_app, deliver_to_catalogue
):
    event_id = put_event(deliver_to_catalogue, title="Lithuania's PES client-service model")
    practice = published_practice(catalogue_client, events=[event_id])
    url = f"/v1/practices/{practice['id']}/transfers"
    body = {
        "country": "LT",
        "stage": "adopted",
        "year": 2017,
        "event_id": event_id,
        "note": "Rolled out nationwide after a pilot in three offices.",
    }
    response = catalogue_client.post(url, json=body, headers=SEC)
    assert response.status_code == 201
    [transfer] = response.json["transfers"]
    assert transfer["stage"] == "adopted" and transfer["year"] == 2017 and transfer["transfer_id"]
    record = _outbox(catalogue_app)[-1]
    assert record["topic"] == "practice.transfer_recorded"
    assert record["payload"]["transfer"]["country"] == "LT"
    assert [t["year"] for t in record["payload"]["transfers"]] == [2017]
    listed = catalogue_client.get(f"/v1/practices?event_id={event_id}&year=2016").json
    assert [p["id"] for p in listed["items"]] == [practice["id"]]
    assert catalogue_client.get("/v1/practices?year=2014").json["total"] == 0
    assert catalogue_client.get("/v1/practices?q=profiling&country=LT").json["total"] == 1


def test_the_read_model_shows_only_what_the_public_may_see(
    catalogue_client, catalogue_app, deliver_to_catalogue
):
    public = put_event(
        deliver_to_catalogue,
        title="OSKA skills forecasting",
        host_country="EE",
        summary="Sector panels anticipate skills needs.",
    )
    closed = put_event(
        deliver_to_catalogue,
        title="Closed peer review on apprenticeships",
        visibility="invitation_only",
        summary="Apprenticeship guarantee.",
    )
    cancelled = put_event(
        deliver_to_catalogue, title="Cancelled seminar on carers", summary="Informal carers."
    )
    deliver_to_catalogue(
        "event.cancelled",
        {**_event_of(catalogue_app, cancelled), "status": "cancelled", "version": 2},
    )
    draft_paper = put_paper(
        deliver_to_catalogue, public, title="OSKA discussion paper", status="withdrawn"
    )
    paper = put_paper(
        deliver_to_catalogue,
        public,
        title="OSKA host country paper",
        kind="host_country_paper",
        country="EE",
    )

    def ids(**query):
        return {
            (i["type"], i["id"])
            for i in catalogue_client.get("/v1/search", query_string=query).json["items"]
        }

    assert ids(q="skills") == {("event", public), ("paper", paper)}
    assert ids(q="apprenticeship") == set()  # invitation-only, not completed
    assert ids(q="carers") == set()  # cancelled
    assert ("paper", draft_paper) not in ids(q="oska")
    # the invitation-only event becomes public once completed, with its papers
    closed_paper = put_paper(deliver_to_catalogue, closed, title="Apprenticeship paper")
    assert ids(q="apprenticeship") == set()
    deliver_to_catalogue(
        "event.completed", {**_event_of(catalogue_app, closed), "status": "completed", "version": 2}
    )
    assert ids(q="apprenticeship") == {("event", closed), ("paper", closed_paper)}
    # a stale record changes nothing; a withdrawn paper leaves the search
    deliver_to_catalogue(
        "event.published", {**_event_of(catalogue_app, closed), "status": "published", "version": 1}
    )
    assert ("event", closed) in ids(q="apprenticeship")
    put_paper(
        deliver_to_catalogue,
        public,
        document_id=paper,
        revision=2,
        status="withdrawn",
        title="OSKA host country paper",
        kind="host_country_paper",
        country="EE",
    )
    after = ids(q="oska")
    assert ("event", public) in after and ("paper", paper) not in after


def _event_of(app, event_id):
    """The payload that produced the read model's copy (to send a later version of it)."""
    from devkit.samples import event_payload

    doc = app.extensions["mlp"].db.events.find_one({"_id": event_id})
    keep = {k: doc[k] for k in ("title", "summary", "visibility", "host_country") if k in doc}
    return event_payload(event_id, **keep)


def test_search_ranks_across_events_papers_and_practices_with_facets(
    catalogue_client, catalogue_app, deliver_to_catalogue
):
    review = put_event(
        deliver_to_catalogue,
        title="Lithuania's PES client-service model",
        summary="Peer review of segmented client services with case managers.",
        host_country="LT",
        guest_countries=["EE", "PL"],
        starts_on="2016-04-08",
        ends_on="2016-04-09",
        status="completed",
    )
    other = put_event(
        deliver_to_catalogue,
        title="Skills forecasting in Estonia",
        summary="Sector panels; no client services.",
        host_country="EE",
        starts_on="2017-10-15",
        ends_on="2017-10-16",
    )
    paper = put_paper(
        deliver_to_catalogue,
        review,
        title="Host country discussion paper",
        kind="host_country_paper",
        country="LT",
    )
    practice = published_practice(catalogue_client, events=[review])
    assert relay(catalogue_app, deliver_to_catalogue) == 1

    result = catalogue_client.get("/v1/search?q=segmented").json
    found = {(i["type"], i["id"]) for i in result["items"]}
    assert found == {("event", review), ("paper", paper), ("practice", practice["id"])}
    assert result["facets"]["type"] == {"event": 1, "paper": 1, "practice": 1}
    assert result["facets"]["country"]["LT"] == 3
    assert result["facets"]["year"] == {"2016": 2, "2015": 1}
    assert result["facets"]["policy_area"] == {"labour_market_services": 3}
    by_type = {i["type"]: i for i in result["items"]}
    assert by_type["paper"]["content_url"].endswith(f"/v1/documents/{paper}/content")
    assert by_type["event"]["url"].endswith(f"/events/{review}")
    # a title word outranks a summary word; every word must match
    ranked = catalogue_client.get("/v1/search?q=client services").json["items"]
    assert ranked[0]["id"] in {review, practice["id"]}
    assert other in {i["id"] for i in ranked}
    assert [i["score"] for i in ranked] == sorted((i["score"] for i in ranked), reverse=True)
    assert catalogue_client.get("/v1/search?q=client+astrology").json["total"] == 0
    # filters, in any language of the country and area names, accents folded
    assert (
        catalogue_client.get("/v1/search?country=LT&type=practice").json["items"][0]["id"]
        == practice["id"]
    )
    for words in ("Lituanie", "Litauen", "LITHUANIA", "lituanié", "Services du marché"):
        hits = {
            i["id"]
            for i in catalogue_client.get("/v1/search", query_string={"q": words}).json["items"]
        }
        assert practice["id"] in hits, words
    assert catalogue_client.get("/v1/search?format=peer_review&year=2016").json["total"] == 2
    assert catalogue_client.get("/v1/search?country=PL").json["total"] == 2  # a guest
    page = catalogue_client.get("/v1/search?page_size=1&page=2&sort=date").json
    assert page["total"] == 4 and len(page["items"]) == 1 and page["page"] == 2
    # withdrawing the practice removes it (and its words from the event)
    catalogue_client.post(f"/v1/practices/{practice['id']}/withdraw", headers=SEC)
    relay(catalogue_app, deliver_to_catalogue)
    assert {
        i["type"] for i in catalogue_client.get("/v1/search?q=profiling").json["items"]
    } == set()


def test_similar_practices_share_area_and_target_groups_ranked_by_tags(catalogue_client):
    base = published_practice(catalogue_client, tags=["pes", "profiling", "digital"])
    close = published_practice(
        catalogue_client,
        title="Estonian PES profiling",
        country="EE",
        tags=["profiling", "digital"],
    )
    far = published_practice(
        catalogue_client,
        title="Polish PES reform",
        country="PL",
        tags=["reform"],
        target_groups=["jobseekers"],
    )
    published_practice(
        catalogue_client,
        title="Youth guarantee",
        country="FI",
        target_groups=["young_people"],
        tags=["profiling"],
    )
    published_practice(
        catalogue_client,
        title="Gender pay gap law",
        country="BE",
        policy_area="gender_equality",
        target_groups=["jobseekers"],
    )
    similar = catalogue_client.get(f"/v1/practices/{base['id']}/similar").json["items"]
    assert [p["id"] for p in similar] == [close["id"], far["id"]]
    assert similar[0]["shared_tags"] == 2
    assert catalogue_client.get(f"/v1/practices/{uuid.uuid4()}/similar").status_code == 404

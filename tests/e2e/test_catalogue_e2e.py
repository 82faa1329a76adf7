"""The catalogue end to end: events, documents and catalogue as real processes
(gunicorn web + worker), real Kafka and MongoDB. A peer review is published with
its practice, its discussion paper is published, the review is completed, a
learning exchange follows it up and a transfer "LT adopted 2017" is recorded: the
search finds the event, the paper and the practice by a word of the summary and
by country, the pages show the follow-up both ways and the timeline, the paper
downloads from the documents service, and withdrawing it removes it from search."""

from __future__ import annotations

import io
import re

import requests

from devkit.auth import auth
from devkit.kafka import collect, partner_consumer
from devkit.samples import event_body
from devkit.waiting import wait_until
from tests.fixtures.catalogue import practice_body
from tests.fixtures.documents import PDF_BYTES

SEC = auth("secretariat")


def _found(base: str, **query: str) -> set[tuple[str, str]]:
    items = requests.get(f"{base}/v1/search", params=query, timeout=10).json()["items"]
    return {(item["type"], item["id"]) for item in items}


def _transition(url: str, action: str) -> dict:
    """``action`` on the resource at ``url``, bound to the version just read (If-Match)."""
    etag = requests.get(url, headers=SEC, timeout=10).headers["ETag"]
    response = requests.post(f"{url}/{action}", headers={**SEC, "If-Match": etag}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_peer_review_its_practice_paper_and_follow_up_reach_the_public_catalogue(
    start_service, topics
):
    events = start_service("events", topics)
    documents = start_service("documents", topics)
    catalogue = start_service("catalogue", topics, {"MLP_DOCUMENTS_PUBLIC_URL": documents.base_url})
    partner = partner_consumer(topics, "practice.transfer_recorded")
    site = catalogue.base_url

    review = requests.post(
        f"{events.base_url}/v1/events",
        json=event_body(
            title="Lithuania's PES client-service model",
            summary="Peer review of the segmented client-service model of the Lithuanian "
            "Employment Service.",
            host_country="LT",
            guest_countries=["EE", "LV", "DE"],
            starts_on="2016-04-08",
            ends_on="2016-04-09",
            registration_deadline="2016-03-14T17:00:00+02:00",
            timezone="Europe/Vilnius",
            venue={"city": "Vilnius", "country": "LT", "online": False},
            visibility="invitation_only",
            tags=["pes", "profiling"],
        ),
        headers=SEC,
        timeout=10,
    ).json()
    review_url = f"{events.base_url}/v1/events/{review['id']}"
    _transition(review_url, "publish")

    # the practice presented there: the catalogue learns of the event from event.*
    body = practice_body(events=[review["id"]])
    created = wait_until(
        lambda: (
            r
            if (
                r := requests.post(f"{site}/v1/practices", json=body, headers=SEC, timeout=10)
            ).status_code
            == 201
            else None
        ),
        timeout_s=60,
    )
    assert created, "the catalogue never learnt of the peer review"
    practice = created.json()
    practice_url = f"{site}/v1/practices/{practice['id']}"
    _transition(practice_url, "publish")

    # its discussion paper, published by the documents service
    upload = wait_until(
        lambda: (
            r
            if (
                r := requests.post(
                    f"{documents.base_url}/v1/events/{review['id']}/documents",
                    data={
                        "kind": "discussion_paper",
                        "title": "Discussion paper on segmented client services",
                        "language": "en",
                        "country": "LT",
                    },
                    files={"file": ("discussion-paper.pdf", io.BytesIO(PDF_BYTES))},
                    headers=SEC,
                    timeout=30,
                )
            ).status_code
            == 201
            else None
        ),
        timeout_s=60,
    )
    assert upload, "the documents service never learnt of the peer review"
    paper = upload.json()
    paper_url = f"{documents.base_url}/v1/documents/{paper['id']}"
    for action in ("submit", "approve", "publish"):
        _transition(paper_url, action)

    # invitation-only: not in the public catalogue until it took place
    assert wait_until(lambda: ("practice", practice["id"]) in _found(site, q="segmented"))
    assert ("event", review["id"]) not in _found(site, q="segmented")
    _transition(review_url, "complete")

    # a learning exchange follows it up; Lithuania adopted the model in 2017
    exchange = requests.post(
        f"{events.base_url}/v1/events",
        json=event_body(
            title="Learning exchange: case management after the Lithuanian model",
            summary="Estonia and Latvia study the client-service model in practice.",
            format="learning_exchange",
            host_country="EE",
            guest_countries=["LV", "LT"],
            starts_on="2017-05-02",
            ends_on="2017-05-03",
            registration_deadline="2017-04-10T17:00:00+03:00",
            follows_up=[review["id"]],
        ),
        headers=SEC,
        timeout=10,
    ).json()
    assert exchange["follows_up"] == [review["id"]]
    _transition(f"{events.base_url}/v1/events/{exchange['id']}", "publish")
    transfer = requests.post(
        f"{practice_url}/transfers",
        json={
            "country": "LT",
            "stage": "adopted",
            "year": 2017,
            "event_id": review["id"],
            "note": "Piloted in three offices, then rolled out nationwide.",
        },
        headers=SEC,
        timeout=10,
    )
    assert transfer.status_code == 201, transfer.text

    wanted = {("event", review["id"]), ("paper", paper["id"]), ("practice", practice["id"])}
    assert wait_until(lambda: wanted <= _found(site, q="segmented"), timeout_s=60)
    assert wanted <= _found(site, country="LT")
    assert wanted <= _found(site, q="Lituanie segmented")  # the country's name, in French
    facets = requests.get(f"{site}/v1/search", params={"q": "segmented"}, timeout=10).json()
    assert facets["facets"]["type"] == {"event": 1, "paper": 1, "practice": 1}

    # the pages: the follow-up both ways, the timeline, the paper's download
    assert wait_until(
        lambda: (
            "Learning exchange: case management"
            in requests.get(f"{site}/events/{review['id']}", timeout=10).text
        )
    )
    event_page = requests.get(f"{site}/events/{review['id']}", timeout=10).text
    download = f"{documents.base_url}/v1/documents/{paper['id']}/content"
    assert download in event_page
    assert requests.get(download, timeout=10).content == PDF_BYTES
    follow_page = requests.get(f"{site}/events/{exchange['id']}?lang=de", timeout=10).text
    assert (
        "Woran sie anknüpft" in follow_page and review["title"].replace("'", "&#39;") in follow_page
    )
    assert wait_until(
        lambda: "adopted" in requests.get(f"{site}/practices/{practice['id']}", timeout=10).text
    )
    page = requests.get(f"{site}/practices/{practice['id']}", timeout=10).text
    timeline = page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    assert re.search(r"2017</span>\s*<strong><a [^>]*>Lithuania</a>: adopted", timeline), timeline
    records = collect(partner, lambda rs: any(r.key == practice["id"].encode() for r in rs))
    assert any(b'"stage": "adopted"' in r.value or b'"stage":"adopted"' in r.value for r in records)

    # withdrawing the paper takes it out of the search
    _transition(paper_url, "withdraw")
    assert wait_until(lambda: ("paper", paper["id"]) not in _found(site, q="segmented"))
    assert ("event", review["id"]) in _found(site, q="segmented")
    partner.close()

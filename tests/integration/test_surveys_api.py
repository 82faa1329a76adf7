"""The surveys service's HTTP API against the real Mongo-wire server: the
question bank, opening and closing, the participant's link (JSON and the HTML
form), refusals that store nothing, results with suppression, CSV and SVG,
who sees what, and the programme's aggregates against a hand computation."""

from __future__ import annotations

import csv
import io
import uuid
import xml.etree.ElementTree as ET

import pytest

from devkit.auth import auth
from devkit.samples import event_payload
from tests.fixtures.surveys import SEC, answers, completed_event, links, token_of

SVG = "{http://www.w3.org/2000/svg}"


def _db(app):
    return app.extensions["mlp"].db


def _snapshot(app):
    db = _db(app)
    return {
        name: sorted(db[name].find(), key=lambda d: str(d["_id"]))
        for name in ("surveys", "respondents", "responses", "outbox")
    }


def _open_with(client, deliver, countries, **fields):
    event_id, ids = completed_event(deliver, countries, **fields)
    urls = links(client.application, event_id)
    return event_id, [token_of(urls[i]) for i in ids]


def test_the_bank_in_three_languages(surveys_client):
    for lang, word in (("en", "knowledge"), ("fr", "connaissances"), ("de", "Wissen")):
        body = surveys_client.get(f"/v1/survey-questions?lang={lang}").json
        assert body["language"] == lang
        ids = [q["id"] for q in body["items"]]
        assert ids == [
            "knowledge",
            "understanding",
            "needs_matched",
            "overall",
            "use_learning",
            "explore_further",
            "next_steps",
        ]
        assert word in body["items"][0]["text"]
        assert [o["id"] for o in body["items"][0]["options"]] == [1, 2, 3, 4, 5]
    browser = surveys_client.get("/v1/survey-questions", headers={"Accept-Language": "de-AT"})
    assert browser.json["language"] == "de"
    assert surveys_client.get("/v1/survey-questions?lang=xx").status_code == 422


def test_completion_opens_the_survey_and_each_link_answers_once(
    surveys_client, surveys_app, deliver_to_surveys
):
    event_id, tokens = _open_with(surveys_client, deliver_to_surveys, ["LT", "LT", "DE"])
    survey = surveys_client.get(f"/v1/events/{event_id}/survey", headers=SEC).json
    assert survey["status"] == "open" and survey["invited"] == 3 and survey["responses"] == 0
    url = f"/v1/survey-responses/{tokens[0]}"
    before = _snapshot(surveys_app)
    shown = surveys_client.get(f"{url}?lang=fr")
    assert shown.status_code == 200 and shown.json["can_answer"]
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert shown.json["questions"][0]["text"].startswith("Les activités")
    surveys_client.get(url, headers={"Accept": "text/html"})
    assert _snapshot(surveys_app) == before  # GET changes nothing
    submitted = surveys_client.post(url, json=answers(5))
    assert submitted.status_code == 201, submitted.json
    again = surveys_client.post(url, json=answers(5))
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert surveys_client.get(url).json["answered"] is True
    unknown = surveys_client.post("/v1/survey-responses/nope", json=answers())
    assert unknown.status_code == 404
    survey = surveys_client.get(f"/v1/events/{event_id}/survey", headers=SEC).json
    assert survey["responses"] == 1
    closed = surveys_client.post(f"/v1/events/{event_id}/survey/close", headers=SEC)
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    late = surveys_client.post(f"/v1/survey-responses/{tokens[1]}", json=answers())
    assert late.status_code == 410
    assert surveys_client.get(f"/v1/survey-responses/{tokens[1]}").status_code == 410
    outbox = _db(surveys_app).outbox
    [closed_record] = list(outbox.find({"topic": "survey.closed", "key": event_id}))
    payload = closed_record["payload"]
    assert (payload["invited"], payload["responses"]) == (3, 1)
    assert set(payload) <= {
        "event_id", "status", "invited", "responses", "published", "version", "occurred_at",
        "opened_at", "closes_at", "closed_at", "response_rate",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"knowledge": 6}, "knowledge"),
        ({"knowledge": 0}, "knowledge"),
        ({"knowledge": "4"}, "knowledge"),
        ({"knowledge": True}, "knowledge"),
        ({"overall": None}, "overall"),  # a required answer missing
        ({"use_learning": "maybe"}, "use_learning"),
        ({"next_steps": "x" * 2001}, "next_steps"),
        ({"venue": 3}, "venue"),  # no such question
    ],
)
def test_bad_answers_are_422_and_store_nothing(
    surveys_client, surveys_app, deliver_to_surveys, change, field
):
    _event_id, tokens = _open_with(surveys_client, deliver_to_surveys, ["LT"])
    before = _snapshot(surveys_app)
    response = surveys_client.post(f"/v1/survey-responses/{tokens[0]}", json=answers(**change))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]
    assert _snapshot(surveys_app) == before
    # the link still works
    good = surveys_client.post(f"/v1/survey-responses/{tokens[0]}", json=answers())
    assert good.status_code == 201


def test_malformed_bodies_are_problems(surveys_client, deliver_to_surveys):
    _event_id, tokens = _open_with(surveys_client, deliver_to_surveys, ["LT"])
    url = f"/v1/survey-responses/{tokens[0]}"
    assert surveys_client.post(url, data="{", content_type="application/json").status_code == 400
    assert surveys_client.post(url, json={"answers": "all good"}).status_code == 422
    assert surveys_client.post(url, json={"answers": [], "extra": 1}).status_code == 422
    twice = {"answers": [*answers()["answers"], {"question_id": "knowledge", "value": 1}]}
    assert surveys_client.post(url, json=twice).json["errors"]["knowledge"] == ["Answered twice."]


def test_the_html_form_in_the_participants_language(surveys_client, deliver_to_surveys):
    _event_id, tokens = _open_with(surveys_client, deliver_to_surveys, ["DE"])
    url = f"/v1/survey-responses/{tokens[0]}"
    page = surveys_client.get(url, headers={"Accept": "text/html", "Accept-Language": "de"})
    html = page.get_data(as_text=True)
    assert page.mimetype == "text/html" and '<html lang="de">' in html
    assert "<legend>Die Aktivitäten haben mir" in html
    assert 'name="q.knowledge"' in html and "<fieldset" in html
    form = {
        "lang": "de",
        "q.knowledge": "5",
        "q.understanding": "4",
        "q.needs_matched": "4",
        "q.overall": "5",
        "q.next_steps": "Mehr lernen",
    }
    missing = surveys_client.post(url, data=form, headers={"Accept": "text/html"})
    assert missing.status_code == 422
    text = missing.get_data(as_text=True)
    assert 'role="alert"' in text and 'href="#q-use_learning"' in text
    assert "Mehr lernen" in text  # what was typed stays in the form
    form["q.use_learning"] = "partly"
    done = surveys_client.post(url, data=form, headers={"Accept": "text/html"})
    assert done.status_code == 201 and "Vielen Dank" in done.get_data(as_text=True)
    gone = surveys_client.get("/v1/survey-responses/unknown", headers={"Accept": "text/html"})
    assert gone.status_code == 404 and gone.mimetype == "text/html"


def test_opening_by_hand_needs_a_completed_event(surveys_client, deliver_to_surveys):
    assert surveys_client.post("/v1/events/nope/survey/open", headers=SEC).status_code == 404
    event_id, _ = completed_event(deliver_to_surveys, ["LT"], complete=False)
    refused = surveys_client.post(f"/v1/events/{event_id}/survey/open", headers=SEC)
    assert refused.status_code == 409 and refused.json["event_status"] == "published"
    assert surveys_client.get(f"/v1/events/{event_id}/survey", headers=SEC).status_code == 404
    participant = auth("participant", email="a@example.eu")
    assert surveys_client.post(f"/v1/events/{event_id}/survey/open").status_code == 401
    forbidden = surveys_client.post(f"/v1/events/{event_id}/survey/open", headers=participant)
    assert forbidden.status_code == 403
    deliver_to_surveys("event.completed", event_payload(event_id, version=3, status="completed"))
    again = surveys_client.post(f"/v1/events/{event_id}/survey/open", headers=SEC)
    assert again.status_code == 409 and again.json["current_status"] == "open"


def test_event_questions_before_opening(surveys_client, deliver_to_surveys, surveys_app):
    event_id, ids = completed_event(deliver_to_surveys, ["LT"], complete=False)
    venue = {
        "id": "venue",
        "type": "choice",
        "text": {"en": "How was the venue?", "fr": "Comment était le lieu ?"},
        "options": [
            {"id": "good", "text": {"en": "Good"}},
            {"id": "poor", "text": {"en": "Poor"}},
        ],
        "required": True,
    }
    url = f"/v1/events/{event_id}/survey/questions"
    too_many = [{**venue, "id": f"q{i:02d}"} for i in range(11)]
    assert surveys_client.put(url, json={"questions": too_many}, headers=SEC).status_code == 422
    bank_id = surveys_client.put(url, json={"questions": [{**venue, "id": "overall"}]}, headers=SEC)
    assert bank_id.status_code == 422 and "overall" in bank_id.json["errors"]
    no_options = {**venue, "options": []}
    assert surveys_client.put(url, json={"questions": [no_options]}, headers=SEC).status_code == 422
    saved = surveys_client.put(url, json={"questions": [venue]}, headers=SEC)
    assert saved.status_code == 200 and saved.json["status"] == "draft"
    assert saved.json["questions"][-1]["id"] == "venue"
    deliver_to_surveys("event.completed", event_payload(event_id, version=3, status="completed"))
    token = token_of(links(surveys_app, event_id)[ids[0]])
    shown = surveys_client.get(f"/v1/survey-responses/{token}?lang=fr").json
    assert shown["questions"][-1]["text"] == "Comment était le lieu ?"
    assert shown["questions"][-1]["options"][0]["text"] == "Good"  # English fallback
    needs_venue = surveys_client.post(f"/v1/survey-responses/{token}", json=answers())
    assert needs_venue.status_code == 422 and "venue" in needs_venue.json["errors"]
    ok = surveys_client.post(f"/v1/survey-responses/{token}", json=answers(venue="good"))
    assert ok.status_code == 201
    fixed = surveys_client.put(url, json={"questions": []}, headers=SEC)
    assert fixed.status_code == 409


def _results(client, event_id, headers=SEC, **kw):
    return client.get(f"/v1/events/{event_id}/survey/results", headers=headers, **kw)


def test_results_suppress_small_groups_and_their_complement(
    surveys_client, deliver_to_surveys, surveys_app
):
    countries = ["LT"] * 5 + ["DE"] * 2 + ["FI"] * 6
    event_id, tokens = _open_with(surveys_client, deliver_to_surveys, countries)
    given = [5, 4, 4, 2, 5, 3, 4, 4, 5, 5, 1, 4]  # the last FI does not answer
    for token, agree in zip(tokens, given, strict=False):
        assert (
            surveys_client.post(f"/v1/survey-responses/{token}", json=answers(agree)).status_code
            == 201
        )
    assert (
        surveys_client.post(f"/v1/events/{event_id}/survey/close", headers=SEC).status_code == 200
    )
    body = _results(surveys_client, event_id).json
    assert (body["responses"], body["invited"]) == (12, 13)
    assert body["response_rate"] == round(12 / 13, 4)
    knowledge = body["questions"][0]
    assert knowledge["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 5, "5": 4}
    assert knowledge["agree_share"] == round(9 / 12, 4)
    countries_shown = body["breakdowns"]["country"]
    # DE (2) is too small; hiding it alone would leave it as total - LT - FI,
    # so the smallest shown group (LT and FI have 5: the first by name, FI) is
    # hidden too; LT is shown.
    assert countries_shown["DE"] == {"suppressed": True}
    assert countries_shown["FI"] == {"suppressed": True}
    assert countries_shown["LT"]["responses"] == 5
    assert countries_shown["LT"]["questions"]["knowledge"]["distribution"] == {
        "1": 0, "2": 1, "3": 0, "4": 2, "5": 2,
    }  # fmt: skip
    texts = body["questions"][5]
    assert texts["answers"] == ["Skills forecasting with sector panels."] * 12
    assert set(texts) == {"id", "type", "text", "required", "answered", "answers", "max_length"}
    # CSV
    as_csv = _results(surveys_client, event_id, headers={**SEC, "Accept": "text/csv"})
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    agree = [r for r in rows if r["section"] == "overall" and r["question_id"] == "knowledge"]
    assert {r["option"]: r["count"] for r in agree}["4"] == "5"
    assert [r for r in rows if r["group"] == "DE"] == [
        {**dict.fromkeys(rows[0], ""), "section": "country", "group": "DE", "option": "suppressed"}
    ]


def test_an_open_surveys_results_are_not_shown_even_to_the_secretariat(
    surveys_client, deliver_to_surveys
):
    """Results that moved with each answer would give it away: read before and
    after one submission, their difference is that one answer, and whoever
    knows who just answered (at the closing session, say) knows what they said."""
    event_id, tokens = _open_with(surveys_client, deliver_to_surveys, ["LT"] * 6)
    for token in tokens[:5]:
        assert (
            surveys_client.post(f"/v1/survey-responses/{token}", json=answers(4)).status_code == 201
        )
    base = f"/v1/events/{event_id}/survey/results"
    for path, accept in ((base, "application/json"), (base, "text/csv"), (f"{base}.svg", "*/*")):
        refused = surveys_client.get(path, headers={**SEC, "Accept": accept})
        assert refused.status_code == 409, (path, accept)
        assert refused.content_type == "application/problem+json"
        assert refused.json["type"] == "/problems/survey-open"
        assert refused.json["current_status"] == "open"
    survey = surveys_client.get(f"/v1/events/{event_id}/survey", headers=SEC).json
    assert (survey["status"], survey["responses"], survey["invited"]) == ("open", 5, 6)
    assert (
        surveys_client.post(f"/v1/survey-responses/{tokens[5]}", json=answers(1)).status_code == 201
    )
    assert (
        surveys_client.post(f"/v1/events/{event_id}/survey/close", headers=SEC).status_code == 200
    )
    closed = surveys_client.get(base, headers=SEC)
    assert closed.status_code == 200 and closed.json["responses"] == 6  # fixed from now on


def test_who_sees_results_and_the_chart(surveys_client, deliver_to_surveys):
    event_id, tokens = _open_with(surveys_client, deliver_to_surveys, ["LT"] * 5)
    for token in tokens:
        surveys_client.post(f"/v1/survey-responses/{token}", json=answers(4))
    participant = auth("participant", email="a@example.eu")
    assert _results(surveys_client, event_id, headers={}).status_code == 404
    assert _results(surveys_client, event_id, headers=participant).status_code == 404
    publish = f"/v1/events/{event_id}/survey/results/publish"
    early = surveys_client.post(publish, headers=SEC)
    assert early.status_code == 409  # still open
    surveys_client.post(f"/v1/events/{event_id}/survey/close", headers=SEC)
    assert _results(surveys_client, event_id).status_code == 200
    assert _results(surveys_client, event_id, headers=participant).status_code == 404
    assert surveys_client.post(publish, headers=participant).status_code == 403
    assert surveys_client.post(publish, headers=SEC).status_code == 200
    assert surveys_client.post(publish, headers=SEC).status_code == 409
    assert _results(surveys_client, event_id, headers={}).json["responses"] == 5
    chart = surveys_client.get(f"/v1/events/{event_id}/survey/results.svg?lang=fr")
    assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
    root = ET.fromstring(chart.data)
    assert root.tag == f"{SVG}svg"
    bars = {
        g.get("id").split("-")[1]
        for g in root.iter(f"{SVG}g")
        if (g.get("id") or "").startswith("bar-")
    }
    assert bars == {"knowledge", "understanding", "needs_matched"}
    assert "Tout à fait d'accord" in chart.get_data(as_text=True)


def _published(client, deliver, agrees, **fields):
    """A completed event whose survey got one answer per value of ``agrees``
    (knowledge; the other statements agree), then was closed and published."""
    event_id, tokens = _open_with(client, deliver, ["LV"] * len(agrees), **fields)
    for token, agree in zip(tokens, agrees, strict=True):
        body = answers(4, knowledge=agree)
        assert client.post(f"/v1/survey-responses/{token}", json=body).status_code == 201
    assert client.post(f"/v1/events/{event_id}/survey/close", headers=SEC).status_code == 200
    publish = client.post(f"/v1/events/{event_id}/survey/results/publish", headers=SEC)
    assert publish.status_code == 200
    return event_id


def test_programme_aggregates_over_events_and_years_match_a_hand_computation(
    surveys_client, surveys_app, deliver_to_surveys
):
    programme = f"prog_{uuid.uuid4().hex[:8]}"  # this test's events only
    first = _published(
        surveys_client, deliver_to_surveys, [5, 4, 2],
        programme=programme, starts_on="2025-04-08", ends_on="2025-04-09",
    )  # fmt: skip
    _published(
        surveys_client, deliver_to_surveys, [4, 3],
        programme=programme, format="thematic_event", host_country="LT",
        starts_on="2025-10-01", ends_on="2025-10-01",
    )  # fmt: skip
    _published(
        surveys_client, deliver_to_surveys, [5, 5, 1, 4],
        programme=programme, starts_on="2026-03-03", ends_on="2026-03-04",
    )  # fmt: skip
    unpublished, tokens = _open_with(
        surveys_client, deliver_to_surveys, ["LV"], programme=programme,
        starts_on="2025-06-01", ends_on="2025-06-01",
    )  # fmt: skip
    surveys_client.post(f"/v1/survey-responses/{tokens[0]}", json=answers(1, knowledge=1))

    def figures(**query):
        response = surveys_client.get("/v1/survey-results", query_string=query)
        assert response.status_code == 200, response.json
        return response.json

    everything = figures(programme=programme)
    assert sorted(e["year"] for e in everything["events"]) == [2025, 2025, 2026]
    assert unpublished not in [e["event_id"] for e in everything["events"]]
    knowledge = everything["questions"][0]
    # 5,4,2 | 4,3 | 5,5,1,4: agree 6 of 9
    assert knowledge["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 3, "5": 3}
    assert knowledge["agree_share"] == round(6 / 9, 4)
    assert everything["questions"][1]["agree_share"] == 1.0
    assert (everything["responses"], everything["invited"]) == (9, 9)
    assert everything["breakdowns"]["country"]["LV"]["responses"] == 9
    year = figures(programme=programme, year=2025)
    assert year["questions"][0]["agree_share"] == 0.6  # 5,4,2,4,3
    assert year["filters"] == {"programme": programme, "year": 2025}
    peer = figures(programme=programme, format="peer_review", host_country="EE")
    assert peer["questions"][0]["agree_share"] == round(5 / 7, 4)
    assert len(peer["events"]) == 2 and first in {e["event_id"] for e in peer["events"]}
    bad = surveys_client.get("/v1/survey-results?year=last&host_country=XX")
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"year", "host_country"}
    as_csv = surveys_client.get(
        "/v1/survey-results", query_string={"programme": programme}, headers={"Accept": "text/csv"}
    )
    assert as_csv.mimetype == "text/csv" and "knowledge" in as_csv.get_data(as_text=True)
    chart = surveys_client.get("/v1/survey-results.svg", query_string={"programme": programme})
    assert ET.fromstring(chart.data).tag == f"{SVG}svg"

"""What schemathesis (tests/fuzz) found where a service and its OpenAPI document
disagreed, each as a test of its own: the answer the service gives, and what
the checked-in document (docs/openapi/<service>.json) says of it."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from deploy.catalog import names
from devkit.auth import auth
from devkit.samples import event_body
from tests.fixtures.catalogue import practice_body
from tests.fixtures.documents import act, known_event, upload
from tests.fixtures.invitations import invitee, registrant
from tests.fixtures.surveys import completed_event

ROOT = Path(__file__).resolve().parents[2]
SEC = auth("secretariat")
PROBLEM_JSON = "application/problem+json"


@cache
def _document(service: str) -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi" / f"{service}.json").read_text())


def _resolved(doc: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        *_, kind, name = item["$ref"].split("/")
        item = doc["components"][kind][name]
    return item


def _operations(doc: dict[str, Any]):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield f"{method.upper()} {path}", operation


def _operation(service: str, label: str) -> dict[str, Any]:
    return dict(_operations(_document(service)))[label]


def _parameter(service: str, label: str, name: str) -> dict[str, Any]:
    doc = _document(service)
    path = label.split(" ", 1)[1]
    candidates = doc["paths"][path].get("parameters", []) + _operation(service, label).get(
        "parameters", []
    )
    [found] = [p for p in (_resolved(doc, c) for c in candidates) if p["name"] == name]
    return found


# --- every service: what shared/ documents -----------------------------------------


@pytest.mark.parametrize("service", names())
def test_every_error_answer_is_documented_as_problem_json(service):
    """ST105: errors were documented as application/json, sent as problem+json."""
    doc = _document(service)
    for label, operation in _operations(doc):
        for status, response in operation["responses"].items():
            if status == "default" or int(status) >= 400:
                content = _resolved(doc, response).get("content", {})
                assert set(content) == {PROBLEM_JSON}, (label, status)


@pytest.mark.parametrize("service", names())
def test_every_operation_says_whether_it_needs_the_bearer_token(service):
    """ignored_auth needs the security scheme on the operations that check it;
    401 (and 403 for role-checked ones) documented where they happen."""
    for label, operation in _operations(_document(service)):
        assert operation["security"] in ([{"bearer": []}], [{}, {"bearer": []}]), label
        assert "401" in operation["responses"], label
        if "403" in operation["responses"]:  # a role is checked: a token is needed
            assert operation["security"] == [{"bearer": []}], label


def test_a_405_names_the_allowed_methods(events_client):
    """ST204: a 405 without the Allow header RFC 9110 requires."""
    response = events_client.open("/v1/events", method="TRACE")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM_JSON
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_json_body_that_is_not_json_is_415(events_client):
    """webargs read a text/plain body as no body at all (a 422 of missing fields)."""
    response = events_client.post(
        "/v1/events", data=json.dumps(event_body()), content_type="text/plain", headers=SEC
    )
    assert response.status_code == 415
    assert response.mimetype == PROBLEM_JSON


@pytest.mark.parametrize(
    "change",
    [
        {"capacity": "40"},
        {"capacity": True},
        {"capacity": 40.5},
        {"venue": {"online": 1}},
        {"registration_moderated": 0},
    ],
)
def test_integers_and_booleans_are_json_ones(events_client, change):
    """ST201: marshmallow took "40", true and 40.5 as integers, 1 (0) as a boolean."""
    response = events_client.post("/v1/events", json=event_body(**change), headers=SEC)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == set(change), response.json


def test_an_integral_float_is_an_integer(events_client):
    """JSON Schema's integer includes 40.0."""
    response = events_client.post("/v1/events", json=event_body(capacity=40.0), headers=SEC)
    assert response.status_code == 201, response.json
    assert response.json["capacity"] == 40


def test_the_sort_argument_is_documented_as_the_service_reads_it(events_client):
    """ST202: any string was documented; an unknown sort name is a 422."""
    pattern = re.compile(_parameter("events", "GET /v1/events", "sort")["schema"]["pattern"])
    for accepted in ("starts_on", "-title,created_at"):
        assert pattern.search(accepted)
        assert events_client.get(f"/v1/events?sort={accepted}").status_code == 200
    for refused in ("colour", "title,", ""):
        assert not pattern.search(refused)
    assert events_client.get("/v1/events?sort=colour").status_code == 422


def test_the_proposal_list_documents_and_reads_its_sort(events_client):
    """ST101 before: the view read a sort its arguments no longer loaded (main's
    sort_argument left ListArgs), so every proposal list was a 500."""
    for query in ("?country=EE", "?sort=title", ""):
        response = events_client.get(f"/v1/proposals{query}", headers=SEC)
        assert response.status_code == 200, response.json
    assert events_client.get("/v1/proposals?sort=contact", headers=SEC).status_code == 422
    pattern = re.compile(_parameter("events", "GET /v1/proposals", "sort")["schema"]["pattern"])
    assert pattern.search("-submitted_at,title") and not pattern.search("contact")


def test_codes_are_documented_with_their_format():
    """The ISO and IANA lists are named as the string's format (a client can check
    them; the fuzzer draws valid ones from the same lists)."""
    props = _document("events")["components"]["schemas"]["EventCreate"]["properties"]
    assert props["host_country"]["format"] == "iso3166-alpha2"
    assert props["timezone"]["format"] == "iana-time-zone"
    assert props["languages"]["items"]["format"] == "iso639-1"


def test_patch_without_a_body_is_400(events_client):
    """ST202 before: an empty PATCH was documented as a valid request."""
    event = events_client.post("/v1/events", json=event_body(), headers=SEC).json
    response = events_client.patch(f"/v1/events/{event['id']}", headers=SEC)
    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON


# --- documents -----------------------------------------------------------------------


def test_a_form_part_without_a_name_is_422_not_500(documents_client, deliver_to_documents):
    """ST101: werkzeug names such a part None, and the problem's errors could not
    be written as JSON (a 500)."""
    event_id = known_event(deliver_to_documents)
    body = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n"
        b"--x\r\nContent-Disposition: form-data\r\n\r\nwho am I\r\n--x--\r\n"
    )
    response = documents_client.post(
        f"/v1/events/{event_id}/documents",
        data=body,
        headers=SEC,
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 422, response.data
    assert "_unnamed" in response.json["errors"]


def test_a_binding_if_match_is_documented_as_an_entity_tag(documents_client, deliver_to_documents):
    """ST202 before: an empty If-Match (or ``*``), a valid string, was 428 on an approval."""
    event_id = known_event(deliver_to_documents)
    doc = upload(documents_client, event_id, SEC).json
    assert act(documents_client, doc["id"], "submit", SEC).status_code == 200
    label = "POST /v1/documents/{document_id}/approve"
    approve = _parameter("documents", label, "If-Match")
    pattern = re.compile(approve["schema"]["pattern"])
    for refused in ("", "*"):
        assert not pattern.search(refused)
        response = documents_client.post(
            f"/v1/documents/{doc['id']}/approve", headers={**SEC, "If-Match": refused}
        )
        assert response.status_code == 428
    assert approve["required"] and pattern.search('"2"') and pattern.search('W/"1", "2"')


def test_the_upload_form_is_documented_as_multipart(documents_client, deliver_to_documents):
    """ST202 before: no request body was documented; a form value has no null,
    so country is left out (and stored as none), never null."""
    body = _operation("documents", "POST /v1/events/{event_id}/documents")["requestBody"]
    form = _resolved(_document("documents"), body["content"]["multipart/form-data"]["schema"])
    assert form["properties"]["file"] == {"type": "string", "format": "binary"}
    assert {"file", "kind", "title", "language"} <= set(form["required"])
    assert form["properties"]["country"]["type"] == "string"
    event_id = known_event(deliver_to_documents)
    response = upload(documents_client, event_id, SEC)
    assert response.status_code == 201 and response.json["country"] is None


def test_reminder_days_are_json_integers(documents_client, deliver_to_documents):
    event_id = known_event(deliver_to_documents)
    body = {"items": [{"kind": "host_country_paper", "due_on": "2027-03-01"}]}
    body["items"][0]["remind_days_before"] = ["7"]
    response = documents_client.put(f"/v1/events/{event_id}/due-dates", json=body, headers=SEC)
    assert response.status_code == 422, response.json


# --- invitations ---------------------------------------------------------------------


def test_partial_is_a_boolean_query_argument(invitations_client, invitations_published_event):
    """ST201 before: any value but true/1/yes meant false; now true or false."""
    event_id = invitations_published_event()["event_id"]
    url = f"/v1/events/{event_id}/invitations"
    refused = invitations_client.post(f"{url}?partial=maybe", json=invitee(1), headers=SEC)
    assert refused.status_code == 422 and "partial" in refused.json["errors"]
    rows = [invitee(2), invitee(3, email="not an address")]
    taken = invitations_client.post(f"{url}?partial=true", json=rows, headers=SEC)
    assert taken.status_code == 201 and len(taken.json["rejected"]) == 1
    partial = _parameter("invitations", "POST /v1/events/{event_id}/invitations", "partial")
    assert partial["schema"]["type"] == "boolean"


@pytest.mark.parametrize(
    ("kind", "event", "refused"),
    [
        ("registrations", {"registration": "open", "visibility": "public"}, "email"),
        ("nominations", {"registration": "nomination", "guest_countries": ["LT"]}, "role"),
    ],
)
def test_the_ways_in_lists_document_and_read_their_sort(
    invitations_client, invitations_published_event, kind, event, refused
):
    """ST101 before: the views read a sort their arguments no longer loaded
    (main's sort_argument left ListArgs), so every list was a 500."""
    url = f"/v1/events/{invitations_published_event(**event)['event_id']}/{kind}"
    for query in ("", "?sort=-created_at,name"):
        response = invitations_client.get(url + query, headers=SEC)
        assert response.status_code == 200, response.json
    assert invitations_client.get(f"{url}?sort={refused}", headers=SEC).status_code == 422
    label = f"GET /v1/events/{{event_id}}/{kind}"
    pattern = re.compile(_parameter("invitations", label, "sort")["schema"]["pattern"])
    assert pattern.search("-created_at,name") and not pattern.search(refused)


def test_quota_countries_are_documented_as_country_codes(
    invitations_client, invitations_published_event
):
    """ST202 before: any property name was documented, and all but a country code
    were refused."""
    body = _operation("invitations", "PUT /v1/events/{event_id}/quotas")["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["propertyNames"]["format"] == "iso3166-alpha2"
    event = invitations_published_event(registration="nomination", guest_countries=["LT"])
    url = f"/v1/events/{event['event_id']}/quotas"
    refused = invitations_client.put(url, json={"Lithuania": {"places": 2}}, headers=SEC)
    assert refused.status_code == 422 and "Lithuania" in refused.json["errors"]
    assert invitations_client.put(url, json={"LT": {"places": 2}}, headers=SEC).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/v1/events/{event_id}/quotas"), ("POST", "/v1/events/{event_id}/registrations")],
)
def test_a_ways_in_body_is_documented_as_required(
    invitations_client, invitations_published_event, method, path
):
    """ST202 before: the body was documented as optional; none is a 400."""
    assert _operation("invitations", f"{method} {path}")["requestBody"]["required"] is True
    event = invitations_published_event(
        registration="nomination" if "quotas" in path else "open", visibility="public"
    )
    url = path.replace("{event_id}", event["event_id"])
    response = invitations_client.open(url, method=method, headers=SEC)
    assert response.status_code == 400 and response.mimetype == PROBLEM_JSON


def test_the_registration_honeypot_is_documented_as_empty(
    invitations_client, invitations_published_event
):
    """ST202 before: any website was documented as valid, and a filled-in one is
    refused (without naming the field: a bot learns nothing); whitespace passed."""
    props = _document("invitations")["components"]["schemas"]["RegistrationBody"]["properties"]
    assert props["website"]["maxLength"] == 0
    event_id = invitations_published_event(registration="open", visibility="public")["event_id"]
    url = f"/v1/events/{event_id}/registrations"
    for website in (" ", "http://buy.example"):
        response = invitations_client.post(url, json=registrant(1, website=website))
        assert response.status_code == 422, response.json
        assert response.json["type"] == "/problems/registration-refused"
    assert invitations_client.post(url, json=registrant(1, website="")).status_code == 202


def test_the_invite_body_is_documented_in_every_form_it_takes():
    body = _operation("invitations", "POST /v1/events/{event_id}/invitations")["requestBody"]
    assert set(body["content"]) == {"application/json", "text/csv", "multipart/form-data"}
    assert len(body["content"]["application/json"]["schema"]["oneOf"]) == 3


def test_an_rsvp_answer_in_another_media_type_is_415(
    invitations_client, invitations_published_event
):
    """Neither JSON nor the page's form: refused as such, not read as an empty answer."""
    event_id = invitations_published_event()["event_id"]
    invitations_client.post(f"/v1/events/{event_id}/invitations", json=invitee(1), headers=SEC)
    response = invitations_client.post(
        "/v1/rsvp/some-token", data="response=accept", content_type="text/plain"
    )
    assert response.status_code == 415
    documented = _operation("invitations", "POST /v1/rsvp/{token}")["requestBody"]["content"]
    assert set(documented) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }


# --- notifications -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://partner.example.org/hook", "http://exa mple.org/hook", "not a url"]
)
def test_a_webhook_url_the_check_refuses_is_422(notifications_client, url):
    """The SSRF check alone says what a target may be, as the document now says."""
    response = notifications_client.post(
        "/v1/subscriptions",
        json={"url": url, "topics": ["event.published"]},
        headers=auth("partner"),
    )
    assert response.status_code == 422, response.json
    schema = _document("notifications")["components"]["schemas"]["SubscriptionCreate"]
    assert schema["properties"]["url"]["format"] == "uri"


# --- catalogue -----------------------------------------------------------------------


def test_the_practice_list_documents_and_checks_its_sort(catalogue_client):
    """ST202 before: any sort string was documented; the pattern says what is read."""
    pattern = re.compile(_parameter("catalogue", "GET /v1/practices", "sort")["schema"]["pattern"])
    assert pattern.search("-updated_at,title") and not pattern.search("colour")
    assert catalogue_client.get("/v1/practices", headers=SEC).status_code == 200
    assert catalogue_client.get("/v1/practices?sort=-title", headers=SEC).status_code == 200
    assert catalogue_client.get("/v1/practices?sort=colour", headers=SEC).status_code == 422


def test_an_unknown_event_or_paper_is_a_problem_of_its_own(catalogue_client):
    """ST202 before: a well-formed id the catalogue has not heard of was a
    validation-error, as if the request were malformed."""
    response = catalogue_client.post(
        "/v1/practices", json=practice_body(papers=["no-such-paper"]), headers=SEC
    )
    assert response.status_code == 422
    assert response.json["type"] == "/problems/unknown-reference"
    assert "papers" in response.json["errors"]


def test_practice_lists_are_documented_as_unique(catalogue_client):
    """ST202 before: a value listed twice is refused; the document now says so."""
    props = _document("catalogue")["components"]["schemas"]["PracticeCreate"]["properties"]
    for name in ("target_groups", "tags", "events", "papers", "languages", "organisations"):
        assert props[name]["uniqueItems"] is True, name
    twice = practice_body(tags=["pes", "pes"])
    assert catalogue_client.post("/v1/practices", json=twice, headers=SEC).status_code == 422


def test_a_practice_patch_without_a_body_is_400(catalogue_client):
    """ST201 before: the document calls the body required; it was answered 200."""
    practice = catalogue_client.post("/v1/practices", json=practice_body(), headers=SEC).json
    response = catalogue_client.patch(f"/v1/practices/{practice['id']}", headers=SEC)
    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON


# --- surveys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label", ["GET /v1/survey-results", "GET /v1/events/{event_id}/survey/results"]
)
def test_survey_results_are_documented_as_json_and_csv(label):
    """ST105 before: the CSV replaced the JSON in the document (and its description)."""
    answer = _operation("surveys", label)["responses"]["200"]
    assert set(answer["content"]) == {"application/json", "text/csv"}
    assert answer["description"]


def test_a_question_is_required_by_a_json_boolean(surveys_client, deliver_to_surveys):
    """ST201 before: "required": 0 was taken as false."""
    event_id, _ = completed_event(deliver_to_surveys, ["LT"], complete=False)
    question = {"id": "venue", "type": "text", "text": {"en": "The venue?"}, "required": 0}
    response = surveys_client.put(
        f"/v1/events/{event_id}/survey/questions", json={"questions": [question]}, headers=SEC
    )
    assert response.status_code == 422, response.json


@pytest.mark.parametrize("reason", ["\u0085", "\ufeff", "\u00a0 \u3000", " \t\n", "Out of scope"])
def test_a_decline_reason_is_blank_for_the_document_when_it_is_for_the_service(reason):
    """``\\S`` meant another thing to a client's JSON Schema validator (ECMA-262)
    than to the service (Python): U+0085 was a reason to one, white space to the
    other (found by the fuzzer). The white space is now spelled out."""
    import jsonschema_rs

    from services.events.schemas import ProposalDeclineSchema

    documented = _document("events")["components"]["schemas"]["ProposalDecline"]
    documented_valid = jsonschema_rs.validator_for(documented).is_valid({"reason": reason})
    service_valid = not ProposalDeclineSchema().validate({"reason": reason})
    assert documented_valid == service_valid == (reason == "Out of scope")

"""No request makes a service answer 500 (issue 10, finding 11): pages beyond what
MongoDB's 64-bit skip holds are 422 on every list endpoint, a JSON body nested
too deeply to parse is 400 on every JSON endpoint, and a made-up HTTP method is
counted as ``other`` instead of creating a metrics series of its own."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from deploy import catalog
from devkit.auth import auth
from tests.fixtures.surveys import completed_event, links, token_of

SERVICES = ("events", "invitations", "documents", "notifications")  # those with lists
EVERYONE = auth(
    "secretariat", "participant", "expert", "partner", "ops", email="someone@example.org"
)
DEEP = 100_000


def _client(request, service):
    return request.getfixturevalue(f"{service}_client")


def _operations(client, want):
    """(method, path with its parameters filled in, operation) of the OpenAPI document."""
    spec = client.get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"} and want(method, operation):
                yield method, re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path), operation


def _pages(method, operation):
    return method == "get" and any(p["name"] == "page" for p in operation.get("parameters", []))


def _takes_json(method, operation):
    return "application/json" in operation.get("requestBody", {}).get("content", {})


@pytest.mark.parametrize("service", SERVICES)
def test_a_page_beyond_mongodbs_skip_is_422_on_every_list(request, service):
    client = _client(request, service)
    lists = list(_operations(client, _pages))
    assert lists, f"{service} has list endpoints"
    for method, path, _ in lists:
        response = client.open(path, method=method, headers=EVERYONE,
                               query_string={"page": 10**17, "page_size": 500})  # fmt: skip
        assert response.status_code == 422, (path, response.json)
        assert response.json["type"] == "/problems/validation-error"
        assert "page" in response.json["errors"]
        deepest = client.open(path, method=method, headers=EVERYONE,
                              query_string={"page": 1_000_000, "page_size": 500})  # fmt: skip
        assert deepest.status_code < 500, (path, deepest.json)


def test_the_measured_page_overflows_are_422(request):
    for service, path in [
        ("events", "/v1/events"),
        ("documents", "/v1/documents"),
        ("invitations", "/v1/invitations"),
        ("notifications", "/v1/notifications"),
        ("notifications", "/v1/subscriptions"),
    ]:
        response = _client(request, service).get(
            f"{path}?page=100000000000000000", headers=EVERYONE
        )
        assert response.status_code == 422, (path, response.json)


@pytest.mark.parametrize("service", catalog.names())
def test_json_nested_too_deeply_is_400_never_500(request, service):
    client = _client(request, service)
    bodies = ["[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP]
    for method, path, _ in _operations(client, _takes_json):
        for body in bodies:
            response = client.open(
                path, method=method, data=body, content_type="application/json",
                headers=EVERYONE,
            )  # fmt: skip
            # 404: the view looked the path's resource up before reading the body
            assert response.status_code in {400, 404}, (method, path, response.json)
            assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("events", "/v1/events"),  # flask-smorest/webargs parses the body
        ("notifications", "/v1/subscriptions"),
        ("invitations", "/v1/rsvp/some-token"),  # the view calls request.get_json
    ],
)
def test_the_deep_json_body_is_a_400_problem(request, service, path):
    body = "[" * DEEP + "]" * DEEP
    response = _client(request, service).post(
        path, data=body, content_type="application/json", headers=EVERYONE
    )
    assert response.status_code == 400, response.json
    assert response.json["type"] == "/problems/bad-request"


def test_a_deep_json_body_of_invitees_is_400(invitations_client, invitations_published_event):
    event_id = invitations_published_event()["event_id"]
    response = invitations_client.post(
        f"/v1/events/{event_id}/invitations",
        data="[" * DEEP + "]" * DEEP,
        content_type="application/json",
        headers=EVERYONE,
    )
    assert response.status_code == 400, response.json


def test_a_deep_json_body_on_a_live_survey_link_is_400_and_stores_nothing(
    surveys_client, surveys_app, deliver_to_surveys
):
    event_id, _ = completed_event(deliver_to_surveys, ["LT"])
    [url] = links(surveys_app, event_id).values()
    response = surveys_client.post(
        f"/v1/survey-responses/{token_of(url)}",
        data="[" * DEEP + "]" * DEEP,
        content_type="application/json",
    )
    assert response.status_code == 400, response.json
    assert response.content_type == "application/problem+json"
    assert surveys_app.extensions["mlp"].db.responses.count_documents({"event_id": event_id}) == 0


def test_a_made_up_method_is_counted_as_other(events_client):
    made_up = f"BREW{uuid.uuid4().hex[:6].upper()}"
    response = events_client.open("/v1/events", method=made_up)
    assert response.status_code == 405
    metrics = events_client.get("/metrics").get_data(as_text=True)
    assert made_up not in metrics
    assert 'mlp_http_requests_total{method="other",route="unmatched",status="405"}' in metrics


def test_every_service_declares_its_routes_on_the_shared_blueprint():
    """The deep-JSON guard of the arguments parser lives in shared.web.ApiBlueprint."""
    root = Path(__file__).resolve().parents[2] / "services"
    for api in sorted(root.glob("*/api.py")):
        text = api.read_text()
        assert "from flask_smorest import Blueprint" not in text, api
        assert "ApiBlueprint(" in text, api

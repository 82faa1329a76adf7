"""Partner webhooks against a local receiver (Standard Webhooks signatures checked
with the ``standardwebhooks`` library), and the in-app feed's authorisation."""

from __future__ import annotations

import time
import uuid

import pytest
from standardwebhooks.webhooks import Webhook

from devkit.auth import auth
from devkit.samples import event_payload, issued_payload
from devkit.webhooks import Receiver
from tests.helpers import wait_for


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


PARTNER = auth("partner", country="BE")


def _subscribe(client, url: str, topics=("event.published",), headers=PARTNER) -> dict:
    response = client.post(
        "/v1/subscriptions", json={"url": url, "topics": list(topics)}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


def test_signed_delivery_verifies_and_503_is_retried_with_the_same_webhook_id(
    notifications_worker, notifications_producer, receivers, notifications_client
):
    receiver = receivers(plan=[503])
    sub = _subscribe(notifications_client, receiver.url)
    assert sub["secret"].startswith("whsec_")
    shown = notifications_client.get(f"/v1/subscriptions/{sub['id']}", headers=PARTNER).json
    assert "secret" not in shown and shown["url"] == receiver.url
    event_id = str(uuid.uuid4())
    ce_id = notifications_producer.send("event.published", event_payload(event_id), key=event_id)
    wait_for(lambda: len(receiver.requests) >= 2, timeout_s=20)
    first, second = receiver.requests[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for request in (first, second):
        payload = Webhook(sub["secret"]).verify(request.body, request.headers)
        assert payload["type"] == "event.published"
        assert payload["data"]["event_id"] == event_id
    log = wait_for(
        lambda: (
            (
                items := notifications_client.get(
                    f"/v1/subscriptions/{sub['id']}/deliveries", headers=PARTNER
                ).json["items"]
            )
            and items[0]["status"] == "succeeded"
            and items
        )
    )
    [delivery] = log
    assert delivery["attempts"] == 2 and delivery["status_code"] == 200
    assert delivery["ce_id"] == ce_id and delivery["latency_ms"] >= 0
    assert [a["status_code"] for a in delivery["log"]] == [503, 200]
    # By hand, again: same webhook-id.
    again = notifications_client.post(
        f"/v1/subscriptions/{sub['id']}/deliveries/{delivery['id']}/redeliver", headers=PARTNER
    )
    assert again.status_code == 202
    wait_for(lambda: len(receiver.requests) == 3)
    assert receiver.requests[2].headers["webhook-id"] == delivery["id"]


def test_a_partner_that_never_answers_does_not_hold_up_another(
    notifications_worker, notifications_producer, receivers, notifications_client
):
    stuck, quick = receivers(hang=True), receivers()
    _subscribe(notifications_client, stuck.url)
    _subscribe(notifications_client, quick.url, headers=auth("partner", country="NL"))
    event_ids = [str(uuid.uuid4()) for _ in range(10)]
    started = time.monotonic()
    for event_id in event_ids:
        notifications_producer.send("event.published", event_payload(event_id), key=event_id)
    wait_for(lambda: len(quick.requests) == 10, timeout_s=20)
    assert time.monotonic() - started < 4.0  # the stuck one's 5 s timeouts did not matter
    assert 1 <= len(stuck.requests) <= 2  # at most two requests in flight per subscription


def test_subscriptions_belong_to_their_owner_and_unsafe_targets_are_refused(
    notifications_client, receivers
):
    receiver = receivers()
    sub = _subscribe(notifications_client, receiver.url)
    other = auth("partner", country="FR")
    for method, path in (
        ("get", f"/v1/subscriptions/{sub['id']}"),
        ("delete", f"/v1/subscriptions/{sub['id']}"),
        ("get", f"/v1/subscriptions/{sub['id']}/deliveries"),
        ("post", f"/v1/subscriptions/{sub['id']}/deliveries/msg_x/redeliver"),
    ):
        assert getattr(notifications_client, method)(path, headers=other).status_code == 404
    assert notifications_client.get("/v1/subscriptions", headers=other).json["total"] == 0
    assert notifications_client.get("/v1/subscriptions").status_code == 401
    assert (
        notifications_client.post(
            "/v1/subscriptions",
            json={"url": receiver.url, "topics": ["event.published"]},
            headers=auth("participant"),
        ).status_code
        == 403
    )
    for url in ("http://169.254.169.254/latest", "http://10.0.0.1/h", "file:///etc/passwd"):
        response = notifications_client.post(
            "/v1/subscriptions",
            json={"url": url, "topics": ["event.published"]},
            headers=PARTNER,
        )
        assert response.status_code == 422, url
    for topics in (["internal.invitation.issued"], ["dlq.events"], []):
        response = notifications_client.post(
            "/v1/subscriptions", json={"url": receiver.url, "topics": topics}, headers=PARTNER
        )
        assert response.status_code == 422
    response = notifications_client.post(
        "/v1/subscriptions",
        json={"url": receiver.url, "topics": ["event.published"], "secret": "mine"},
        headers=PARTNER,
    )
    assert response.status_code == 422  # unknown field
    response = notifications_client.post(
        "/v1/subscriptions",
        data="{not json",
        headers={**PARTNER, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert (
        notifications_client.delete(f"/v1/subscriptions/{sub['id']}", headers=PARTNER).status_code
        == 204
    )
    assert (
        notifications_client.get(f"/v1/subscriptions/{sub['id']}", headers=PARTNER).status_code
        == 404
    )


def test_a_subscription_that_keeps_failing_is_disabled_and_its_owner_told(
    start_notifications_worker, notifications_producer, receivers, notifications_client
):
    receiver = receivers(plan=[500] * 10)
    owner = auth("partner", country="BE", email="ops@partner.example")
    sub = _subscribe(notifications_client, receiver.url, headers=owner)
    # Tighten the rules for the test: dead after the first failure, disabled after 2 dead.
    start_notifications_worker(webhook_retry_horizon_s=0, webhook_disable_after=2)
    for _ in range(2):
        event_id = str(uuid.uuid4())
        notifications_producer.send("event.published", event_payload(event_id), key=event_id)
    wait_for(
        lambda: (
            notifications_client.get(f"/v1/subscriptions/{sub['id']}", headers=owner).json["status"]
            == "disabled"
        )
    )
    feed = notifications_client.get("/v1/notifications", headers=owner).json
    assert feed["unread"] == 1 and feed["items"][0]["kind"] == "subscription_disabled"
    dead = notifications_client.get(
        f"/v1/subscriptions/{sub['id']}/deliveries?status=dead", headers=owner
    ).json
    assert dead["total"] == 2


def test_the_feed_shows_only_the_callers_notifications(
    notifications_worker, notifications_producer, smtp_sink, notifications_client
):
    event_id, inv = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"feed-{inv[:6]}@example.ee"
    notifications_producer.send(
        "internal.invitation.issued", issued_payload(event_id, inv, email), key=event_id
    )
    mine = auth("participant", email=email)
    feed = wait_for(
        lambda: (
            (f := notifications_client.get("/v1/notifications", headers=mine).json)["total"] and f
        )
    )
    assert feed["unread"] == 1 and feed["items"][0]["kind"] == "invitation"
    item_id = feed["items"][0]["id"]
    stranger = auth("participant", email="someone@else.example")
    assert notifications_client.get("/v1/notifications", headers=stranger).json["total"] == 0
    assert (
        notifications_client.post(f"/v1/notifications/{item_id}/read", headers=stranger).status_code
        == 404
    )
    assert notifications_client.get("/v1/notifications").status_code == 401
    assert (
        notifications_client.get("/v1/notifications?page_size=0", headers=mine).status_code == 422
    )
    read = notifications_client.post(f"/v1/notifications/{item_id}/read", headers=mine)
    assert read.status_code == 200 and read.json["read"] is True
    assert notifications_client.get("/v1/notifications", headers=mine).json["unread"] == 0

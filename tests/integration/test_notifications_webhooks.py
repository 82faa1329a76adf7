"""Partner webhooks against a local receiver (Standard Webhooks signatures checked
with the ``standardwebhooks`` library), and the in-app feed's authorisation."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import uuid
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme
import urllib3.util.connection
from prometheus_client import REGISTRY
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from devkit.auth import auth
from devkit.samples import event_payload, issued_payload
from devkit.webhooks import Received, Receiver
from services.notifications import domain, operations
from services.notifications.config import NotificationsSettings
from services.notifications.webhooks import WebhookClient
from tests.helpers import wait_for

DISABLED = "mlp_notifications_webhook_subscriptions_disabled_total"


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
    stuck_sub = _subscribe(notifications_client, stuck.url)
    quick_sub = _subscribe(notifications_client, quick.url, headers=auth("partner", country="NL"))
    event_ids = {str(uuid.uuid4()) for _ in range(10)}
    started = time.monotonic()
    for event_id in event_ids:
        notifications_producer.send("event.published", event_payload(event_id), key=event_id)
    wait_for(lambda: len(_ours(quick, quick_sub, event_ids)) == 10, timeout_s=20)
    assert time.monotonic() - started < 4.0  # the stuck one's 5 s timeouts did not matter
    # At most two requests in flight per subscription.
    assert 1 <= len(_ours(stuck, stuck_sub, event_ids)) <= 2


def _ours(receiver: Receiver, sub: dict, event_ids: set[str]) -> list[Received]:
    """The requests signed with ``sub``'s secret about ``event_ids``. A receiver's
    port may be one another test's receiver had, and the other pytest worker's
    notifications worker may still be trying that one's deliveries (once, under
    load, the stuck receiver counted three requests in four seconds)."""
    ours = []
    for request in receiver.requests:
        try:
            payload = Webhook(sub["secret"]).verify(request.body, request.headers)
        except WebhookVerificationError:
            continue
        if payload["data"]["event_id"] in event_ids:
            ours.append(request)
    return ours


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
    disabled_before = REGISTRY.get_sample_value(DISABLED) or 0.0
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
    # What the alert watches (counted just after the transaction that disabled it).
    wait_for(lambda: REGISTRY.get_sample_value(DISABLED) == disabled_before + 1)


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


# --- the webhook client: pinned address, total deadline, byte cap ------------------


def _client_settings(**changes) -> NotificationsSettings:
    return replace(NotificationsSettings(), **{"webhook_timeout_s": 1.0, **changes})


def _only(name: str, address: str = "127.0.0.1"):
    """A resolver that knows one name (and answers like getaddrinfo); it counts its calls."""
    calls: list[str] = []

    def resolve(host, port, **_):
        calls.append(host)
        if host != name:
            raise socket.gaierror(f"{host} unknown")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    resolve.calls = calls
    return resolve


def _delivery_doc() -> tuple[dict, dict]:
    return {"_id": "msg_test", "body": '{"type":"event.published"}'}, {
        "url": "",
        "secret": domain.new_webhook_secret(),
    }


def test_the_request_goes_to_the_checked_address_and_the_name_is_never_resolved_again(
    monkeypatch,
):
    """DNS rebinding: the name resolves to a public address when checked and to
    loopback a moment later. The connection goes to the checked address (here
    refused by a stand-in for the network, so no packet leaves the machine)."""
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    asked: list[str] = []

    def rebinding(host, port, **_):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    connected: list[tuple] = []

    def no_network(address, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", no_network)
    client = WebhookClient(_client_settings(webhook_allow_loopback=False), rebinding)
    doc, sub = _delivery_doc()
    attempt = client.post({**sub, "url": "http://rebind.partner.example/hooks"}, doc)
    assert not attempt.ok and "93.184.216.34" not in attempt.error
    assert asked == ["rebind.partner.example"]  # resolved once, by the check
    assert connected == [("93.184.216.34", 80)]  # never the name, never loopback


def test_a_local_receiver_gets_the_urls_host_while_the_connection_uses_the_checked_address(
    receivers,
):
    receiver = receivers()
    port = receiver.server.server_address[1]
    resolve = _only("partner.invalid")  # a name the system resolver does not know
    client = WebhookClient(_client_settings(), resolve)
    doc, sub = _delivery_doc()
    attempt = client.post({**sub, "url": f"http://partner.invalid:{port}/hooks?x=1"}, doc)
    assert attempt.ok, attempt.error
    [request] = receiver.requests
    assert request.headers["Host"] == f"partner.invalid:{port}"
    assert Webhook(sub["secret"]).verify(request.body, request.headers)
    assert resolve.calls == ["partner.invalid"]


def _serve_once(answer) -> tuple[int, dict]:
    """A raw TCP server on loopback that reads a request and runs ``answer(conn, state)``."""
    server = socket.create_server(("127.0.0.1", 0))
    state: dict = {"sent": 0, "done": threading.Event()}

    def run() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            with contextlib.suppress(OSError):  # the client hung up
                answer(conn, state)
        state["done"].set()
        server.close()

    threading.Thread(target=run, daemon=True).start()
    return server.getsockname()[1], state


def test_an_answer_trickled_byte_by_byte_is_cut_at_the_total_deadline():
    def trickle(conn, state):
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # one byte every 0.2 s: no read ever times out
            conn.sendall(b"a")
            time.sleep(0.2)

    port, _ = _serve_once(trickle)
    client = WebhookClient(_client_settings(), _only("slow.invalid"))
    doc, sub = _delivery_doc()
    started = time.monotonic()
    attempt = client.post({**sub, "url": f"http://slow.invalid:{port}/h"}, doc)
    assert time.monotonic() - started < 2.5
    assert not attempt.ok and "within 1 s" in attempt.error


def test_an_endless_answer_is_read_only_up_to_the_byte_cap():
    def flood(conn, state):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        chunk = b"x" * 65536
        while state["sent"] < 1_000_000_000:
            conn.sendall(chunk)
            state["sent"] += len(chunk)

    port, state = _serve_once(flood)
    client = WebhookClient(_client_settings(webhook_timeout_s=10.0), _only("big.invalid"))
    doc, sub = _delivery_doc()
    started = time.monotonic()
    attempt = client.post({**sub, "url": f"http://big.invalid:{port}/h"}, doc)
    assert attempt.ok and attempt.status_code == 200
    assert time.monotonic() - started < 3.0  # it hung up, well before the deadline
    assert state["done"].wait(10)
    assert state["sent"] < 64 * 1024 * 1024  # what the socket buffers took, not the gigabyte


@pytest.fixture
def tls_receiver(tmp_path):
    """An https receiver on loopback whose certificate names partner.example,
    from a throw-away CA (trustme); yields its port and the CA file."""
    ca = trustme.CA()
    cert = ca.issue_cert("partner.example")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            received.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield server.server_address[1], str(ca_file), received
    server.shutdown()
    server.server_close()


def test_https_to_the_checked_address_still_verifies_the_certificate_for_the_name(tls_receiver):
    port, ca_file, received = tls_receiver
    doc, sub = _delivery_doc()
    good = WebhookClient(_client_settings(), _only("partner.example"), ca_certs=ca_file)
    attempt = good.post({**sub, "url": f"https://partner.example:{port}/hooks"}, doc)
    assert attempt.ok and attempt.status_code == 204, attempt.error
    assert received == [f"partner.example:{port}"]
    # Another name on the same address: the certificate does not match it.
    other = WebhookClient(_client_settings(), _only("other.example"), ca_certs=ca_file)
    attempt = other.post({**sub, "url": f"https://other.example:{port}/hooks"}, doc)
    assert not attempt.ok and "other.example" in attempt.error
    assert "127.0.0.1" not in attempt.error and len(received) == 1


# --- subscriptions: targets, the cap per owner, fan-out ----------------------------


def test_6to4_site_local_and_database_ports_are_refused_without_naming_addresses(
    notifications_client,
):
    for url in (
        "http://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
        "http://[fec0::1]/x",
        "http://93.184.216.34:27017/x",  # a public address, a database port
        "https://93.184.216.34:22/x",
    ):
        response = notifications_client.post(
            "/v1/subscriptions", json={"url": url, "topics": ["event.published"]}, headers=PARTNER
        )
        assert response.status_code == 422, url
        assert response.json["type"] == "/problems/unsafe-target"


def test_an_owner_has_at_most_the_configured_number_of_subscriptions(
    notifications_client, receivers
):
    receiver = receivers()
    owner = auth("partner", sub=f"partner-{uuid.uuid4().hex[:8]}")
    limit = 20  # MLP_WEBHOOK_MAX_SUBSCRIPTIONS' default
    made = [_subscribe(notifications_client, receiver.url, headers=owner) for _ in range(limit)]
    response = notifications_client.post(
        "/v1/subscriptions",
        json={"url": receiver.url, "topics": ["event.published"]},
        headers=owner,
    )
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert str(limit) in response.json["detail"]
    # Another owner is not affected; deleting one makes room again.
    _subscribe(notifications_client, receiver.url, headers=auth("partner", sub="someone-else"))
    deleted = notifications_client.delete(f"/v1/subscriptions/{made[0]['id']}", headers=owner)
    assert deleted.status_code == 204
    _subscribe(notifications_client, receiver.url, headers=owner)


def _many_subscriptions(ctx, url: str, count: int, topic: str) -> set[str]:
    """``count`` subscriptions to ``topic``, from as many owners as the cap needs."""
    ids = set()
    per_owner = 20  # MLP_WEBHOOK_MAX_SUBSCRIPTIONS' default
    run = uuid.uuid4().hex[:8]
    for n in range(count):
        doc = operations.create_subscription(
            ctx,
            owner_sub=f"partner-{run}-{n // per_owner}",
            owner_email=None,
            url=url,
            topics=[topic],
            description="",
        )
        ids.add(doc["_id"])
    return ids


def test_a_record_with_many_subscriptions_queues_one_fanout_row_expanded_outside_its_transaction(
    notifications_app, receivers
):
    """The consumer's transaction writes a bounded number of rows whatever the
    number of subscriptions: past FANOUT_INLINE one fan-out row, which the
    dispatcher turns into one delivery per subscription, once, even if asked twice."""
    ctx = notifications_app.extensions["mlp"]
    store = ctx.store
    topic = "document.withdrawn"
    subs = _many_subscriptions(ctx, receivers().url, 120, topic)  # FANOUT_INLINE is 100
    ce_id = str(uuid.uuid4())

    def consume(session):
        return operations.queue_webhooks(
            ctx, session, topic=topic, ce_id=ce_id, event_id=None, time=None, data={"x": 1}
        )

    assert ctx.transaction(consume) == 0
    assert store.deliveries.count_documents({"ce_id": ce_id}) == 0
    assert ctx.db["fanouts"].count_documents({"_id": ce_id}) == 1
    ctx.transaction(consume)  # a replay queues nothing twice
    assert ctx.db["fanouts"].count_documents({"_id": ce_id}) == 1
    assert operations.expand_fanouts(ctx) == len(subs)
    store.fanouts.insert_one({"_id": ce_id, "topic": topic, "body": "{}", "after": ""})
    assert operations.expand_fanouts(ctx) == 0  # expanded again: nothing new
    rows = list(store.deliveries.find({"ce_id": ce_id}))
    assert {r["subscription_id"] for r in rows} == subs and len(rows) == len(subs)
    assert store.fanouts.count_documents({}) == 0
    # A few subscriptions: their deliveries are written in the record's transaction.
    few = str(uuid.uuid4())
    for sub_id in list(subs)[5:]:
        store.subscriptions.update_one({"_id": sub_id}, {"$set": {"status": "deleted"}})
    written = ctx.transaction(
        lambda s: operations.queue_webhooks(
            ctx, s, topic=topic, ce_id=few, event_id=None, time=None, data={}
        )
    )
    assert written == 5 == store.deliveries.count_documents({"ce_id": few})


def test_many_subscriptions_to_one_record_each_get_it_once(
    notifications_app, notifications_worker, notifications_producer, receivers
):
    ctx = notifications_app.extensions["mlp"]
    receiver = receivers()
    count = 130  # more than FANOUT_INLINE (100)
    _many_subscriptions(ctx, receiver.url, count, "event.published")
    event_id = str(uuid.uuid4())
    notifications_producer.send("event.published", event_payload(event_id), key=event_id)
    wait_for(lambda: len(receiver.requests) >= count, timeout_s=60)
    time.sleep(0.5)
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == count

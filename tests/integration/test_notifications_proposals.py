"""The notifications service and hosting proposals: the coordinator is told the
secretariat's decision in their language (once, however often the record
comes), and partners subscribed to ``proposal.*`` get their webhooks. Records
go through the real consumer runner (schema, sealing, idempotency row) into
the real Mongo-wire server."""

from __future__ import annotations

import json
import uuid
from email import message_from_string
from email.policy import default as default_policy

from devkit.auth import auth
from devkit.samples import proposal_decided_payload, proposal_payload
from services.notifications.handlers import subscriptions
from tests.helpers import RecordDeliverer


def _mails(app, cause_id: str) -> list[dict]:
    return list(app.extensions["mlp"].db.mails.find({"cause_id": cause_id}, sort=[("to", 1)]))


def test_an_acceptance_mails_each_recipient_once_in_their_language(notifications_app):
    deliver = RecordDeliverer(notifications_app, subscriptions)
    proposal_id = str(uuid.uuid4())
    coordinator = f"coordinator-{proposal_id[:6]}@socmin.example.lt"
    contact = f"ruta-{proposal_id[:6]}@example.lt"
    payload = proposal_decided_payload(
        proposal_id,
        recipients=[
            {"email": coordinator, "name": "", "language": "de"},
            {"email": contact, "name": "Rūta Kazlauskienė", "language": "de"},
        ],
    )
    cause = deliver("internal.proposal.decided", payload)
    mails = _mails(notifications_app, cause)
    assert [m["to"] for m in mails] == sorted([coordinator, contact])
    assert {m["template"] for m in mails} == {"proposal_accepted"}
    assert all(m["language"] == "de" and m["essential"] for m in mails)
    assert all(m["subject"].startswith("Angenommen: Ihr Vorschlag") for m in mails)
    assert {m["event_id"] for m in mails} == {payload["event_id"]}
    # The same record again (a redelivery): nothing new.
    deliver("internal.proposal.decided", payload, ce_id=cause)
    assert len(_mails(notifications_app, cause)) == 2
    client = notifications_app.test_client()
    feed = client.get("/v1/notifications", headers=auth("coordinator", email=coordinator)).json
    [item] = feed["items"]
    assert item["kind"] == "proposal_accepted"
    assert item["link"] == f"/v1/proposals/{proposal_id}"


def test_a_decline_carries_the_reason_to_the_coordinator_only(notifications_app):
    deliver = RecordDeliverer(notifications_app, subscriptions)
    email = f"coordinatrice-{uuid.uuid4().hex[:6]}@travail.example.fr"
    reason = "Le programme compte déjà une évaluation par les pairs sur ce thème cette année."
    cause = deliver(
        "internal.proposal.decided",
        proposal_decided_payload(
            status="declined",
            event_id=None,
            reason=reason,
            country="FR",
            recipients=[{"email": email, "name": "Claire Martin", "language": "fr"}],
        ),
    )
    [mail] = _mails(notifications_app, cause)
    assert mail["template"] == "proposal_declined"
    assert mail["subject"].startswith("Non retenue : votre proposition")
    assert mail["event_id"] is None
    message = message_from_string(mail["raw"], policy=default_policy)
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Madame, Monsieur Claire Martin,")
    assert f"Motif : {reason}" in text
    # Nothing about the decision reaches a partner topic: the notifications
    # service announces only that a mail went (notification.*), never to whom or why.
    announced = json.dumps(
        list(notifications_app.extensions["mlp"].db.outbox.find({}, {"_id": 0})), default=str
    )
    assert email not in announced and reason not in announced


def test_partners_subscribed_to_proposal_topics_get_their_webhooks(notifications_app):
    client = notifications_app.test_client()
    partner = auth("partner", country="BE")
    created = client.post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/hook", "topics": ["proposal.accepted"]},
        headers=partner,
    )
    assert created.status_code == 201, created.json
    deliver = RecordDeliverer(notifications_app, subscriptions)
    proposal_id = str(uuid.uuid4())
    deliver("proposal.submitted", proposal_payload(proposal_id))
    event_id = str(uuid.uuid4())
    deliver(
        "proposal.accepted",
        proposal_payload(proposal_id, version=2, status="accepted", event_id=event_id),
    )
    deliveries = client.get(
        f"/v1/subscriptions/{created.json['id']}/deliveries", headers=partner
    ).json["items"]
    [delivery] = deliveries
    assert delivery["topic"] == "proposal.accepted"
    body = notifications_app.extensions["mlp"].db.deliveries.find_one({})["body"]
    data = json.loads(body)["data"]
    assert data["event_id"] == event_id and data["country"] == "LT"
    assert "contact" not in data and "reason" not in data

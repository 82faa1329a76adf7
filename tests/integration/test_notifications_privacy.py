"""What the notifications service keeps and shows of people: the feed matches
only verified addresses and never carries an RSVP link; the ids it announces
say nothing about addresses."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from devkit.auth import auth
from devkit.samples import issued_payload
from services.notifications import domain, operations
from services.notifications.app import create_app
from services.notifications.handlers import subscriptions
from tests.helpers import RecordDeliverer, running_app


def _ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


def test_the_feed_matches_verified_addresses_only_and_links_the_invitation_not_its_rsvp(
    notifications_settings,
):
    event_id, inv = _ids()
    email = f"kadri-{inv[:6]}@example.ee"
    strict = replace(notifications_settings, jwt_require_verified_email=True)
    with running_app(create_app, strict) as app:
        RecordDeliverer(app, subscriptions)(
            "internal.invitation.issued", issued_payload(event_id, inv, email)
        )
        client = app.test_client()
        claimed = auth("participant", email=email, email_verified=False)
        assert client.get("/v1/notifications", headers=claimed).json["total"] == 0
        feed = client.get("/v1/notifications", headers=auth("participant", email=email))
        [item] = feed.json["items"]
        assert item["kind"] == "invitation"
        assert item["link"] == f"/v1/invitations/{inv}"
        assert "/v1/rsvp/" not in feed.get_data(as_text=True)
        stored = app.extensions["mlp"].db.feed.find_one({"event_id": event_id})
        assert "/v1/rsvp/" not in json.dumps(stored, default=str)


def _queued_invitation(app, email: str) -> tuple[str, dict]:
    """Deliver an invitation record to the app's handlers; its cause id and mail row."""
    event_id, inv = _ids()
    cause = RecordDeliverer(app, subscriptions)(
        "internal.invitation.issued", issued_payload(event_id, inv, email)
    )
    return cause, app.extensions["mlp"].db.mails.find_one({"cause_id": cause})


def test_the_announced_notification_id_is_random_not_derived_from_the_address(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    email = f"anna-{uuid.uuid4().hex[:6]}@example.lv"
    cause, row = _queued_invitation(notifications_app, email)
    operations.record_mail_outcome(ctx, row, "sent")
    [sent] = ctx.db.outbox.find({"topic": "notification.sent", "payload.cause_id": cause})
    announced = sent["payload"]["notification_id"]
    # Anyone holding a list of addresses could recompute a hash of (cause, address, template).
    guessable = domain.idempotency_key(cause, email, "invitation")
    assert announced != guessable and guessable[:40] not in announced
    assert announced == ctx.db.mails.find_one({"_id": row["_id"]})["notification_id"]
    assert sent["subject"] == announced  # ce_subject too
    # The same mail keeps its id on every announcement (a later failure names it again).
    operations.record_mail_outcome(ctx, {**row, "notification_id": announced}, "failed", "550")
    failed = ctx.db.outbox.find_one({"topic": "notification.failed", "payload.cause_id": cause})
    assert failed["payload"]["notification_id"] == announced

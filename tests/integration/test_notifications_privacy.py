"""What the notifications service keeps and shows of people: the feed matches
only verified addresses and never carries an RSVP link; the ids it announces
say nothing about addresses; mails, feed items, deliveries and contacts are
kept only as long as their retention, and only what a resend needs."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import OperationFailure

from devkit.auth import auth
from devkit.samples import event_payload, issued_payload, status_payload
from services.notifications import domain, jobs, operations
from services.notifications.app import create_app
from services.notifications.config import load_settings
from services.notifications.handlers import subscriptions
from tests.helpers import RecordDeliverer, running_app, wait_for


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


# --- what is kept, and for how long ----------------------------------------------

DAY = timedelta(days=1)


def _ttl_fields(collection) -> dict[str, int]:
    """field -> expireAfterSeconds of the collection's TTL indexes."""
    return {
        info["key"][0][0]: info["expireAfterSeconds"]
        for info in collection.index_information().values()
        if "expireAfterSeconds" in info
    }


def test_mails_feed_deliveries_and_contacts_have_a_ttl_index_on_expires_at(notifications_app):
    db = notifications_app.extensions["mlp"].db
    for name in ("mails", "feed", "deliveries", "contacts"):
        assert _ttl_fields(db[name]) == {"expires_at": 0}, name


def test_retention_periods_are_read_and_checked_at_start():
    settings = load_settings(
        {
            "MLP_MAIL_RETENTION_DAYS": "60",
            "MLP_FEED_RETENTION_DAYS": "400",
            "MLP_DELIVERY_RETENTION_DAYS": "14",
            "MLP_CONTACT_RETENTION_DAYS": "365",
        }
    )
    assert (settings.mail_retention_days, settings.feed_retention_days) == (60, 400)
    assert (settings.delivery_retention_days, settings.contact_retention_days) == (14, 365)
    defaults = load_settings({})
    assert (defaults.mail_retention_days, defaults.feed_retention_days) == (90, 365)
    assert (defaults.delivery_retention_days, defaults.contact_retention_days) == (30, 180)
    with pytest.raises(SystemExit, match="MLP_MAIL_RETENTION_DAYS must be at least 1"):
        load_settings({"MLP_MAIL_RETENTION_DAYS": "0"})


def test_a_contact_keeps_no_rsvp_link_and_is_retained_from_the_end_of_its_event(
    notifications_app,
):
    db = notifications_app.extensions["mlp"].db
    deliver = RecordDeliverer(notifications_app, subscriptions)
    event_id, inv = _ids()
    deliver("internal.invitation.issued", issued_payload(event_id, inv, "kadri@example.ee"))
    contact = db.contacts.find_one({"_id": inv})
    assert "rsvp_url" not in contact
    assert "/v1/rsvp/" not in json.dumps(contact, default=str)
    # 180 days after the event's last day (ends_on 2027-03-11).
    assert contact["expires_at"] == datetime(2027, 3, 12, tzinfo=UTC) + 180 * DAY
    # The event moves: its contacts are kept until the new end (+ 180 days).
    deliver(
        "event.updated",
        event_payload(event_id, version=3, ends_on="2027-04-02", changed=["ends_on"]),
    )
    moved = datetime(2027, 4, 3, tzinfo=UTC) + 180 * DAY
    assert db.contacts.find_one({"_id": inv})["expires_at"] == moved
    # A status that arrives before the address is kept as long.
    early = str(uuid.uuid4())
    deliver("invitation.declined", status_payload(event_id, early, "declined", 2))
    assert db.contacts.find_one({"_id": early})["expires_at"] == moved


def test_a_finished_mail_keeps_what_it_was_not_its_message_or_address(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    email = f"ben-{uuid.uuid4().hex[:6]}@example.fi"
    _, row = _queued_invitation(notifications_app, email)
    assert "/v1/rsvp/" in row["raw"] and "expires_at" not in row  # pending: kept, all of it
    feed = ctx.db.feed.find_one({"key": row["_id"]})
    assert feed["expires_at"] == feed["created_at"] + 365 * DAY
    operations.record_mail_outcome(ctx, row, "retry", "421 busy")
    still = ctx.db.mails.find_one({"_id": row["_id"]})
    assert still["raw"] == row["raw"] and "expires_at" not in still  # still to send
    operations.record_mail_outcome(ctx, row, "sent")
    sent = ctx.db.mails.find_one({"_id": row["_id"]})
    assert "raw" not in sent and "to" not in sent
    assert email not in json.dumps(sent, default=str)
    assert sent["status"] == "sent" and sent["template"] == "invitation" and sent["subject"]
    assert sent["email_hash"] == domain.email_hash(email)  # how support finds it
    assert sent["expires_at"] == sent["last_attempt_at"] + 90 * DAY


def test_deliveries_are_retained_from_their_outcome_and_kept_while_pending(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    sub = operations.create_subscription(
        ctx,
        owner_sub="p1",
        owner_email=None,
        url="https://partner.example/hook",
        topics=["event.published"],
        description="",
    )
    RecordDeliverer(notifications_app, subscriptions)("event.published", event_payload())
    doc = ctx.db.deliveries.find_one({"subscription_id": sub["_id"]})
    assert "expires_at" not in doc
    at_horizon = replace(ctx, settings=replace(ctx.settings, webhook_retry_horizon_s=0))
    operations.record_delivery_outcome(
        at_horizon, doc, ok=False, status_code=500, latency_ms=1.0, error="500"
    )
    dead = ctx.db.deliveries.find_one({"_id": doc["_id"]})
    assert dead["status"] == "dead" and dead["expires_at"] == dead["dead_at"] + 30 * DAY
    operations.redeliver(ctx, sub, doc["_id"])  # pending again: kept until done
    assert "expires_at" not in ctx.db.deliveries.find_one({"_id": doc["_id"]})
    operations.delete_subscription(ctx, sub)  # its pending deliveries are cancelled
    cancelled = ctx.db.deliveries.find_one({"_id": doc["_id"]})
    assert cancelled["status"] == "cancelled" and cancelled["expires_at"]


def _expire_now(db) -> None:
    """Make the server's TTL monitor run: SecantusDB on request, mongod every 60 s."""
    try:
        db.client.admin.command({"secantusAdmin.pruneTtl": 1})
    except OperationFailure:
        time.sleep(65)


def test_the_server_deletes_what_is_past_its_retention_and_keeps_what_is_pending(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    _, old = _queued_invitation(notifications_app, "old@example.lv")
    _, pending = _queued_invitation(notifications_app, "pending@example.lv")
    operations.record_mail_outcome(ctx, old, "sent")
    yesterday = datetime.now(UTC) - DAY
    ctx.db.mails.update_one({"_id": old["_id"]}, {"$set": {"expires_at": yesterday}})
    ctx.db.mails.update_one({"_id": pending["_id"]}, {"$set": {"created_at": yesterday}})
    _expire_now(ctx.db)
    wait_for(lambda: ctx.db.mails.find_one({"_id": old["_id"]}) is None, timeout_s=90)
    assert ctx.db.mails.find_one({"_id": pending["_id"]}) is not None  # never dropped


def test_rows_written_before_retention_are_scrubbed_once_by_the_worker(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    db = ctx.db
    event_id, inv = _ids()
    now = datetime.now(UTC)
    db.events.insert_one({"_id": event_id, "ends_on": "2027-05-20", "version": 1})
    db.contacts.insert_many(
        [
            {"_id": inv, "event_id": event_id, "email": "a@example.lv", "rsvp_url": "/v1/rsvp/t"},
            {"_id": "orphan", "event_id": "gone", "email": "b@example.lv", "event": {}},
            {"_id": "snap", "event_id": "unknown", "event": {"ends_on": "2027-06-01"}},
        ]
    )
    db.mails.insert_many(
        [
            {"_id": "m1", "status": "sent", "raw": "...", "to": "a@example.lv"},
            {"_id": "m2", "status": "pending", "raw": "...", "to": "a@example.lv"},
        ]
    )
    db.feed.insert_one({"_id": "f1", "key": "k1", "link": "http://h/v1/rsvp/t", "created_at": now})
    db.deliveries.insert_one({"_id": "d1", "subscription_id": "s", "ce_id": "c", "status": "dead"})
    scrub = jobs.LegacyScrub()
    assert scrub.run(ctx) > 0
    contact = db.contacts.find_one({"_id": inv})
    assert "rsvp_url" not in contact
    assert contact["expires_at"] == datetime(2027, 5, 21, tzinfo=UTC) + 180 * DAY
    snap = db.contacts.find_one({"_id": "snap"})
    assert snap["expires_at"] == datetime(2027, 6, 2, tzinfo=UTC) + 180 * DAY
    assert db.contacts.find_one({"_id": "orphan"})["expires_at"] >= now + 180 * DAY
    sent = db.mails.find_one({"_id": "m1"})
    assert "raw" not in sent and "to" not in sent and sent["expires_at"] >= now + 90 * DAY
    assert db.mails.find_one({"_id": "m2"})["raw"] == "..."  # still to be sent
    feed = db.feed.find_one({"_id": "f1"})
    assert feed["link"] is None and feed["expires_at"] >= now + 365 * DAY
    assert db.deliveries.find_one({"_id": "d1"})["expires_at"] >= now + 30 * DAY
    assert scrub.run(ctx) == 0  # done: later runs find nothing and stop
    assert scrub.done

"""What the notifications service keeps and shows of people: the feed matches
only verified addresses and never carries an RSVP link."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from devkit.auth import auth
from devkit.samples import issued_payload
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

"""The notifications service's Flask app factory
(gunicorn: ``services.notifications.app:create_app()``)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from services.notifications.api import blp
from services.notifications.config import NotificationsSettings, load_settings
from services.notifications.handlers import subscriptions
from services.notifications.store import NotificationStore
from shared.ops import OpsSection
from shared.service import ServiceContext, start_service
from shared.web import create_service_app

# The operator console's sections of this service: the mail queue and webhook deliveries.
OPS_SECTIONS = (
    OpsSection(
        "mail",
        {"en": "Mail queue", "fr": "File des courriels", "de": "Mail-Warteschlange"},
        lambda ctx: _store(ctx).mail_queue(datetime.now(UTC)),
    ),
    OpsSection(
        "webhook_deliveries",
        {"en": "Webhook deliveries", "fr": "Livraisons webhook", "de": "Webhook-Zustellungen"},
        lambda ctx: _store(ctx).deliveries_by_state(),
    ),
)


def _store(ctx: ServiceContext) -> NotificationStore:
    return ctx.store


def create_app(settings: NotificationsSettings | None = None) -> Flask:
    ctx = start_service(settings or load_settings(), NotificationStore)
    return create_service_app(
        ctx,
        title="MLP Ops notifications",
        blueprints=[blp],
        consumes=subscriptions.topics,
        ops_sections=OPS_SECTIONS,
    )

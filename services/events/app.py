"""The events service's Flask app factory (gunicorn: ``services.events.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.events.api import blp
from services.events.config import EventsSettings, load_settings
from services.events.handlers import subscriptions
from services.events.store import EventStore
from shared.service import start_service
from shared.web import create_service_app


def create_app(settings: EventsSettings | None = None) -> Flask:
    ctx = start_service(settings or load_settings(), EventStore)
    return create_service_app(
        ctx,
        title="MLP Ops events",
        blueprints=[blp],
        consumes=subscriptions.topics,
    )

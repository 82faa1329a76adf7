"""The events service's Flask app factory (gunicorn: ``services.events.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.events.api import blp
from services.events.store import EventStore
from shared.config import load_settings
from shared.web import create_service_app


def create_app() -> Flask:
    app = create_service_app(load_settings("events"), title="MLP Ops events", blueprints=[blp])
    runtime = app.extensions["mlp"]
    store = EventStore(runtime.db)
    store.ensure_indexes()
    app.extensions["store"] = store
    return app

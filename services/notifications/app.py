"""The notifications service's Flask app factory
(gunicorn: ``services.notifications.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.notifications.api import blp
from services.notifications.store import NotificationStore
from shared.config import load_settings
from shared.web import create_service_app


def create_app() -> Flask:
    app = create_service_app(
        load_settings("notifications"), title="MLP Ops notifications", blueprints=[blp]
    )
    runtime = app.extensions["mlp"]
    store = NotificationStore(runtime.db)
    store.ensure_indexes()
    app.extensions["store"] = store
    return app

"""The notifications service's Flask app factory
(gunicorn: ``services.notifications.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.notifications.api import blp
from services.notifications.config import NotificationsSettings, load_settings
from services.notifications.store import NotificationStore
from shared.service import start_service
from shared.web import create_service_app


def create_app(settings: NotificationsSettings | None = None) -> Flask:
    ctx = start_service(settings or load_settings(), NotificationStore)
    return create_service_app(ctx, title="MLP Ops notifications", blueprints=[blp])

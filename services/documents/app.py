"""The documents service's Flask app factory (gunicorn: ``services.documents.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.documents.api import blp
from services.documents.config import DocumentsSettings, load_settings
from services.documents.handlers import subscriptions
from services.documents.store import DocumentStore
from shared.service import start_service
from shared.web import create_service_app


def create_app(settings: DocumentsSettings | None = None) -> Flask:
    ctx = start_service(settings or load_settings(), DocumentStore)
    return create_service_app(
        ctx,
        title="MLP Ops documents",
        blueprints=[blp],
        consumes=subscriptions.topics,
    )

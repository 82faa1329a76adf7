"""The catalogue service's Flask app factory (gunicorn: ``services.catalogue.app:create_app()``):
the JSON API under ``/v1`` and the public website (``pages.py``) at ``/``."""

from __future__ import annotations

from flask import Flask

from services.catalogue import pages
from services.catalogue.api import blp
from services.catalogue.config import CatalogueSettings, load_settings
from services.catalogue.handlers import subscriptions
from services.catalogue.store import store_factory
from shared.service import start_service
from shared.web import create_service_app


def create_app(settings: CatalogueSettings | None = None) -> Flask:
    settings = settings or load_settings()
    ctx = start_service(settings, store_factory(settings))
    app = create_service_app(
        ctx,
        title="MLP Ops catalogue",
        blueprints=[blp],
        consumes=subscriptions.topics,
    )
    app.register_blueprint(pages.site)
    return app

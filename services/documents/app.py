"""The documents service's Flask app factory (gunicorn: ``services.documents.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.documents.api import blp, document_max_bytes_from_env
from services.documents.store import DocumentStore
from shared.config import load_settings
from shared.web import create_service_app


def create_app() -> Flask:
    app = create_service_app(
        load_settings("documents"), title="MLP Ops documents", blueprints=[blp]
    )
    app.config["DOCUMENT_MAX_BYTES"] = document_max_bytes_from_env()
    runtime = app.extensions["mlp"]
    store = DocumentStore(runtime.db)
    store.ensure_indexes()
    app.extensions["store"] = store
    return app

"""The invitations service's Flask app factory
(gunicorn: ``services.invitations.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.invitations.api import blp
from services.invitations.operations import InvitationConfig
from services.invitations.store import InvitationStore
from shared.config import load_settings
from shared.web import create_service_app


def create_app() -> Flask:
    app = create_service_app(
        load_settings("invitations"), title="MLP Ops invitations", blueprints=[blp]
    )
    runtime = app.extensions["mlp"]
    store = InvitationStore(runtime.db)
    store.ensure_indexes()
    app.extensions["store"] = store
    app.extensions["invitations_config"] = InvitationConfig.from_env()
    return app

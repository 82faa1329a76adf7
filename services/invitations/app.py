"""The invitations service's Flask app factory
(gunicorn: ``services.invitations.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.invitations.api import blp
from services.invitations.config import InvitationsSettings, load_settings
from services.invitations.handlers import subscriptions
from services.invitations.store import InvitationStore
from shared.service import start_service
from shared.web import create_service_app


def create_app(settings: InvitationsSettings | None = None) -> Flask:
    ctx = start_service(settings or load_settings(), InvitationStore)
    return create_service_app(
        ctx,
        title="MLP Ops invitations",
        blueprints=[blp],
        consumes=subscriptions.topics,
    )

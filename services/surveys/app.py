"""The surveys service's Flask app factory (gunicorn: ``services.surveys.app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from services.surveys.api import blp
from services.surveys.config import SurveysSettings, load_settings
from services.surveys.handlers import subscriptions
from services.surveys.store import SurveyStore
from shared.service import start_service
from shared.web import create_service_app


def create_app(settings: SurveysSettings | None = None) -> Flask:
    ctx = start_service(settings or load_settings(), SurveyStore)
    return create_service_app(
        ctx,
        title="MLP Ops surveys",
        blueprints=[blp],
        consumes=subscriptions.topics,
    )

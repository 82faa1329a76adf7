"""Fixtures for tests of one service at a time against the real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.events.app import create_app
from tests.helpers import running_app, service_env, settings_for


@pytest.fixture
def events_env(kafka, mongo, monkeypatch) -> dict[str, str]:
    env = service_env("events", kafka.bootstrap, mongo.uri)
    settings_for("events", env, monkeypatch)
    return env


@pytest.fixture
def events_app(events_env) -> Iterator[Flask]:
    with running_app(create_app) as app:
        yield app


@pytest.fixture
def client(events_app) -> FlaskClient:
    return events_app.test_client()

"""Fixtures of the deployment and contract tests (tests/deploy, a directory of its own)."""

from __future__ import annotations

import importlib

import pytest

from deploy import catalog
from devkit.env import service_env
from tests.helpers import running_app, service_settings


@pytest.fixture(scope="session")
def service_routes(kafka, mongo) -> set[str]:
    """The URL rules of every deployed service's real app (built against the test servers)."""
    routes: set[str] = set()
    for name in catalog.names():
        settings = service_settings(name, service_env(name, kafka.bootstrap, mongo.uri))
        create_app = importlib.import_module(f"services.{name}.app").create_app
        with running_app(create_app, settings) as app:
            routes |= {rule.rule for rule in app.url_map.iter_rules()}
    return routes

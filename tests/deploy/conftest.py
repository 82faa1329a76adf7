"""Fixtures of the deployment and contract tests (tests/deploy, a directory of its own)."""

from __future__ import annotations

import importlib

import pytest

from deploy import catalog
from tests.helpers import service_env


@pytest.fixture(scope="session")
def service_routes(kafka, mongo) -> set[str]:
    """The URL rules of every deployed service's real app (built against the test servers)."""
    routes: set[str] = set()
    for name in catalog.names():
        with pytest.MonkeyPatch.context() as mp:
            for key, value in service_env(name, kafka.bootstrap, mongo.uri).items():
                mp.setenv(key, value)
            app = importlib.import_module(f"services.{name}.app").create_app()
            routes |= {rule.rule for rule in app.url_map.iter_rules()}
            runtime = app.extensions["mlp"]
            runtime.client.drop_database(runtime.db.name)
            runtime.client.close()
    return routes

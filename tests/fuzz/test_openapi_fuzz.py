"""Every deployed service (deploy/catalog.py) against a fuzzer no one here wrote:
schemathesis, all checks and phases (examples, coverage, fuzzing, stateful links),
on the checked-in OpenAPI document partners generate clients from
(docs/openapi/<service>.json), sent over HTTP to the service's real gunicorn
``web`` on the session's Kafka and MongoDB. Zero failures: every status, header,
content type and body the service answers is the one its document promises, and
it accepts what the document calls valid and refuses what it calls invalid.

What a run needs beyond the document: a secretariat token (every operation
declares the bearer scheme, so ``ignored_auth`` probes each without it), and
what the service would know from other services' topics (a published event,
delivered through its real consumer runner) so that operations on an event reach
past "no such event". The number of examples is bounded and seeded
(``harness.SEED``, ``harness.MAX_EXAMPLES``): a run is repeatable and short.
"""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.catalog import names
from deploy.local import services
from deploy.local.ports import free_port
from devkit.auth import token
from devkit.env import service_env
from devkit.samples import event_payload
from tests.fuzz import harness, rules
from tests.helpers import RecordDeliverer, running_app, service_settings

ROOT = Path(__file__).resolve().parents[2]
SECRETARIAT_EMAIL = "secretariat@fuzz.example.eu"


def _published_event() -> dict[str, Any]:
    """An ``event.published`` payload of an event still open to invitations."""
    today = date.today()
    return event_payload(
        str(uuid.uuid4()),
        version=2,
        starts_on=(today + timedelta(days=60)).isoformat(),
        ends_on=(today + timedelta(days=61)).isoformat(),
        registration_deadline=(datetime.now(UTC) + timedelta(days=30)).isoformat(),
    )


def _seed(service: str, app: Any) -> dict[str, Any]:
    """Give the service what other services' topics would have told it; returns
    the path parameters that name it (``event_id``)."""
    subscriptions = importlib.import_module(f"services.{service}.handlers").subscriptions
    if "event.published" not in subscriptions.topics:
        return {}
    event = _published_event()
    RecordDeliverer(app, subscriptions)("event.published", event)
    return {"event_id": event["event_id"]}


@pytest.fixture
def running_web(kafka, mongo, tmp_path) -> Iterator[Callable[[str], tuple[str, dict[str, Any]]]]:
    """Start a service's gunicorn ``web`` on a database of its own, seeded through
    an in-process app on the same database (dropped afterwards); returns where it
    listens and the parameters that name the seeded data."""
    with contextlib.ExitStack() as stack:

        def start(service: str) -> tuple[str, dict[str, Any]]:
            env = {**service_env(service, kafka.bootstrap, mongo.uri), "MLP_WEB_WORKERS": "1"}
            create_app = importlib.import_module(f"services.{service}.app").create_app
            app = stack.enter_context(running_app(create_app, service_settings(service, env)))
            pinned = _seed(service, app)
            port = free_port()
            web = services.web(service, port, env, tmp_path / "logs").start()
            stack.callback(web.stop)
            base_url = f"http://127.0.0.1:{port}"
            services.wait_ready(web, f"{base_url}/readyz")
            return base_url, pinned

        yield start


@pytest.mark.parametrize("service", names())
def test_the_service_keeps_its_openapi_document_under_fuzzing(service, running_web):
    base_url, seeded = running_web(service)
    secretariat = token("secretariat", country="EE", email=SECRETARIAT_EMAIL)
    config = harness.configure(secretariat)
    schema = harness.load(ROOT / "docs" / "openapi" / f"{service}.json", base_url, config)
    rules.install(schema, service, seeded)
    result = harness.run(service, schema)
    print(result.summary())
    print(result.answers())
    if result.failures or result.errors:
        pytest.fail(result.report(), pytrace=False)

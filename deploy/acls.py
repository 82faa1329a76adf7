"""The Kafka ACL model of the deployed services, derived in this one place from
the topic catalogue (who produces what) and each service's handlers (what it
consumes): ``deploy/kafka-acls.json``, which the provisioning step of compose
and Kubernetes applies (``python -m shared.bus provision --acls``) and the
ACL integration test applies to a real broker. ``make manifests`` writes it;
``tests/deploy`` fail while it differs from what the code derives.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from deploy import catalog
from shared.acls import AclModel, services_model

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = ROOT / "deploy" / "kafka-acls.json"


def consumed_topics(service: str) -> list[str]:
    """The topics ``service``'s handlers are registered for."""
    handlers = importlib.import_module(f"services.{service}.handlers")
    return list(handlers.subscriptions.topics)


def model() -> AclModel:
    """Every deployed service's principal and grants."""
    return services_model({s.name: consumed_topics(s.name) for s in catalog.DEPLOYED})

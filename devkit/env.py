"""The ``MLP_`` environment of a service on given servers."""

from __future__ import annotations

import uuid

from devkit.auth import JWT_SECRET


def service_env(service: str, kafka_bootstrap: str, mongo_uri: str) -> dict[str, str]:
    """MLP_ variables pointing ``service`` at these servers, with a database of its
    own, :data:`devkit.auth.JWT_SECRET` and no worker metrics port."""
    return {
        "MLP_ENV": "test",
        "MLP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "MLP_MONGO_URI": mongo_uri,
        f"MLP_{service.upper()}_DB": f"test_{service}_{uuid.uuid4().hex[:10]}",
        "MLP_JWT_SECRET": JWT_SECRET,
        "MLP_LOG_LEVEL": "WARNING",
        f"MLP_{service.upper()}_WORKER_METRICS_PORT": "0",
    }

"""The services this repository deploys: the ONE list the deployment files are
generated from (``docker-compose.yml``, ``deploy/k8s/``, the contracts in
``docs/``).

A new service slots in by adding one entry to :data:`DEPLOYED` and running
``make manifests contracts``; ``tests/deploy`` fail until the checked-in files
match. Each service's port is the ``DEFAULT_PORT`` of its ``config.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from shared.config import WORKER_METRICS_OFFSET

IMAGE_REPOSITORY = "mlp-ops"


@dataclass(frozen=True)
class DeployedService:
    name: str

    @property
    def port(self) -> int:
        return int(importlib.import_module(f"services.{self.name}.config").DEFAULT_PORT)

    @property
    def worker_metrics_port(self) -> int:
        """Where the worker serves Prometheus metrics (``shared.config`` default)."""
        return self.port + WORKER_METRICS_OFFSET

    @property
    def upper(self) -> str:
        return self.name.upper()

    @property
    def image(self) -> str:
        return f"{IMAGE_REPOSITORY}/{self.name}"


DEPLOYED: tuple[DeployedService, ...] = (
    DeployedService("events"),
    DeployedService("invitations"),
    DeployedService("documents"),
    DeployedService("notifications"),
)


def names() -> list[str]:
    return [s.name for s in DEPLOYED]

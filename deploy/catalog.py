"""The services this repository deploys: the ONE list the deployment files are
generated from (``docker-compose.yml``, ``deploy/k8s/``, ``deploy/local/Procfile``,
the contracts in ``docs/``) and the local stack runs (``deploy/local``).

A new service slots in by its folder ``services/<name>/`` (the files of
:data:`SERVICE_MODULES`, and any of :data:`OPTIONAL_MODULES`), one entry in
:data:`DEPLOYED` and ``make manifests contracts``; ``tests/deploy`` fail until
the folder follows the layout and the checked-in files match. Each service's
port is the ``DEFAULT_PORT`` of its ``config.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from shared.config import WORKER_METRICS_OFFSET

IMAGE_REPOSITORY = "mlp-ops"


@dataclass(frozen=True)
class DeployedService:
    name: str
    # The path of a public website the service serves, printed by `make run`.
    website: str = ""

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


# The layout of every service folder, services/<name>/ (tests/deploy/test_layout.py
# checks it; the README's table of a service's files mirrors these lists).
SERVICE_MODULES: dict[str, str] = {
    "__init__.py": "what the service is, in one sentence",
    "app.py": "create_app(settings): the Flask app the web process (gunicorn) serves",
    "api.py": "the HTTP routes (thin: validation and authorisation, then operations)",
    "schemas.py": "marshmallow schemas of the HTTP bodies and query arguments",
    "domain.py": "the rules, without I/O",
    "operations.py": "every write path: change the state and announce it, in one transaction",
    "store.py": "the MongoDB collections, their indexes and the read models",
    "handlers.py": "what the service does with other services' records, per consumed topic",
    "jobs.py": "the worker's periodic jobs (possibly none)",
    "config.py": "DEFAULT_PORT and load_settings(environ): the settings, read once",
    "worker.py": "the worker process: consumers, outbox relay and jobs",
}
# Any other module of a service folder is one of these kinds (a file name or a glob).
OPTIONAL_MODULES: dict[str, str] = {
    "pages.py": "server-rendered HTML pages (their templates in templates/)",
    "*_page.py": "one server-rendered HTML page (its template in templates/)",
    "mail.py": "rendering e-mail, without I/O (its templates in templates/)",
    "smtp.py": "sending mail over SMTP (the transport a job uses)",
    "webhooks.py": "sending signed webhook requests (the transport a job uses)",
    "uploads.py": "receiving uploaded files (streamed multipart)",
    "archive.py": "streaming archives of stored files",
    "charts.py": "drawing charts (SVG), without I/O",
}
# ... and any folder of it one of these.
OPTIONAL_FOLDERS: dict[str, str] = {
    "templates": "Jinja2 templates of the pages and mails",
}

DEPLOYED: tuple[DeployedService, ...] = (
    DeployedService("events"),
    DeployedService("invitations"),
    DeployedService("documents"),
    DeployedService("notifications"),
    DeployedService("surveys"),
    DeployedService("catalogue", website="/"),
)


def names() -> list[str]:
    return [s.name for s in DEPLOYED]

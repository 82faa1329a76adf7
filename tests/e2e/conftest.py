"""End-to-end fixtures: services as real processes (gunicorn ``web`` and ``worker``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local import services
from deploy.local.ports import free_port
from devkit.env import service_env
from shared.bus import ensure_topics
from shared.config import Settings


@dataclass
class RunningService:
    """A service's web and worker processes and where the web listens."""

    name: str
    env: dict[str, str]
    base_url: str
    web: services.ServiceProcess
    worker: services.ServiceProcess
    log_dir: Path

    def restart_worker(self) -> None:
        self.worker = services.worker(self.name, self.env, self.log_dir).start()


@pytest.fixture
def start_service(mongo, tmp_path) -> Iterator[Callable[..., RunningService]]:
    started: list[RunningService] = []

    def start(
        name: str,
        kafka_bootstrap: str,
        env: dict[str, str] | None = None,
        *,
        port: int | None = None,
    ) -> RunningService:
        """Start ``name``'s web and worker on ``port`` (a free one unless given);
        ``env`` adds or overrides ``MLP_`` variables."""
        ensure_topics(Settings(service="tests", kafka_bootstrap=kafka_bootstrap))
        env = {**service_env(name, kafka_bootstrap, mongo.uri), **(env or {})}
        port = port or free_port()
        log_dir = tmp_path / "logs"
        web = services.web(name, port, env, log_dir).start()
        worker = services.worker(name, env, log_dir).start()
        running = RunningService(name, env, f"http://127.0.0.1:{port}", web, worker, log_dir)
        started.append(running)
        services.wait_ready(web, f"{running.base_url}/readyz")
        return running

    yield start
    for running in started:
        running.web.stop()
        running.worker.stop()

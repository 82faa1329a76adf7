"""A worker whose consumer fails exits with status 1 at once, so its supervisor
starts it again (Kubernetes, compose, ``make run``'s ``keep``). The fault
campaign saw a worker whose consumer had died stay alive for minutes, idle,
its relay failing on a closed database client."""

from __future__ import annotations

import subprocess
import sys

from deploy.local import services
from devkit.env import service_env

SERVICE = "catalogue"
# The worker as ``python -m services.catalogue.worker`` runs it, with a consumer
# that fails the moment it starts: what an unexpected error there does.
FAILING_WORKER = (
    "import runpy\n"
    "from shared import consumer\n"
    "def fail(self):\n"
    "    raise RuntimeError('the consumer broke')\n"
    "consumer.ConsumerRunner.run = fail\n"
    f"runpy.run_module('services.{SERVICE}.worker', run_name='__main__')\n"
)


def test_a_worker_whose_consumer_fails_exits_with_status_1(kafka, mongo, topics, tmp_path):
    env = service_env(SERVICE, kafka.bootstrap, mongo.uri)
    process = services.ServiceProcess(
        [sys.executable, "-c", FAILING_WORKER], env, tmp_path / "worker.log"
    ).start()
    assert process.process is not None
    try:
        code = process.process.wait(timeout=60)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        raise AssertionError(f"the worker did not exit:\n{process.tail()}") from exc
    assert code == 1, process.tail()
    assert "the consumer failed; the worker exits" in process.tail()

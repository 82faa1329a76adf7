"""Periodic jobs and leases against the real Mongo-wire server."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from pymongo import MongoClient

from shared.config import Settings
from shared.leases import Lease
from shared.outbox import Outbox
from shared.schedule import PeriodicJob, run_jobs
from shared.sealing import DEVELOPMENT_KEYS
from shared.service import ServiceContext


def _context(client: MongoClient, database) -> ServiceContext:
    return ServiceContext(
        settings=Settings(service="tests"),
        client=client,
        db=database,
        outbox=Outbox(database, "/mlp/tests", keys=DEVELOPMENT_KEYS),
        store=None,
    )


@pytest.fixture
def db(mongo):
    client = MongoClient(mongo.uri, tz_aware=True)
    database = client[f"test_jobs_{uuid.uuid4().hex[:8]}"]
    yield client, database
    client.drop_database(database.name)
    client.close()


def test_a_lease_has_one_holder_until_it_expires(db):
    _, database = db
    first = Lease(database["leases"], "relay", timedelta(seconds=1))
    second = Lease(database["leases"], "relay", timedelta(seconds=1))
    assert first.acquire()
    assert first.acquire()  # renewing is fine
    assert not second.acquire()
    time.sleep(1.2)
    assert second.acquire()  # the first holder stopped renewing
    assert not first.acquire()
    second.release()
    assert first.acquire()


def test_a_job_runs_in_one_of_several_workers(db):
    client, database = db
    runs: list[str] = []
    lock = threading.Lock()

    def job_for(worker: str) -> PeriodicJob:
        def run(ctx: ServiceContext) -> int:
            with lock:
                runs.append(worker)
            return 1

        return PeriodicJob("reminders", 0.2, run)

    stop = threading.Event()
    ctx = _context(client, database)
    threads = [
        threading.Thread(target=run_jobs, args=([job_for(name)], ctx, stop), daemon=True)
        for name in ("worker-a", "worker-b", "worker-c")
    ]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(runs) >= 5  # it ran, about every 0.2 s
    assert len(set(runs)) == 1  # and always in the worker that holds the lease


def test_a_failing_job_is_retried_at_its_next_interval(db):
    client, database = db
    attempts: list[float] = []

    def flaky(ctx: ServiceContext) -> int:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RuntimeError("the first run fails")
        return 0

    stop = threading.Event()
    ctx = _context(client, database)
    thread = threading.Thread(
        target=run_jobs, args=([PeriodicJob("flaky", 0.2, flaky)], ctx, stop), daemon=True
    )
    thread.start()
    time.sleep(1.0)
    stop.set()
    thread.join(timeout=10)
    assert len(attempts) >= 2

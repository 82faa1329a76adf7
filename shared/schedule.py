"""Periodic jobs of a worker (expiring invitations at the deadline, reminders).

Each job runs under a lease, so with several worker replicas one of them runs
it at a time. A job must still be idempotent per item (for instance a unique
``reminders`` row written in the same transaction as its outbox record), since
a lease can change hands in the middle of a run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from shared.context import fresh_context, set_context
from shared.leases import Lease
from shared.service import ServiceContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    """``run`` every ``interval_s`` seconds; it returns how many items it handled.

    ``close``, when given, is called once when the worker stops (a job that
    keeps threads or connections of its own releases them there).
    """

    name: str
    interval_s: float
    run: Callable[[ServiceContext], int]
    close: Callable[[], None] | None = None


def run_jobs(jobs: list[PeriodicJob], ctx: ServiceContext, stop: threading.Event) -> None:
    """Run ``jobs`` until ``stop`` is set; a failing run is logged and retried next time."""
    leases = {
        job.name: Lease(ctx.db["leases"], f"job:{job.name}", timedelta(seconds=job.interval_s * 3))
        for job in jobs
    }
    due = dict.fromkeys((job.name for job in jobs), 0.0)
    while not stop.is_set():
        for job in jobs:
            if stop.is_set() or time.monotonic() < due[job.name]:
                continue
            due[job.name] = time.monotonic() + job.interval_s
            try:
                if leases[job.name].acquire():
                    set_context(fresh_context())
                    handled = job.run(ctx)
                    if handled:
                        log.info("job ran", extra={"job": job.name, "handled": handled})
            except Exception:
                log.exception("job failed; it runs again at its next interval")
            finally:
                set_context(None)
        stop.wait(min(job.interval_s for job in jobs) if jobs else 1.0)

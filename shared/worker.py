"""The ``worker`` process of a service: the outbox relay, the periodic jobs and
the consumer loop.

All stop gracefully on SIGTERM or SIGINT: the record in hand is finished and
committed, the relay finishes its batch, then clients are closed.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from prometheus_client import start_http_server
from pymongo.database import Database

from shared.acls import service_topics
from shared.bus import ensure_topics, make_consumer, make_producer
from shared.config import Settings
from shared.consumer import ConsumerRunner, Subscriptions
from shared.logs import configure_logging
from shared.outbox import OutboxRelay
from shared.schedule import PeriodicJob, run_jobs
from shared.service import ServiceContext, St, start_service

log = logging.getLogger(__name__)
SHUTDOWN_BUDGET_S = 2.0


def _serve_metrics(port: int) -> None:
    """Expose the worker's Prometheus metrics (consumer lag, outbox backlog) on ``port``."""
    if port <= 0:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("worker metrics not served", extra={"port": port, "error": str(exc)})


def run_worker(
    settings: Settings,
    store_factory: Callable[[Database], St],
    subscriptions: Subscriptions,
    jobs: Callable[[ServiceContext], list[PeriodicJob]] | None = None,
) -> None:
    """Run the relay and the service's periodic ``jobs`` (in threads) and the
    consumer (in the main thread) until SIGTERM."""
    configure_logging(settings.service, settings.log_level)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    _serve_metrics(settings.worker_metrics_port)
    # Under ACLs the worker may neither see nor create other services' topics:
    # it needs its own to exist (created here, or by the provisioning job).
    ensure_topics(settings, needed=service_topics(settings.service, subscriptions.topics))
    ctx = start_service(settings, store_factory)
    periodic = jobs(ctx) if jobs is not None else []
    relay = OutboxRelay(ctx.db, lambda: make_producer(settings), stop=stop)
    relay_thread = threading.Thread(target=relay.run, name="outbox-relay", daemon=True)
    relay_thread.start()
    jobs_thread = threading.Thread(
        target=run_jobs, args=(periodic, ctx, stop), name="periodic-jobs", daemon=True
    )
    if periodic:
        jobs_thread.start()
    log.info("worker started", extra={"topics": subscriptions.topics})

    try:
        if subscriptions.by_topic:
            runner = ConsumerRunner(
                group=settings.service,
                subscriptions=subscriptions,
                ctx=ctx,
                consumer_factory=lambda: make_consumer(
                    settings, settings.service, subscriptions.topics
                ),
                producer_factory=lambda: make_producer(settings),
                max_attempts=settings.consumer_max_attempts,
                stop=stop,
            )
            runner.ensure_indexes()
            runner.run()
        else:
            stop.wait()
        # A relay round ends within a second when Kafka and MongoDB answer; when they
        # are stopping too, the threads (daemons) are not waited for past the budget
        # a supervisor allows (honcho kills after 5 s).
        relay_thread.join(timeout=SHUTDOWN_BUDGET_S)
        if periodic:
            jobs_thread.join(timeout=SHUTDOWN_BUDGET_S)
    finally:
        for job in periodic:
            if job.close is not None:
                job.close()
        ctx.close()
    log.info("worker stopped")

"""The ``worker`` process of a service: the outbox relay, the periodic jobs and
the consumer loop.

All stop gracefully on SIGTERM or SIGINT: the record in hand is finished and
committed, the relay finishes its batch, then clients are closed (the consumer
leaving its group, so its partitions move at once). The metrics port also
answers ``/readyz``: ready once the consumer has its partitions.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from kafka.consumer.subscription_state import ConsumerRebalanceListener
from prometheus_client import make_wsgi_app
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


class Readiness(ConsumerRebalanceListener):
    """Whether the worker does its work: set once its consumer has joined its group
    and been given its partitions (possibly none, with more workers than
    partitions), or at once for a worker that consumes nothing."""

    def __init__(self) -> None:
        self.ready = threading.Event()

    def on_partitions_revoked(self, revoked: object) -> None:
        """Nothing to do: offsets are committed after each batch, never later."""

    def on_partitions_assigned(self, assigned: object) -> None:
        if not self.ready.is_set():
            log.info("consumer joined its group", extra={"partitions": len(list(assigned))})
        self.ready.set()


def _status_app(readiness: Readiness) -> Callable[..., Iterable[bytes]]:
    """The worker's own HTTP surface: ``/readyz`` (200 once ready, else 503) and
    the Prometheus metrics (consumer lag, outbox backlog) on every other path."""
    metrics = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/readyz":
            ready = readiness.ready.is_set()
            body = json.dumps({"status": "ready" if ready else "starting"}).encode()
            status = "200 OK" if ready else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [body]
        return metrics(environ, start_response)

    return app


class _StatusServer(ThreadingMixIn, WSGIServer):
    """One thread per request, so a stalled scraper never blocks the probes."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are not worth a log line."""


def _serve_status(port: int, readiness: Readiness) -> None:
    """Serve :func:`_status_app` on ``port`` from a daemon thread (0: not at all)."""
    if port <= 0:
        return
    try:
        server = make_server(
            "", port, _status_app(readiness), _StatusServer, handler_class=_QuietHandler
        )
    except OSError as exc:
        log.warning("worker metrics not served", extra={"port": port, "error": str(exc)})
        return
    threading.Thread(target=server.serve_forever, name="worker-status", daemon=True).start()


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

    readiness = Readiness()
    _serve_status(settings.worker_metrics_port, readiness)
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

    failed = False
    try:
        if subscriptions.by_topic:
            runner = ConsumerRunner(
                group=settings.service,
                subscriptions=subscriptions,
                ctx=ctx,
                consumer_factory=lambda: make_consumer(
                    settings, settings.service, subscriptions.topics, readiness
                ),
                producer_factory=lambda: make_producer(settings),
                max_attempts=settings.consumer_max_attempts,
                stop=stop,
            )
            runner.ensure_indexes()
            runner.run()
        else:
            readiness.ready.set()
            stop.wait()
        # A relay round ends within a second when Kafka and MongoDB answer; when they
        # are stopping too, the threads (daemons) are not waited for past the budget
        # a supervisor allows (honcho kills after 5 s).
        relay_thread.join(timeout=SHUTDOWN_BUDGET_S)
        if periodic:
            jobs_thread.join(timeout=SHUTDOWN_BUDGET_S)
    except Exception:
        failed = True
        log.exception("the consumer failed; the worker exits so that it is started again")
        stop.set()
    finally:
        for job in periodic:
            if job.close is not None:
                job.close()
        ctx.close()
    if failed:
        # At once, with status 1: a thread a client library left behind would
        # otherwise keep the process alive, idle and still answering /readyz
        # from before (the fault campaign saw one so for minutes).
        logging.shutdown()
        os._exit(1)
    log.info("worker stopped")

"""``python -m deploy.local ready``: say where everything listens once it is all up.

Polls Kafka, every service's MongoDB, the SMTP sink, every service's ``GET /readyz`` and every
worker's (ready once its consumer holds its partitions) (the services of
:mod:`deploy.catalog`, on the ports of
:class:`~deploy.local.settings.LocalStack`) until all answer, for at most 90 s;
prints one block with the addresses and the time it took; then sleeps until
SIGTERM so that honcho keeps the process set running. Exits 1 when something is
not ready in time, which makes honcho stop the whole set.
"""

from __future__ import annotations

import smtplib
import sys
import time
from collections.abc import Callable

import requests

from deploy.local.kafka import kafka_answers
from deploy.local.mongo import mongo_answers
from deploy.local.process import wait_forever
from deploy.local.settings import LocalStack

TIMEOUT = 90.0


def smtp_answers(host: str, port: int) -> bool:
    """Whether an SMTP server on ``host:port`` greets and answers NOOP."""
    try:
        with smtplib.SMTP(host, port, timeout=2) as client:
            return client.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def http_ready(url: str) -> bool:
    """Whether ``GET url`` answers 200."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def checks(stack: LocalStack) -> dict[str, Callable[[], bool]]:
    """What must answer before the stack is ready, by name."""
    waiting: dict[str, Callable[[], bool]] = {
        "Kafka": lambda: kafka_answers(stack.kafka_bootstrap),
        "SMTP sink": lambda: smtp_answers(stack.smtp_host, stack.smtp_port),
    }
    for name, uri in stack.mongo_uris.items():
        waiting[f"MongoDB ({name})"] = lambda uri=uri: mongo_answers(uri, need_primary=True)
    for name in stack.service_ports:
        url = f"{stack.service_url(name)}/readyz"
        waiting[name] = lambda url=url: http_ready(url)
    # A worker is ready once its consumer holds its partitions (shared.worker).
    for name in stack.worker_ports:
        url = f"{stack.worker_url(name)}/readyz"
        waiting[f"{name} worker"] = lambda url=url: http_ready(url)
    return waiting


def summary(stack: LocalStack, seconds: float) -> str:
    """The block printed once everything answers."""
    width = max([len(name) for name in stack.service_ports] + [len("SMTP sink")])
    lines = ["", "MLP Ops is running:"]
    lines += [f"  {name:<{width}}  {stack.service_url(name)}" for name in stack.service_ports]
    lines += [
        f"  {'website':<{width}}  {url}  (the {name} service's public pages)"
        for name, url in stack.websites().items()
    ]
    lines += [
        f"  {'Kafka':<{width}}  {stack.kafka_bootstrap}",
        *(f"  {'MongoDB':<{width}}  {uri}  ({name})" for name, uri in stack.mongo_uris.items()),
        f"  {'SMTP sink':<{width}}  smtp://{stack.smtp_host}:{stack.smtp_port}"
        f" -> Maildir {stack.mail_dir.resolve()}",
        f"Ready in {seconds:.1f} s. Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def main(stack: LocalStack) -> None:
    """Wait for everything, print the summary, then idle."""
    started = time.monotonic()
    pending = checks(stack)
    while pending:
        for name, check in list(pending.items()):
            if check():
                del pending[name]
        if pending and time.monotonic() - started > TIMEOUT:
            sys.exit(f"Not ready after {TIMEOUT:.0f} s: {', '.join(pending)}; see the log above.")
        if pending:
            time.sleep(0.5)
    wait_forever(summary(stack, time.monotonic() - started))

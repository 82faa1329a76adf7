"""``python -m deploy.local.ready``: say where everything listens once it is all up.

Polls Kafka, MongoDB, the SMTP sink and every service's ``GET /readyz`` (the
services are the ``<name>-web`` entries of ``deploy/local/Procfile``, with the port
of their ``--bind``) until all answer, for at most 90 s; prints one block with the
addresses and the time it took; then sleeps until SIGTERM so that honcho keeps the
process set running. Exits 1 when something is not ready in time, which makes
honcho stop the whole set.
"""

from __future__ import annotations

import os
import re
import smtplib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from deploy.local.infra import kafka_answers, mongo_answers, wait_forever

PROCFILE = Path(__file__).resolve().parent / "Procfile"
TIMEOUT = 90.0
_WEB_ENTRY = re.compile(
    r"^(?P<service>[a-z0-9_]+)-web\s*:.*--bind\s+(?P<host>[^\s:]+):"
    r"(?:\$\{(?P<var>\w+):-(?P<default>\d+)\}|(?P<port>\d+))"
)


def procfile_services(procfile: Path = PROCFILE) -> dict[str, tuple[str, int]]:
    """Service name -> (host, port) for every ``<name>-web`` entry of the Procfile.

    A port written ``${MLP_EVENTS_PORT:-8001}`` is resolved as the shell would.
    """
    services: dict[str, tuple[str, int]] = {}
    for line in procfile.read_text().splitlines():
        match = _WEB_ENTRY.match(line.strip())
        if match:
            port = match["port"] or os.environ.get(match["var"]) or match["default"]
            services[match["service"]] = (match["host"], int(port))
    return services


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


def main(argv: list[str]) -> None:
    """Wait for everything, print the summary, then idle.

    ``--procfile PATH`` names another Procfile to read the services from.
    """
    started = time.monotonic()
    procfile = Path(argv[1]) if argv[:1] == ["--procfile"] and len(argv) > 1 else PROCFILE
    bootstrap = os.environ.get("MLP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    mongo_uri = os.environ.get("MLP_MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
    smtp_host = os.environ.get("MLP_SMTP_HOST", "127.0.0.1")
    smtp_port = int(os.environ.get("MLP_SMTP_PORT", "1025"))
    mail_dir = Path(os.environ.get("MLP_MAIL_DIR", "var/mail")).resolve()
    services = procfile_services(procfile)

    checks: dict[str, Callable[[], bool]] = {
        "Kafka": lambda: kafka_answers(bootstrap),
        "MongoDB": lambda: mongo_answers(mongo_uri, need_primary=True),
        "SMTP sink": lambda: smtp_answers(smtp_host, smtp_port),
    }
    for name, (host, port) in services.items():
        checks[name] = lambda host=host, port=port: http_ready(f"http://{host}:{port}/readyz")

    pending = dict(checks)
    while pending:
        for name, check in list(pending.items()):
            if check():
                del pending[name]
        if pending and time.monotonic() - started > TIMEOUT:
            sys.exit(f"Not ready after {TIMEOUT:.0f} s: {', '.join(pending)}; see the log above.")
        if pending:
            time.sleep(0.5)

    width = max([len(name) for name in services] + [len("SMTP sink")])
    lines = ["", "MLP Ops is running:"]
    lines += [f"  {name:<{width}}  http://{host}:{port}" for name, (host, port) in services.items()]
    lines += [
        f"  {'Kafka':<{width}}  {bootstrap}",
        f"  {'MongoDB':<{width}}  {mongo_uri}",
        f"  {'SMTP sink':<{width}}  smtp://{smtp_host}:{smtp_port} -> Maildir {mail_dir}",
        f"Ready in {time.monotonic() - started:.1f} s. Ctrl-C stops everything.",
        "",
    ]
    wait_forever("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])

"""The ``make run`` process set: Kafka, a MongoDB per service, the SMTP sink and every
service of :mod:`deploy.catalog` (web and worker), run by honcho from the
generated ``deploy/local/Procfile``, with their addresses from
:class:`~deploy.local.settings.LocalStack`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from deploy.local.errors import PrerequisiteError
from deploy.local.kafka import KafkaServer
from deploy.local.mongo import MongoServer
from deploy.local.ports import refuse_taken_port
from deploy.local.process import wait_forever
from deploy.local.settings import LocalStack
from deploy.local.smtp_sink import run_foreground as run_smtp_sink

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROCFILE = HERE / "Procfile"


def local_kafka(stack: LocalStack) -> KafkaServer | None:
    """The broker the stack starts, or ``None`` when MLP_KAFKA_BOOTSTRAP points elsewhere."""
    if not stack.runs_kafka:
        return None
    return KafkaServer(stack.kafka_port, stack.kafka_controller_port, stack.kafka_data_dir)


def local_mongos(stack: LocalStack) -> dict[str, MongoServer]:
    """The Mongo-wire servers the stack starts, one per service (none for a
    service whose MLP_MONGO_URI / MLP_<SERVICE>_MONGO_URI names another)."""
    return {
        name: MongoServer(port, stack.mongo_dir(name))
        for name, port in stack.local_mongo_ports.items()
    }


def ports(stack: LocalStack) -> dict[str, tuple[int, str]]:
    """Every loopback port the process set will listen on, with a hint what to set."""
    taken: dict[str, tuple[int, str]] = {}
    if stack.runs_kafka:
        hint = "set MLP_KAFKA_PORT, or MLP_KAFKA_BOOTSTRAP to use a Kafka you run"
        taken["Kafka"] = (stack.kafka_port, hint)
        taken["Kafka controller"] = (stack.kafka_controller_port, "set MLP_KAFKA_CONTROLLER_PORT")
    for name, port in stack.local_mongo_ports.items():
        hint = f"set MLP_MONGO_PORT, or MLP_{name.upper()}_MONGO_URI to use a MongoDB you run"
        taken[f"MongoDB ({name})"] = (port, hint)
    taken["SMTP sink"] = (stack.smtp_port, "set MLP_SMTP_PORT")
    for service, port in stack.service_ports.items():
        taken[f"{service} service"] = (port, f"set MLP_{service.upper()}_PORT")
    return taken


def serve(what: str, stack: LocalStack) -> None:
    """Run the local ``kafka``, a service's ``mongo-<service>`` or the ``smtp``
    sink in the foreground (a Procfile entry), or idle when MLP_KAFKA_BOOTSTRAP /
    MLP_MONGO_URI / MLP_<SERVICE>_MONGO_URI name a server someone else runs."""
    if what == "smtp":
        refuse_taken_port(stack.smtp_port, "SMTP sink", "set MLP_SMTP_PORT")
        run_smtp_sink(stack.smtp_host, stack.smtp_port, stack.mail_dir)
        return
    server: KafkaServer | MongoServer | None
    if what == "kafka":
        server = local_kafka(stack)
        external = f"Using the Kafka at {stack.kafka_bootstrap}; not starting one."
    else:
        service = what.removeprefix("mongo-")
        server = local_mongos(stack).get(service)
        external = f"Using the MongoDB at {stack.mongo_uris[service]}; not starting one."
    if server is None:
        wait_forever(external)
        return
    server.run_foreground()


def run(stack: LocalStack, procfile: Path = PROCFILE) -> None:
    """Replace this process with honcho running the whole process set, every
    process with the stack's environment (:meth:`LocalStack.environment`)."""
    os.chdir(ROOT)
    (ROOT / "var").mkdir(exist_ok=True)
    honcho = str(Path(sys.executable).parent / "honcho")
    if not os.access(honcho, os.X_OK):
        raise PrerequisiteError(f"{honcho} is missing; run `make venv` (it runs the Procfile).")
    env = {**os.environ, **stack.environment()}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(honcho, [honcho, "-f", str(procfile), "-d", str(ROOT), "start"], env)  # noqa: S606

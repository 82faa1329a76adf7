"""A MongoDB-wire server on loopback as a plain local process: ``mongod`` (as a
one-member replica set) when it is on the PATH, otherwise SecantusDB, always as
a separate process (it is GPL: never import it).

``make run`` runs it in the foreground (:meth:`MongoServer.run_foreground`); the
test fixtures and the benchmarks start and stop servers of their own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.local.ports import port_in_use, refuse_taken_port
from deploy.local.process import START_TIMEOUT, ServerProcess, require_command
from shared.config import LOOPBACK, local_mongo_uri

REPLICA_SET = "rs0"


class MongoServer(ServerProcess):
    """A MongoDB-wire server on loopback: ``mongod`` (replica set) or SecantusDB."""

    name = "mongo"

    def __init__(
        self,
        port: int,
        data_dir: Path,
        log_file: Path | None = None,
        engine: str | None = None,
    ) -> None:
        super().__init__(data_dir, log_file)
        self.port = port
        self.engine = engine or ("mongod" if shutil.which("mongod") else "secantus")

    @property
    def uri(self) -> str:
        """The connection string of this server."""
        return local_mongo_uri(self.port)

    def command(self) -> list[str]:
        """The command line that runs the server in the foreground."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.engine == "mongod":
            return [
                require_command("mongod", "MongoDB server"),
                "--replSet",
                REPLICA_SET,
                "--bind_ip",
                LOOPBACK,
                "--port",
                str(self.port),
                "--dbpath",
                str(self.data_dir),
            ]
        return [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--storage-path",
            str(self.data_dir),
            "--log-level",
            "WARNING",
        ]

    def _check_ports(self) -> None:
        refuse_taken_port(
            self.port, "MongoDB", "set MLP_MONGO_PORT, or MLP_MONGO_URI to use another MongoDB"
        )

    def start(self, timeout: float = START_TIMEOUT) -> MongoServer:
        """Start the server and wait until it answers ``ping`` as a writable primary."""
        if self.running:
            return self
        self._check_ports()
        self._spawn(self.command())
        self._wait_ready(timeout)
        return self

    def _ready(self) -> bool:
        if not port_in_use(LOOPBACK, self.port):
            return False
        if self.engine == "mongod":
            initiate_replica_set(self.uri, f"{LOOPBACK}:{self.port}")
        return mongo_answers(self.uri, need_primary=True)

    def restart(self, timeout: float = START_TIMEOUT) -> MongoServer:
        """Stop and start again on the same port with the same data."""
        self.stop()
        return self.start(timeout)

    def run_foreground(self) -> None:
        """Run the server until SIGTERM/SIGINT.

        SecantusDB replaces this process (``execv``). ``mongod`` runs as a child so
        that this process can initiate its replica set; signals are forwarded to it.
        """
        self._check_ports()
        command = self.command()
        sys.stdout.flush()
        sys.stderr.flush()
        if self.engine != "mongod":
            os.execv(command[0], command)  # noqa: S606 - hand signals to the server
        child = subprocess.Popen(command)

        def forward(signum: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        deadline = time.monotonic() + START_TIMEOUT
        while child.poll() is None and time.monotonic() < deadline:
            if port_in_use(LOOPBACK, self.port):
                initiate_replica_set(self.uri, f"{LOOPBACK}:{self.port}")
                if mongo_answers(self.uri, need_primary=True):
                    break
            time.sleep(0.2)
        sys.exit(child.wait())


def initiate_replica_set(uri: str, member: str) -> None:
    """Initiate a one-member replica set ``rs0`` unless it is initiated already."""
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure, PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        client.admin.command("replSetGetStatus")
    except OperationFailure as exc:
        if exc.code == 94:  # NotYetInitialized
            with contextlib.suppress(PyMongoError):
                client.admin.command(
                    "replSetInitiate",
                    {"_id": REPLICA_SET, "members": [{"_id": 0, "host": member}]},
                )
    except PyMongoError:
        pass
    finally:
        client.close()


def mongo_answers(uri: str, need_primary: bool = False, timeout_ms: int = 2000) -> bool:
    """Whether the server at ``uri`` answers ``ping`` (and is a writable primary)."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        if need_primary:
            hello = client.admin.command("hello")
            return bool(hello.get("isWritablePrimary"))
        return True
    except PyMongoError:
        return False
    finally:
        client.close()

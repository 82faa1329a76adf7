"""Real Kafka and MongoDB-wire servers as plain local processes.

Used both by the ``make run`` process set (``python -m deploy.local.infra serve
kafka|mongo`` calls :meth:`KafkaServer.run_foreground` or
:meth:`MongoServer.run_foreground`) and by the test fixtures in ``tests/infra.py``
(which call :meth:`start` / :meth:`stop` on free ports with data in a temp dir).

- Kafka is the real Apache Kafka broker in combined broker+controller KRaft mode on
  loopback. Its jars come from Maven Central through ``deploy/local/pom.xml`` and are
  cached in ``$MLP_CACHE_DIR`` (default ``~/.cache/mlp``) under ``kafka-<version>``.
- MongoDB is ``mongod`` (as a one-member replica set) when it is on the PATH,
  otherwise SecantusDB, always as a separate process (it is GPL: never import it).

Command line: ``python -m deploy.local.infra jars`` fetches the Kafka jars;
``python -m deploy.local.infra check-ports`` checks that the ports ``make run`` needs
are free.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

KAFKA_VERSION = "4.1.1"
HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j2.properties"
LOOPBACK = "127.0.0.1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

DEFAULT_KAFKA_PORT = 9092
DEFAULT_KAFKA_CONTROLLER_PORT = 9093
DEFAULT_MONGO_PORT = 27017
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class PrerequisiteError(Exception):
    """Something the local infrastructure needs is missing or in the way."""


class StartError(Exception):
    """A local server did not come up; the message carries the tail of its log."""


# --------------------------------------------------------------------------- jars


def cache_dir() -> Path:
    """The folder outside the repository where downloaded artefacts are kept."""
    return Path(os.environ.get("MLP_CACHE_DIR") or Path.home() / ".cache" / "mlp")


def kafka_libs_dir() -> Path:
    """The folder holding every jar the Kafka broker needs."""
    return cache_dir() / f"kafka-{KAFKA_VERSION}"


def require_command(name: str, purpose: str) -> str:
    """Return the path of ``name`` on the PATH or raise a one-sentence error."""
    path = shutil.which(name)
    if path is None:
        raise PrerequisiteError(f"`{name}` is not on the PATH; install it ({purpose}).")
    return path


def ensure_kafka_jars() -> Path:
    """Fetch the Kafka jars into the cache unless they are there; return their folder.

    Maven downloads into a temporary sibling folder which is renamed into place only
    when complete, so a half download is never used.
    """
    libs = kafka_libs_dir()
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    require_command("java", "a Java 17+ runtime runs the local Kafka broker")
    mvn = require_command("mvn", "Maven fetches the Kafka jars from Maven Central")
    libs.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{libs.name}-", dir=libs.parent))
    try:
        print(f"Fetching Apache Kafka {KAFKA_VERSION} jars into {libs} ...", file=sys.stderr)
        result = subprocess.run(
            [mvn, "-q", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise PrerequisiteError(f"Maven could not fetch the Kafka jars:\n{tail}")
        try:
            tmp.rename(libs)
        except OSError:
            # Another process finished first; keep its copy.
            if not any(libs.glob("kafka_2.13-*.jar")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return libs


# -------------------------------------------------------------------------- ports


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Block until ``host:port`` accepts connections; raise ``TimeoutError`` otherwise."""
    deadline = time.monotonic() + timeout
    while not port_in_use(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Nothing listens on {host}:{port} after {timeout:.0f} s.")
        time.sleep(0.1)


def refuse_taken_port(port: int, what: str, hint: str) -> None:
    """Raise a one-sentence :class:`PrerequisiteError` if ``port`` is taken."""
    if port_in_use(LOOPBACK, port):
        raise PrerequisiteError(
            f"Port {port} ({what}) is already in use; stop what uses it or {hint}."
        )


def _tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty log)"


# ------------------------------------------------------------------ process base


class _ServerProcess:
    """A server running as a child process in its own process group."""

    name = "server"

    def __init__(self, data_dir: Path, log_file: Path | None) -> None:
        self.data_dir = Path(data_dir)
        self.log_file = Path(log_file) if log_file else self.data_dir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self.process is not None and self.process.poll() is None

    def _spawn(self, command: list[str]) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _fail(self, reason: str) -> StartError:
        self.kill()
        tail = _tail(self.log_file)
        return StartError(f"{self.name} {reason}; last lines of {self.log_file}:\n{tail}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise self._fail(f"exited during start-up (exit code {code})")
            if self._ready():
                return
            if time.monotonic() > deadline:
                raise self._fail(f"was not ready after {timeout:.0f} s")
            time.sleep(0.2)

    def _ready(self) -> bool:
        raise NotImplementedError

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the server to shut down (SIGTERM); SIGKILL it after ``timeout`` seconds."""
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()
        self._close()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait()
        self._close()

    def _close(self) -> None:
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


# -------------------------------------------------------------------------- Kafka


def new_cluster_id() -> str:
    """A Kafka cluster id, as ``StorageTool random-uuid`` makes it, without a JVM."""
    while True:
        raw = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not raw.startswith("-"):
            return raw


class KafkaServer(_ServerProcess):
    """One Apache Kafka broker+controller (KRaft) on loopback."""

    name = "kafka"

    def __init__(
        self,
        port: int,
        controller_port: int,
        data_dir: Path,
        log_file: Path | None = None,
        heap: str = "512m",
    ) -> None:
        super().__init__(data_dir, log_file)
        self.port = port
        self.controller_port = controller_port
        self.heap = heap

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` value that reaches this broker."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def properties_file(self) -> Path:
        """The broker's ``server.properties``."""
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        """The folder holding the broker's partitions and metadata log."""
        return self.data_dir / "data"

    def write_properties(self) -> Path:
        """Write ``server.properties`` for the current ports and data folder."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{LOOPBACK}:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.log_dir.resolve()),
            "num.partitions": "3",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in props.items())
        self.properties_file.write_text(text)
        return self.properties_file

    def _java(self, main: str, *args: str, heap: str | None = None) -> list[str]:
        java = require_command("java", "a Java 17+ runtime runs the local Kafka broker")
        command = [java]
        if heap:
            command.append(f"-Xmx{heap}")
        command += [
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{kafka_libs_dir()}/*",
            main,
            *args,
        ]
        return command

    def prepare(self) -> list[str]:
        """Fetch jars, write the config and format storage if needed; return the java command."""
        ensure_kafka_jars()
        props = self.write_properties()
        if not (self.log_dir / "meta.properties").exists():
            result = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "--ignore-formatted",
                    "-t",
                    new_cluster_id(),
                    "-c",
                    str(props),
                    heap="256m",
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise StartError(
                    f"Formatting Kafka storage in {self.log_dir} failed:\n"
                    f"{result.stdout}{result.stderr}"
                )
        return self._java("kafka.Kafka", str(props), heap=self.heap)

    def _check_ports(self) -> None:
        hint = (
            "set MLP_KAFKA_PORT/MLP_KAFKA_CONTROLLER_PORT, "
            "or MLP_KAFKA_BOOTSTRAP to use another Kafka"
        )
        refuse_taken_port(self.port, "Kafka", hint)
        refuse_taken_port(self.controller_port, "Kafka controller", hint)

    def start(self, timeout: float = START_TIMEOUT) -> KafkaServer:
        """Start the broker and wait until it answers metadata requests."""
        if self.running:
            return self
        self._check_ports()
        command = self.prepare()
        self._spawn(command)
        self._wait_ready(timeout)
        return self

    def _ready(self) -> bool:
        if not port_in_use(LOOPBACK, self.port):
            return False
        return kafka_answers(self.bootstrap)

    def restart(self, timeout: float = START_TIMEOUT) -> KafkaServer:
        """Stop and start again on the same ports with the same data."""
        self.stop()
        return self.start(timeout)

    def run_foreground(self) -> None:
        """Replace this process with the broker, so signals reach java directly."""
        self._check_ports()
        command = self.prepare()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(command[0], command)  # noqa: S606 - hand signals to the server


def kafka_answers(bootstrap: str, timeout_ms: int = 3000) -> bool:
    """Whether the Kafka cluster at ``bootstrap`` answers a metadata request."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
            client_id="mlp-infra-probe",
        )
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            admin.close()


# -------------------------------------------------------------------------- Mongo


class MongoServer(_ServerProcess):
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
        return f"mongodb://{LOOPBACK}:{self.port}/?directConnection=true"

    def command(self) -> list[str]:
        """The command line that runs the server in the foreground."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.engine == "mongod":
            return [
                require_command("mongod", "MongoDB server"),
                "--replSet",
                "rs0",
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
                    "replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": member}]}
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


# ------------------------------------------------------- the local process set


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise PrerequisiteError(f"{name} must be an integer, got {raw!r}.") from exc


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    if not host:
        return port, default_port
    return host.strip("[]"), int(port) if port.isdigit() else default_port


def local_kafka() -> KafkaServer | None:
    """The broker ``make run`` starts, or ``None`` when MLP_KAFKA_BOOTSTRAP points elsewhere."""
    port = _env_int("MLP_KAFKA_PORT", DEFAULT_KAFKA_PORT)
    bootstrap = os.environ.get("MLP_KAFKA_BOOTSTRAP", f"{LOOPBACK}:{port}")
    servers = [s for s in bootstrap.split(",") if s.strip()]
    if len(servers) != 1:
        return None
    host, bport = _host_port(servers[0], DEFAULT_KAFKA_PORT)
    if host not in LOCAL_HOSTS or bport != port:
        return None
    return KafkaServer(
        port=port,
        controller_port=_env_int("MLP_KAFKA_CONTROLLER_PORT", DEFAULT_KAFKA_CONTROLLER_PORT),
        data_dir=Path(os.environ.get("MLP_KAFKA_DATA_DIR", "var/kafka")),
    )


def local_mongo() -> MongoServer | None:
    """The server ``make run`` starts, or ``None`` when MLP_MONGO_URI points elsewhere."""
    port = _env_int("MLP_MONGO_PORT", DEFAULT_MONGO_PORT)
    uri = os.environ.get("MLP_MONGO_URI", f"mongodb://{LOOPBACK}:{port}/?directConnection=true")
    parts = urlsplit(uri)
    hosts = parts.netloc.rpartition("@")[2].split(",")
    if parts.scheme != "mongodb" or len(hosts) != 1:
        return None
    host, uport = _host_port(hosts[0], DEFAULT_MONGO_PORT)
    if host not in LOCAL_HOSTS or uport != port:
        return None
    return MongoServer(port=port, data_dir=Path(os.environ.get("MLP_MONGO_DATA_DIR", "var/mongo")))


def wait_forever(message: str) -> None:
    """Print ``message`` and sleep until SIGTERM/SIGINT (keeps honcho's set running)."""
    print(message, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()


def check_ports(ports: dict[str, tuple[int, str]]) -> None:
    """Raise one sentence naming the first taken port; ``ports`` maps what -> (port, hint)."""
    for what, (port, hint) in ports.items():
        refuse_taken_port(port, what, hint)


def procfile_ports() -> dict[str, tuple[int, str]]:
    """Every loopback port the ``make run`` process set will listen on, with a hint."""
    ports: dict[str, tuple[int, str]] = {}
    kafka = local_kafka()
    if kafka is not None:
        hint = "set MLP_KAFKA_PORT, or MLP_KAFKA_BOOTSTRAP to use a Kafka you run"
        ports["Kafka"] = (kafka.port, hint)
        ports["Kafka controller"] = (kafka.controller_port, "set MLP_KAFKA_CONTROLLER_PORT")
    mongo = local_mongo()
    if mongo is not None:
        hint = "set MLP_MONGO_PORT, or MLP_MONGO_URI to use a MongoDB you run"
        ports["MongoDB"] = (mongo.port, hint)
    ports["SMTP sink"] = (_env_int("MLP_SMTP_PORT", 1025), "set MLP_SMTP_PORT")
    from deploy.local.ready import procfile_services

    for service, (_host, port) in procfile_services().items():
        ports[f"{service} service"] = (port, f"set MLP_{service.upper()}_PORT")
    return ports


def serve(what: str) -> None:
    """Run the local ``kafka`` or ``mongo`` in the foreground (a Procfile entry), or
    idle when MLP_KAFKA_BOOTSTRAP / MLP_MONGO_URI name a server someone else runs."""
    server: KafkaServer | MongoServer | None
    if what == "kafka":
        server = local_kafka()
        external = f"Using the Kafka at {os.environ.get('MLP_KAFKA_BOOTSTRAP')}; not starting one."
    else:
        server = local_mongo()
        external = "Using the MongoDB given by MLP_MONGO_URI; not starting one."
    if server is None:
        wait_forever(external)
        return
    server.run_foreground()


USAGE = "usage: python -m deploy.local.infra {jars | check-ports | serve kafka | serve mongo}"


def main(argv: list[str]) -> int:
    """``jars`` fetches the Kafka jars; ``check-ports`` checks the make-run ports are free;
    ``serve kafka|mongo`` runs one server of the process set."""
    try:
        if argv == ["jars"]:
            print(ensure_kafka_jars())
        elif argv == ["check-ports"]:
            check_ports(procfile_ports())
        elif argv in (["serve", "kafka"], ["serve", "mongo"]):
            serve(argv[1])
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except (PrerequisiteError, StartError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Start a service's ``web`` (gunicorn) and ``worker`` processes from Python,
for the end-to-end tests and the benchmarks: the same commands as the Procfile
(which ``deploy/manifests.py`` writes with these functions).
Each runs in a process group of its own, so stopping it stops its children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from shared.config import LOOPBACK

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
GUNICORN_CONF = "shared/gunicorn_conf.py"


class ServiceProcess:
    """One process of a service, its output in ``log_file``."""

    def __init__(self, command: list[str], env: dict[str, str], log_file: Path) -> None:
        self.command = command
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pgid(self) -> int:
        """The process group (the gunicorn master and its workers share it)."""
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait for a graceful exit, SIGKILL after ``timeout``; the exit code."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.wait()
        self.signal(signal.SIGKILL)  # stragglers of the group, if any
        return code

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything (a crash)."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def gunicorn_command(app: str, bind: str, bin_dir: Path = VENV_BIN, root: Path = ROOT) -> list[str]:
    """gunicorn serving ``app`` on ``bind`` with the platform's configuration (the
    generated Procfile writes it with relative paths)."""
    return [str(bin_dir / "gunicorn"), "--config", str(root / GUNICORN_CONF), app, "--bind", bind]


def web_app(service: str) -> str:
    """What gunicorn serves for ``service``."""
    return f"services.{service}.app:create_app()"


def worker_module(service: str) -> str:
    """The module ``python -m`` runs as ``service``'s worker."""
    return f"services.{service}.worker"


def gunicorn(name: str, app: str, port: int, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    """gunicorn serving ``app`` on ``127.0.0.1:port`` with the platform's configuration."""
    command = gunicorn_command(app, f"{LOOPBACK}:{port}")
    return ServiceProcess(command, env, log_dir / f"{name}.log")


def python_module(name: str, module: str, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    """``python -m module`` with the project's interpreter."""
    return ServiceProcess([sys.executable, "-m", module], env, log_dir / f"{name}.log")


def web(service: str, port: int, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    """The service's gunicorn ``web`` process on ``127.0.0.1:port``."""
    return gunicorn(f"{service}-web", web_app(service), port, env, log_dir)


def worker(service: str, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    """The service's ``worker`` process (consumer loop and outbox relay)."""
    return python_module(f"{service}-worker", worker_module(service), env, log_dir)


def wait_ready(process: ServiceProcess, url: str, timeout: float = 60.0) -> None:
    """Wait until ``GET url`` answers 200 while ``process`` lives; fail with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.alive:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready:\n{process.tail()}")

"""Start a service's ``web`` (gunicorn) and ``worker`` processes from Python,
for the end-to-end tests and the benchmarks: the same commands as the Procfile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


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

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait for a graceful exit, SIGKILL after ``timeout``; the exit code."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.wait()

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


def web(service: str, port: int, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    """The service's gunicorn ``web`` process on ``127.0.0.1:port``."""
    command = [
        str(VENV_BIN / "gunicorn"),
        "--config",
        str(ROOT / "shared" / "gunicorn_conf.py"),
        f"services.{service}.app:create_app()",
        "--bind",
        f"127.0.0.1:{port}",
    ]
    return ServiceProcess(command, env, log_dir / f"{service}-web.log")


def worker(service: str, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    """The service's ``worker`` process (consumer loop and outbox relay)."""
    command = [sys.executable, "-m", f"services.{service}.worker"]
    return ServiceProcess(command, env, log_dir / f"{service}-worker.log")


def wait_ready(base_url: str, process: ServiceProcess, timeout: float = 60.0) -> None:
    """Wait until ``GET base_url/readyz`` answers 200; fail with the process's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process is not None and process.process.poll() is not None:
            break
        try:
            if requests.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base_url} did not become ready:\n{process.tail()}")

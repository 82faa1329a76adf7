"""What the local Kafka and MongoDB servers have in common: a command found on
the PATH, a child process in its own process group with its output in a log
file, started until ready and stopped with SIGTERM (SIGKILL when it lingers)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from deploy.local.errors import PrerequisiteError, StartError

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def require_command(name: str, purpose: str) -> str:
    """Return the path of ``name`` on the PATH or raise a one-sentence error."""
    path = shutil.which(name)
    if path is None:
        raise PrerequisiteError(f"`{name}` is not on the PATH; install it ({purpose}).")
    return path


def tail(path: Path | None, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file, or a word saying there are none."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty log)"


def wait_forever(message: str) -> None:
    """Print ``message`` and sleep until SIGTERM/SIGINT (keeps honcho's set running)."""
    print(message, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()


class ServerProcess:
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
        return StartError(
            f"{self.name} {reason}; last lines of {self.log_file}:\n{tail(self.log_file)}"
        )

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

"""``make run`` survives a crash: honcho running Procfile entries through
``deploy.local keep`` restarts a SIGKILLed process with backoff and says so,
leaves the others running, and Ctrl-C (or SIGTERM) still stops every process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from deploy import manifests
from deploy.local.__main__ import main
from deploy.local.keep import Backoff, exit_status

ROOT = Path(__file__).resolve().parents[2]
HONCHO = str(Path(sys.executable).parent / "honcho")
UP = re.compile(r"(\w+) up (\d+)")


def test_the_pause_doubles_up_to_its_maximum_and_is_short_again_after_a_steady_run():
    backoff = Backoff(initial=1, maximum=30, steady=60)
    assert [backoff.after(0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.after(61) == 1
    assert backoff.after(3) == 2


def test_exit_status_of_a_signalled_child_is_the_shells():
    assert (exit_status(-9), exit_status(-15), exit_status(3), exit_status(0)) == (137, 143, 3, 0)


def test_keep_without_a_command_prints_its_usage(capsys):
    assert main(["keep", "worker"]) == 2
    assert main(["keep", "worker", "python"]) == 2
    assert "usage: python -m deploy.local keep NAME -- COMMAND" in capsys.readouterr().err


def test_every_long_running_entry_of_the_procfile_is_kept_and_ready_is_not():
    for name, command in manifests.procfile_entries().items():
        kept = command.startswith(f".venv/bin/python -m deploy.local keep {name} -- ")
        assert kept == (name != "ready"), command


class _Honcho:
    """honcho on a Procfile of its own, its output collected line by line."""

    def __init__(self, procfile: Path) -> None:
        self.process = subprocess.Popen(
            [HONCHO, "-f", str(procfile), "-d", str(ROOT), "start"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, count: int = 1, timeout_s: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if re.search(pattern, line)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {count} x {pattern!r} in:\n" + "\n".join(self.lines))

    def pids(self, name: str) -> list[int]:
        return [int(m[2]) for line in list(self.lines) if (m := UP.search(line)) and m[1] == name]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead; only init has not reaped it yet.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(") ", 1)[1][0] != "Z"


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_killed_process_is_restarted_with_backoff_and_a_stop_signal_stops_all(
    tmp_path, stop_signal
):
    python = sys.executable
    child = "import os, time; print('{0} up', os.getpid(), flush=True); time.sleep(600)"
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "".join(
            f'{name}: {python} -m deploy.local keep {name} -- {python} -c "{child.format(name)}"\n'
            for name in ("crashy", "steady")
        )
    )
    honcho = _Honcho(procfile)
    try:
        honcho.wait_for(r"crashy up \d+")
        honcho.wait_for(r"steady up \d+")
        [steady] = honcho.pids("steady")
        for restarts, pause in enumerate((1, 2), start=1):
            os.kill(honcho.pids("crashy")[-1], signal.SIGKILL)
            honcho.wait_for(rf"crashy exited with code -9; restarting in {pause} s")
            honcho.wait_for(r"crashy up \d+", count=restarts + 1)
        assert honcho.pids("steady") == [steady] and _alive(steady)
        assert honcho.process.poll() is None  # honcho did not stop the set
        keepers = [int(p) for p in re.findall(r"started \(pid=(\d+)\)", "\n".join(honcho.lines))]
        assert len(keepers) == 2

        honcho.process.send_signal(stop_signal)
        assert honcho.process.wait(timeout=15) != 0
    finally:
        if honcho.process.poll() is None:
            honcho.process.kill()
    everyone = [*honcho.pids("crashy"), steady, *keepers]
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in everyone) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in everyone if _alive(pid)] == []
    assert not any("restarting" in line for line in honcho.lines[-6:])  # stopped, not restarted
    assert not any("SIGKILL" in line for line in honcho.lines)  # each stopped on the signal

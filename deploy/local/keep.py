"""Keep one process of the local stack running: ``python -m deploy.local keep
NAME -- COMMAND...``, the form of every long-running Procfile entry.

honcho stops the whole process set when any one process ends; run through
``keep``, a process that crashes (a worker SIGKILLed, a server that fell over)
is started again after a pause instead, 1 s at first and doubling up to 30 s,
back to 1 s once a run lasted 60 s, and the log says so. ``keep`` never ends by
itself; it ends when it is told to stop.

Stopping: the command runs in ``keep``'s process group, which is what honcho
signals (``killpg``) on Ctrl-C, and what a terminal signals on Ctrl-C too, so
the command gets the SIGTERM/SIGINT itself, exactly once; ``keep`` only stops
restarting, waits for it and exits with its code. When honcho's patience ends
it SIGKILLs the group: the command cannot outlive ``keep``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

INITIAL_DELAY_S = 1.0
MAX_DELAY_S = 30.0
STEADY_S = 60.0  # a run this long was no crash loop: the next pause is short again


@dataclass
class Backoff:
    """The pause before each restart: doubling from ``initial`` to ``maximum``,
    and ``initial`` again after a run of at least ``steady`` seconds."""

    initial: float = INITIAL_DELAY_S
    maximum: float = MAX_DELAY_S
    steady: float = STEADY_S

    def __post_init__(self) -> None:
        self._next = self.initial

    def after(self, uptime_s: float) -> float:
        """The pause before restarting a process that ran ``uptime_s`` seconds."""
        if uptime_s >= self.steady:
            self._next = self.initial
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay


def exit_status(returncode: int) -> int:
    """A shell's exit status for a child's return code (a signal N: 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def keep(
    name: str,
    command: Sequence[str],
    backoff: Backoff | None = None,
    say: Callable[[str], None] | None = None,
) -> int:
    """Run ``command`` until SIGTERM/SIGINT, restarting it whenever it ends;
    returns the exit status to leave with."""
    backoff = backoff or Backoff()
    say = say or _say
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while True:
        started = time.monotonic()
        try:
            child = subprocess.Popen(list(command))
        except OSError as exc:
            say(f"{name} could not start: {exc}")
            returncode = 127
        else:
            returncode = child.wait()
        if stop.is_set():
            return exit_status(returncode)
        delay = backoff.after(time.monotonic() - started)
        say(f"{name} exited with code {returncode}; restarting in {delay:g} s")
        if stop.wait(delay):
            return 0


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str]) -> int:
    """``NAME -- COMMAND...`` from the command line; 2 with the usage when malformed."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m deploy.local keep NAME -- COMMAND...", file=sys.stderr)
        return 2
    return keep(argv[0], argv[2:])

"""Loopback TCP ports: find a free one, see whether one is taken, wait for one,
and refuse to start on one that is taken with a sentence saying what to set."""

from __future__ import annotations

import random
import socket
import time

from deploy.local.errors import PrerequisiteError
from shared.config import LOOPBACK


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


# Below Linux's ephemeral range (32768-60999), where outgoing connections take
# their local ports: a server restarted on a port from here finds it free again.
RESTARTABLE_PORTS = range(20000, 32000)
_given: set[int] = set()


def restartable_port() -> int:
    """A free loopback port outside the ephemeral range, not given before by this
    process, for a server that is stopped and started again on the same port."""
    while True:
        port = random.choice(RESTARTABLE_PORTS)
        if port in _given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        _given.add(port)
        return port


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


def check_ports(ports: dict[str, tuple[int, str]]) -> None:
    """Raise one sentence naming the first taken port; ``ports`` maps what -> (port, hint)."""
    for what, (port, hint) in ports.items():
        refuse_taken_port(port, what, hint)

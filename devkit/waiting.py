"""Waiting for what another process or thread does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(predicate: Callable[[], Any], timeout_s: float = 30.0, step: float = 0.1) -> Any:
    """Call ``predicate`` every ``step`` seconds until it returns something true,
    and return that; when ``timeout_s`` has passed, return its last (false) answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)

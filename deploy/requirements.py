"""The container images' dependency pins, derived from ``requirements.lock``.

``requirements.lock`` is the one source of truth. The image installs its pins
minus the packages only tests and the local stack need (:data:`NOT_IN_IMAGES`);
``python -m deploy.requirements`` rewrites ``deploy/requirements-runtime.txt``
and ``tests/deploy`` fail when that file and the lock disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
RUNTIME = ROOT / "deploy" / "requirements-runtime.txt"

# Test runner, linter, testcontainers, the browser tests' Selenium, schemathesis (the
# fuzz tests), the local Mongo-wire server (GPL, a separate process in development
# only), the Procfile runner, trustme (TLS certificates for tests), and what only
# they pull in (numpy is not among them: matplotlib, which draws the surveys' charts,
# needs it).
NOT_IN_IMAGES = frozenset(
    name.lower()
    for name in (
        "pytest",
        "pytest-timeout",
        "pytest-xdist",  # the suite in two workers, and its transport:
        "execnet",
        "iniconfig",
        "pluggy",
        "Pygments",
        "ruff",
        "testcontainers",
        "docker",
        "python-dotenv",
        "SecantusDB",
        "shapely",
        "s2sphere",
        "future",
        "honcho",
        "trustme",
        # the browser tests' WebDriver client and what it pulls in
        "selenium",
        "trio",
        "trio-websocket",
        "outcome",
        "sniffio",
        "sortedcontainers",
        "wsproto",
        "h11",
        "PySocks",
        "websocket-client",
        # schemathesis (tests/fuzz) and what only it pulls in
        "schemathesis",
        "anyio",
        "graphql-core",
        "harfile",
        "hypothesis",
        "hypothesis-graphql",
        "jsonschema_rs",
        "markdown-it-py",
        "mdurl",
        "pyrate-limiter",
        "rich",
    )
)

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def normalise(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line; anything else is an error."""
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"not an exact pin: {raw!r}")
        pins[match.group(1)] = match.group(2)
    return pins


def runtime_pins(lock_text: str) -> dict[str, str]:
    excluded = {normalise(n) for n in NOT_IN_IMAGES}
    return {
        name: version
        for name, version in parse_pins(lock_text).items()
        if normalise(name) not in excluded
    }


def render(lock_text: str) -> str:
    lines = [
        "# Generated from requirements.lock by `python -m deploy.requirements`; do not edit.",
        "# The container images install exactly these pins (pip install --no-deps).",
    ]
    lines += [f"{name}=={version}" for name, version in runtime_pins(lock_text).items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    RUNTIME.write_text(render(LOCK.read_text()))
    sys.stdout.write(f"wrote {RUNTIME.relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()

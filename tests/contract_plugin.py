"""pytest plugin (``-p tests.contract_plugin`` in pyproject's addopts): every
record a service announces anywhere in the test suite — every ``Outbox.add``
called from a module under ``services/`` (operations, handlers, jobs) — is
validated, as it is stored and travels (personal fields sealed), against its
topic's JSON Schema (``deploy.contracts``, strict: no undeclared fields).
Backbone tests that add synthetic records to an outbox directly are not
services and are not checked. Violations do not disturb the
test that produced them; they are listed at the end and fail the session
(under pytest-xdist each worker hands its findings to the controller).

Topics of services that are not deployed yet (not in ``deploy/catalog.py``) have
no schema to check against and are skipped.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

VIOLATIONS: list[str] = []
CHECKED: list[int] = [0]


def _install() -> Any:
    from deploy import contracts
    from shared.outbox import Outbox

    original = Outbox.record
    known = set(contracts.topic_payloads())

    def record(self: Outbox, *, topic: str, payload: dict[str, Any], **kw: Any) -> dict[str, Any]:
        made = original(self, topic=topic, payload=payload, **kw)
        if topic in known and _caller_module().startswith("services."):
            CHECKED[0] += 1
            VIOLATIONS.extend(contracts.payload_errors(topic, made["payload"]))
        return made

    Outbox.record = record  # type: ignore[method-assign]
    return original


def _caller_module() -> str:
    """The first module outside ``shared.outbox`` and this plugin on the call stack."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") in {"shared.outbox", __name__}:
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


def pytest_configure(config: pytest.Config) -> None:
    config._mlp_outbox_add = _install()  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    from shared.outbox import Outbox

    original = getattr(config, "_mlp_outbox_add", None)
    if original is not None:
        Outbox.record = original  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CHECKED[0] or VIOLATIONS:
        terminalreporter.write_line(
            f"topic contracts: {CHECKED[0]} produced records checked, "
            f"{len(VIOLATIONS)} schema violations"
        )
    for violation in VIOLATIONS[:50]:
        terminalreporter.write_line(f"  contract violation: {violation}", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller adds them up
        workeroutput["contracts_checked"] = CHECKED[0]
        workeroutput["contract_violations"] = VIOLATIONS[:50]
        return
    if VIOLATIONS and exitstatus == 0:
        session.exitstatus = 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """A pytest-xdist worker is done: count what it checked and found."""
    output = getattr(node, "workeroutput", {})
    CHECKED[0] += output.get("contracts_checked", 0)
    VIOLATIONS.extend(output.get("contract_violations", []))

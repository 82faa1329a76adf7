"""Schemathesis against one running service (its gunicorn ``web``, over HTTP, as
partners meet it) on the service's checked-in OpenAPI document, with every check
and every phase, and a bounded, seeded number of examples; what it found, per
operation and check code, in words a failing test can print."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import Response
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.engine.statistic import Statistic
from schemathesis.schemas import BaseSchema

from shared.fields import CodeField

# The formats the documents name for codes of closed lists (shared.fields): a
# valid value is one of the list.
for _code in CodeField.__subclasses__():
    schemathesis.openapi.format(_code.openapi_format, st.sampled_from(_code.choices))

# The bounded configuration: examples per operation and phase, one worker (the
# order of requests is the seed's alone) and a fixed seed, so a run is repeatable.
SEED = 10_2025
MAX_EXAMPLES = 25
STATEFUL_MAX_STEPS = 10


@dataclass
class FuzzResult:
    """What one run found."""

    service: str
    operations: int
    examples: int
    seconds: float
    transitions: int = 0
    phases: dict[str, str] = field(default_factory=dict)
    # (check code, operation, title, message, a curl command reproducing it)
    failures: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # operation -> status -> how many responses
    statuses: dict[str, collections.Counter[int]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )

    def by_code(self) -> dict[str, int]:
        return dict(sorted(collections.Counter(code for code, *_ in self.failures).items()))

    def summary(self) -> str:
        codes = ", ".join(f"{code} {n}" for code, n in self.by_code().items()) or "none"
        return (
            f"{self.service}: {self.operations} operations, {self.examples} examples, "
            f"{self.transitions} stateful links, {len(self.failures)} unique failures "
            f"({codes}), {len(self.errors)} errors, {self.seconds:.0f} s"
        )

    def answers(self) -> str:
        """How often each operation answered each status: what the run reached."""
        return "\n".join(
            f"  {label}: " + ", ".join(f"{code}x{n}" for code, n in sorted(counts.items()))
            for label, counts in sorted(self.statuses.items())
        )

    def report(self) -> str:
        lines = [self.summary()]
        for code, operation, title, message, curl in self.failures:
            lines.append(f"- {code} {operation}: {title}")
            lines += [f"    {line}" for line in message.splitlines() if line.strip()]
            if curl:
                lines.append(f"    reproduce: {curl}")
        lines += [f"- error: {error}" for error in self.errors]
        return "\n".join(lines)


def configure(
    token: str,
    *,
    parameters: dict[str, Any] | None = None,
    operations: list[dict[str, Any]] | None = None,
) -> SchemathesisConfig:
    """The run's configuration: every check, a bearer ``token`` for the operations
    that declare the security scheme, ``parameters`` pinned (ids of seeded data)."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "cache": {"enabled": False},
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"max-steps": STATEFUL_MAX_STEPS}},
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            # A schema-valid request may still meet the state it acts on: beside
            # schemathesis' 404 and 409, a resource gone for good (410) and an
            # If-Match naming another version (412) are answers of state too.
            # A missing If-Match that the operation requires is RFC 6585's 428,
            # unless the resource's state refuses the action anyway (409: RFC
            # 9110 13.2.1 evaluates preconditions only for a request that would
            # otherwise succeed).
            # An invalid one may be refused as a precondition that names no
            # version (412), an invalid body as too large to read (413).
            # (5xx stay in these lists as in schemathesis' defaults: ST101 fails them.)
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": [
                        *("400", "401", "403", "404", "405", "406", "409"),
                        *("412", "413", "415", "422", "428", "429", "5xx"),
                    ]
                },
                "missing_required_header": {
                    "expected-statuses": [*("400", "401", "403", "406", "409", "415", "422", "428")]
                },
                "positive_data_acceptance": {
                    "expected-statuses": [
                        *("2xx", "3xx", "401", "403", "404", "409", "410", "412", "429", "5xx")
                    ]
                },
            },
            "parameters": parameters or {},
            "operations": operations or [],
        }
    )
    config.projects.default.checks.update(included_check_names=["all"])
    return config


def load(document: Path, base_url: str, config: SchemathesisConfig) -> BaseSchema:
    """``document`` (a checked-in OpenAPI file), for the service at ``base_url``."""
    schema = schemathesis.openapi.from_path(document, config=config)
    schema.config.base_url = base_url
    return schema


def run(
    service: str,
    schema: BaseSchema,
    progress: Callable[[str], None] | None = None,
) -> FuzzResult:
    """Run every phase over ``schema`` and collect its unique failures."""
    statistic = Statistic()
    result = FuzzResult(service=service, operations=0, examples=0, seconds=0.0)
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseStarted) and event.payload is not None:
            result.transitions = event.payload.transitions_total
        elif isinstance(event, events.PhaseFinished):
            name = event.phase.name.value
            result.phases[name] = f"{event.status.value} at {time.monotonic() - started:.0f} s"
        elif isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            statistic.on_scenario_finished(event.recorder)
            for case_id, node in event.recorder.cases.items():
                interaction = event.recorder.interactions.get(case_id)
                if interaction is not None and interaction.response is not None:
                    label = node.value.operation.label
                    result.statuses[label][interaction.response.status_code] += 1
        elif isinstance(event, events.NonFatalError):
            result.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        if progress is not None and isinstance(event, events.PhaseFinished):
            progress(f"{service}: {event.phase.name.value} {event.status.value}")
    result.seconds = time.monotonic() - started
    result.operations = schema.statistic.operations.total
    result.examples = statistic.total_cases
    samples = {
        failure: _sample(group.code_sample, group.response)
        for grouped in statistic.failures.values()
        for group in grouped.values()
        for failure in group.failures
    }
    result.failures = sorted(
        (
            failure.code,
            failure.operation or "",
            failure.title,
            failure.message,
            samples.get(failure, ""),
        )
        for failure in statistic.unique_failures_map
    )
    return result


def _sample(code_sample: str | None, response: Response | None) -> str:
    """How to send the failing request again, and what came back."""
    answer = ""
    if response is not None:
        body = response.content[:400].decode("utf-8", "replace") if response.content else ""
        answer = f"\n    answered {response.status_code}: {body}"
    return (code_sample or "") + answer

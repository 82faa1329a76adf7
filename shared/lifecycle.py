"""Lifecycles of resources: which action leads from which statuses to which
status, and which topic announces it. An action the current status does not
allow is an :class:`~shared.errors.IllegalTransition` (a 409 problem at the edge)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.errors import IllegalTransition


@dataclass(frozen=True)
class Lifecycle:
    """``transitions`` maps an action to (statuses it starts from, status it
    leads to, topic announcing it); ``noun`` names the resource in messages."""

    noun: str
    transitions: Mapping[str, tuple[frozenset[str], str, str]]

    def next_status(self, action: str, status: str) -> tuple[str, str]:
        """The status ``action`` leads to from ``status`` and the topic announcing it."""
        if action not in self.transitions:
            raise IllegalTransition(f"There is no action {action!r}.", status)
        sources, target, topic = self.transitions[action]
        if status not in sources:
            article = "an" if self.noun[0] in "aeiou" else "a"
            raise IllegalTransition(
                f"Cannot {action} {article} {self.noun} that is {status}; "
                f"{action} applies to {' or '.join(sorted(sources))} {self.noun}s.",
                status,
            )
        return target, topic

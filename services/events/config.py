"""Settings of the events service, read from the environment once at start
(``MLP_`` variables; the service README lists them with their defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import Env, Settings, common_settings, refuse_unsafe

DEFAULT_PORT = 8001


@dataclass(frozen=True)
class EventsSettings(Settings):
    service: str = "events"
    port: int = DEFAULT_PORT


def load_settings(environ: Mapping[str, str] | None = None) -> EventsSettings:
    return refuse_unsafe(EventsSettings(**common_settings(Env(environ), "events", DEFAULT_PORT)))

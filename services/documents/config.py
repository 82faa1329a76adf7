"""Settings of the documents service, read from the environment once at start
(``MLP_`` variables; the service README lists them with their defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import Env, Settings, common_settings, refuse_unsafe

DEFAULT_PORT = 8003
DEFAULT_MAX_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class DocumentsSettings(Settings):
    service: str = "documents"
    port: int = DEFAULT_PORT
    document_max_bytes: int = DEFAULT_MAX_BYTES
    reminder_interval_s: float = 300.0


def load_settings(environ: Mapping[str, str] | None = None) -> DocumentsSettings:
    env = Env(environ)
    settings = DocumentsSettings(
        **common_settings(env, "documents", DEFAULT_PORT),
        document_max_bytes=env.int("DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES),
        reminder_interval_s=env.float("DOCUMENT_REMINDER_INTERVAL_S", 300.0),
    )
    return refuse_unsafe(settings)

"""Settings from ``MLP_`` environment variables, read once when a process starts.

Every service has a ``config.py`` whose ``load_settings()`` builds one frozen
settings object (a subclass of :class:`Settings`) from the environment; the
app factory and the worker call it once and pass the object on. Nothing else
reads the environment. Tests that need other settings build another object.

The defaults are those of the local stack ``make run`` starts (its ports and
folders are defined here, once, for the services and ``deploy/local`` alike).
Every variable is documented with its default in the service READMEs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.sealing import DEVELOPMENT_KEYS, NO_KEYS, KeyRing
from shared.topics import source_of

LOOPBACK = "127.0.0.1"
LOCAL_KAFKA_PORT = 9092
LOCAL_KAFKA_CONTROLLER_PORT = 9093
LOCAL_MONGO_PORT = 27017
LOCAL_SMTP_PORT = 1025
LOCAL_MAIL_DIR = "var/mail"
DEFAULT_KAFKA_BOOTSTRAP = f"{LOOPBACK}:{LOCAL_KAFKA_PORT}"
DEFAULT_MONGO_URI = f"mongodb://{LOOPBACK}:{LOCAL_MONGO_PORT}/?directConnection=true"
DEVELOPMENT_JWT_SECRET = "mlp-development-secret-change-me"  # noqa: S105 - documented dev default
WORKER_METRICS_OFFSET = 100  # a worker serves metrics on its service's port + 100


class Env:
    """Typed reads of ``MLP_<NAME>`` variables from one environment mapping.

    A malformed value stops the process with a sentence naming the variable,
    rather than failing later in the middle of a request.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(f"MLP_{name}")
        return None if value is None or value.strip() == "" else value

    def str(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def int(self, name: str, default: int) -> int:
        value = self.raw(name)
        try:
            return default if value is None else int(value)
        except ValueError as exc:
            raise SystemExit(f"MLP_{name} must be an integer, got {value!r}.") from exc

    def float(self, name: str, default: float) -> float:
        value = self.raw(name)
        try:
            return default if value is None else float(value)
        except ValueError as exc:
            raise SystemExit(f"MLP_{name} must be a number, got {value!r}.") from exc

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SystemExit(f"MLP_{name} must be true or false, got {value!r}.")

    def other(self, name: str) -> str | None:
        """A variable outside the ``MLP_`` namespace that a library defines."""
        return self.environ.get(name) or None


@dataclass(frozen=True)
class Settings:
    """The settings every service has; a service's ``config.py`` subclasses it
    with its own fields and sets ``service`` and ``port`` defaults."""

    service: str = ""
    env: str = "development"
    kafka_bootstrap: str = DEFAULT_KAFKA_BOOTSTRAP
    kafka_partitions: int = 3
    kafka_replication: int = 1
    mongo_uri: str = DEFAULT_MONGO_URI
    mongo_db: str = ""
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_jwks_url: str = ""
    jwt_audience: str = ""
    max_request_bytes: int = 1024 * 1024
    trusted_proxies: int = 0
    consumer_max_attempts: int = 4
    log_level: str = "INFO"
    port: int = 0
    worker_metrics_port: int = 0
    metrics_multiprocess_dir: str = ""
    internal_topic_keys: KeyRing = field(default=DEVELOPMENT_KEYS, repr=False)

    @property
    def database(self) -> str:
        """The service's own database: each service owns exactly one."""
        return self.mongo_db or f"mlp_{self.service}"

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` attribute of everything this service announces."""
        return source_of(self.service)

    @property
    def is_development(self) -> bool:
        return self.env in {"development", "test"}


def common_settings(
    env: Env, service: str, default_port: int, *, seals: bool = True
) -> dict[str, Any]:
    """The :class:`Settings` fields of ``service`` read from ``env``, as keyword
    arguments for the service's settings class; ``seals=False`` for a tool that
    never seals or opens a record (it needs no keys)."""
    upper = service.upper()
    port = env.int(f"{upper}_PORT", default_port)
    return {
        "service": service,
        "env": env.str("ENV", "development"),
        "kafka_bootstrap": env.str("KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP),
        "kafka_partitions": env.int("KAFKA_PARTITIONS", 3),
        "kafka_replication": env.int("KAFKA_REPLICATION", 1),
        "mongo_uri": env.str("MONGO_URI", DEFAULT_MONGO_URI),
        "mongo_db": env.str(f"{upper}_DB", ""),
        "jwt_secret": env.str("JWT_SECRET", DEVELOPMENT_JWT_SECRET),
        "jwt_jwks_url": env.str("JWT_JWKS_URL", ""),
        "jwt_audience": env.str("JWT_AUDIENCE", ""),
        "max_request_bytes": env.int("MAX_REQUEST_BYTES", 1024 * 1024),
        "trusted_proxies": _hop_count(env, "TRUSTED_PROXIES"),
        "consumer_max_attempts": env.int("CONSUMER_MAX_ATTEMPTS", 4),
        "log_level": env.str("LOG_LEVEL", "INFO"),
        "port": port,
        "worker_metrics_port": env.int(
            f"{upper}_WORKER_METRICS_PORT", default_port + WORKER_METRICS_OFFSET
        ),
        "metrics_multiprocess_dir": env.other("PROMETHEUS_MULTIPROC_DIR") or "",
        "internal_topic_keys": internal_topic_keys(
            env, env.str("ENV", "development"), required=seals
        ),
    }


def internal_topic_keys(env: Env, deployment: str, *, required: bool = True) -> KeyRing:
    """The key ring that seals the personal fields of internal topics
    (``MLP_INTERNAL_TOPIC_KEYS``). Development and tests fall back on the
    published development key; anything else refuses to start without real keys
    (a tool that is not ``required`` to hold keys gets none)."""
    value = env.raw("INTERNAL_TOPIC_KEYS")
    developing = deployment in {"development", "test"}
    if value is None:
        if developing:
            return DEVELOPMENT_KEYS
        if not required:
            return NO_KEYS
        raise SystemExit(
            f"MLP_INTERNAL_TOPIC_KEYS must be set when MLP_ENV is {deployment!r}: "
            "'<key id>:<base64 of 32 random bytes>', newest first (docs/operations.md)."
        )
    try:
        keys = KeyRing.parse(value)
    except ValueError as exc:
        raise SystemExit(f"MLP_INTERNAL_TOPIC_KEYS: {exc}.") from exc
    if not developing and keys.holds_development_key():
        raise SystemExit(
            f"MLP_INTERNAL_TOPIC_KEYS holds the published development key; "
            f"MLP_ENV {deployment!r} needs keys of its own."
        )
    return keys


def _hop_count(env: Env, name: str) -> int:
    """How many reverse proxies in front of ``web`` append ``X-Forwarded-*`` headers."""
    hops = env.int(name, 0)
    if hops < 0:
        raise SystemExit(f"MLP_{name} must be 0 or a positive number of proxies, got {hops}.")
    return hops


def tool_settings(name: str, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings of a command-line tool that talks to Kafka or MongoDB but is no
    service (topic provisioning, dead-letter replay)."""
    return Settings(**common_settings(Env(environ), name, 0, seals=False))


@dataclass(frozen=True)
class WebServerSettings:
    """gunicorn's settings for every ``web`` process (``shared/gunicorn_conf.py``)."""

    workers: int = 2
    threads: int = 4
    timeout_s: int = 30


def load_web_server_settings(environ: Mapping[str, str] | None = None) -> WebServerSettings:
    env = Env(environ)
    return WebServerSettings(
        workers=env.int("WEB_WORKERS", 2),
        threads=env.int("WEB_THREADS", 4),
        timeout_s=env.int("WEB_TIMEOUT", 30),
    )


def multiprocess_metrics_dir() -> str:
    """The folder where gunicorn's workers share their Prometheus samples.

    prometheus-client finds it in ``PROMETHEUS_MULTIPROC_DIR``, which the
    ``web`` process therefore sets (to a fresh folder unless it is given)
    before its workers start; the app reads it back with its settings.
    """
    return os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="mlp-prometheus-")
    )

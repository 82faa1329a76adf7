"""Configuration from ``MLP_`` environment variables, read once per process.

Every variable is documented in the README with its default; the defaults
match the local stack that ``make run`` starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SERVICE_PORTS = {"events": 8001, "invitations": 8002, "documents": 8003, "notifications": 8004}


def _env(name: str, default: str) -> str:
    return os.environ.get(f"MLP_{name}", default)


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"MLP_{name} must be an integer, got {raw!r}.") from exc


@dataclass(frozen=True)
class Settings:
    """Process-wide settings of one service."""

    service: str
    env: str = "development"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_partitions: int = 3
    kafka_replication: int = 1
    mongo_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_db: str = ""
    jwt_secret: str = "mlp-development-secret-change-me"  # noqa: S105 - development default, README says so
    jwt_jwks_url: str = ""
    jwt_audience: str = ""
    public_base_url: str = "http://127.0.0.1:8002"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    mail_dir: str = "var/mail"
    max_request_bytes: int = 1024 * 1024
    consumer_max_attempts: int = 4
    log_level: str = "INFO"
    port: int = 0
    worker_metrics_port: int = 0

    @property
    def database(self) -> str:
        """The service's own database: each service owns exactly one."""
        return self.mongo_db or f"mlp_{self.service}"

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` attribute of everything this service announces."""
        return f"/mlp/{self.service}"

    @property
    def is_development(self) -> bool:
        return self.env in {"development", "test"}


def load_settings(service: str) -> Settings:
    """Read the settings of ``service`` from the environment."""
    upper = service.upper()
    return Settings(
        service=service,
        env=_env("ENV", "development"),
        kafka_bootstrap=_env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        kafka_partitions=_env_int("KAFKA_PARTITIONS", 3),
        kafka_replication=_env_int("KAFKA_REPLICATION", 1),
        mongo_uri=_env("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true"),
        mongo_db=_env(f"{upper}_DB", ""),
        jwt_secret=_env("JWT_SECRET", "mlp-development-secret-change-me"),
        jwt_jwks_url=_env("JWT_JWKS_URL", ""),
        jwt_audience=_env("JWT_AUDIENCE", ""),
        public_base_url=_env("PUBLIC_BASE_URL", "http://127.0.0.1:8002").rstrip("/"),
        smtp_host=_env("SMTP_HOST", "127.0.0.1"),
        smtp_port=_env_int("SMTP_PORT", 1025),
        mail_dir=_env("MAIL_DIR", "var/mail"),
        max_request_bytes=_env_int("MAX_REQUEST_BYTES", 1024 * 1024),
        consumer_max_attempts=_env_int("CONSUMER_MAX_ATTEMPTS", 4),
        log_level=_env("LOG_LEVEL", "INFO"),
        port=_env_int(f"{upper}_PORT", SERVICE_PORTS.get(service, 8000)),
        worker_metrics_port=_env_int(
            f"{upper}_WORKER_METRICS_PORT", SERVICE_PORTS.get(service, 8000) + 100
        ),
    )

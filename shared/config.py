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
from typing import Any, TypeVar

from shared.sealing import DEVELOPMENT_KEYS, NO_KEYS, KeyRing
from shared.topics import PRODUCERS, source_of

LOOPBACK = "127.0.0.1"
LOCAL_KAFKA_PORT = 9092
LOCAL_KAFKA_CONTROLLER_PORT = 9093
LOCAL_MONGO_PORT = 27017
LOCAL_SMTP_PORT = 1025
LOCAL_MAIL_DIR = "var/mail"
DEFAULT_KAFKA_BOOTSTRAP = f"{LOOPBACK}:{LOCAL_KAFKA_PORT}"


def local_mongo_uri(port: int) -> str:
    """The connection string of a Mongo-wire server on loopback ``port``."""
    return f"mongodb://{LOOPBACK}:{port}/?directConnection=true"


DEFAULT_MONGO_URI = local_mongo_uri(LOCAL_MONGO_PORT)
DEVELOPMENT_JWT_SECRET = "mlp-development-secret-change-me"  # noqa: S105 - documented dev default
DEVELOPMENT_ERASURE_SALT = "mlp-development-erasure-salt-change-me"
PERSONAL_DATA_RETENTION_DAYS = 730
INTERNAL_TOPIC_RETENTION_DAYS = 7  # internal.* records; a month's key goes this long after it
ENVIRONMENTS = ("development", "test", "production")
MIN_SECRET_BYTES = 32  # HS256 wants a key at least as long as its hash (RFC 7518 3.2)
PLACEHOLDER_MARK = "change-me"  # in every example secret this repository ships
WORKER_METRICS_OFFSET = 100  # a worker serves metrics on its service's port + 100
SERVICE_PORT_BASE = 8000  # the services listen on 8001, 8002, ...
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
DLQ_REDRIVE_RATE = 20.0  # records a console redrive re-publishes per second, at most
DLQ_REDRIVE_MAX = 3  # redrives of one record after which the console refuses it
# The web of each service on the local stack, in port order (events 8001, ...):
# where the operator console's overview finds them unless MLP_OPS_SERVICE_URLS says.
LOCAL_SERVICE_URLS = tuple(
    (service, f"http://{LOOPBACK}:{SERVICE_PORT_BASE + i}")
    for i, service in enumerate(PRODUCERS, start=1)
)


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

    def choice(
        self, name: str, choices: tuple[str, ...], default: str, *, upper: bool = False
    ) -> str:
        """One of ``choices``, compared lower-case (upper-case with ``upper``)."""
        value = self.str(name, default).strip()
        value = value.upper() if upper else value.lower()
        if value not in choices:
            raise SystemExit(f"MLP_{name} must be one of {', '.join(choices)}, got {value!r}.")
        return value

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
    # How Kafka clients log in (shared.bus.client_config): PLAINTEXT on the local
    # stack; SASL/SCRAM with a principal of the service's own where ACLs apply.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: str = field(default="", repr=False)
    kafka_ssl_cafile: str = ""
    kafka_bootstrap_timeout_s: float = 10.0
    mongo_uri: str = DEFAULT_MONGO_URI
    mongo_db: str = ""
    mongo_username: str = ""
    mongo_password: str = field(default="", repr=False)
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_jwks_url: str = ""
    jwt_audience: str = ""
    jwt_issuer: str = ""
    jwt_require_verified_email: bool = False
    max_request_bytes: int = 1024 * 1024
    trusted_proxies: int = 0
    consumer_max_attempts: int = 4
    log_level: str = "INFO"
    # Where spans go (OTLP/HTTP, e.g. http://otel-collector:4318); empty: no tracing.
    otlp_endpoint: str = ""
    port: int = 0
    worker_metrics_port: int = 0
    metrics_multiprocess_dir: str = ""
    internal_topic_keys: KeyRing = field(default=DEVELOPMENT_KEYS, repr=False)
    # The key of the keyed hash that names a person in an erasure (shared.erasure).
    erasure_salt: str = field(default=DEVELOPMENT_ERASURE_SALT, repr=False)
    personal_data_retention_days: int = PERSONAL_DATA_RETENTION_DAYS
    internal_topic_retention_days: int = INTERNAL_TOPIC_RETENTION_DAYS
    # The operator console (shared/admin.py): the worker's /readyz, the services'
    # webs its overview asks, and the pace and the guard of a dead-letter redrive.
    worker_url: str = ""
    ops_service_urls: tuple[tuple[str, str], ...] = LOCAL_SERVICE_URLS
    dlq_redrive_rate: float = DLQ_REDRIVE_RATE
    dlq_redrive_max: int = DLQ_REDRIVE_MAX

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

    def production_refusals(self) -> list[str]:
        """What makes these settings unsafe in production, one clause per variable;
        a service with settings of its own extends the list."""
        refusals = secret_refusals("MLP_JWT_SECRET", [self.jwt_secret], DEVELOPMENT_JWT_SECRET)
        refusals += secret_refusals(
            "MLP_ERASURE_SALT", [self.erasure_salt], DEVELOPMENT_ERASURE_SALT
        )
        if not self.internal_topic_keys.ids:
            refusals.append("MLP_INTERNAL_TOPIC_KEYS is not set (no key seals internal records)")
        elif self.internal_topic_keys.holds_development_key():
            refusals.append("MLP_INTERNAL_TOPIC_KEYS holds the published development key")
        return refusals


def secret_refusals(variable: str, keys: list[str], development_value: str) -> list[str]:
    """Why ``keys`` (the values of ``variable``) are no production secret: the
    published development value, a placeholder of the examples, or too short."""
    refusals = []
    for key in keys:
        if key == development_value:
            refusals.append(f"{variable} is the development default")
        elif PLACEHOLDER_MARK in key:
            refusals.append(f"{variable} is a placeholder ({PLACEHOLDER_MARK!r})")
        elif len(key.encode()) < MIN_SECRET_BYTES:
            refusals.append(f"{variable} is shorter than {MIN_SECRET_BYTES} bytes")
    return refusals


S = TypeVar("S", bound=Settings)


def refuse_unsafe(settings: S) -> S:
    """``settings``, unless ``MLP_ENV=production`` and they are unsafe there: then
    the process stops at start with one sentence naming every variable to fix.

    Every service's ``load_settings`` ends with it, so the web (checked in the
    gunicorn master, see ``shared/gunicorn_conf.py``) and the worker refuse alike.
    """
    refusals = settings.production_refusals() if settings.env == "production" else []
    if refusals:
        raise SystemExit(
            f"MLP_ENV=production refuses to start: {'; '.join(dict.fromkeys(refusals))} "
            "(the production checklist is in docs/operations.md)."
        )
    return settings


def local_mongo_port(service_port: int, base: int = LOCAL_MONGO_PORT) -> int:
    """The local Mongo-wire server of the service on ``service_port``: a server
    of its own, as in production (events 27018, invitations 27019, ...)."""
    return base + service_port - SERVICE_PORT_BASE


def common_settings(env: Env, service: str, default_port: int) -> dict[str, Any]:
    """The :class:`Settings` fields of ``service`` read from ``env``, as keyword
    arguments for the service's settings class."""
    upper = service.upper()
    port = env.int(f"{upper}_PORT", default_port)
    environment = env.choice("ENV", ENVIRONMENTS, "development")
    worker_metrics_port = env.int(
        f"{upper}_WORKER_METRICS_PORT", default_port + WORKER_METRICS_OFFSET
    )
    return {
        "service": service,
        "env": environment,
        "kafka_bootstrap": env.str("KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP),
        "kafka_partitions": env.int("KAFKA_PARTITIONS", 3),
        "kafka_replication": env.int("KAFKA_REPLICATION", 1),
        "kafka_security_protocol": env.choice(
            "KAFKA_SECURITY_PROTOCOL", KAFKA_SECURITY_PROTOCOLS, "PLAINTEXT", upper=True
        ),
        "kafka_sasl_mechanism": env.choice(
            "KAFKA_SASL_MECHANISM", KAFKA_SASL_MECHANISMS, "SCRAM-SHA-512", upper=True
        ),
        "kafka_username": env.str("KAFKA_USERNAME", ""),
        "kafka_password": env.str("KAFKA_PASSWORD", ""),
        "kafka_ssl_cafile": env.str("KAFKA_SSL_CAFILE", ""),
        "kafka_bootstrap_timeout_s": env.float("KAFKA_BOOTSTRAP_TIMEOUT_S", 10.0),
        # Each service has a server of its own (production: its own MongoDB), unless
        # MLP_MONGO_URI names one for all (the tests, the benchmarks, compose).
        "mongo_uri": env.str(
            f"{upper}_MONGO_URI",
            env.str(
                "MONGO_URI",
                local_mongo_uri(local_mongo_port(default_port))
                if default_port > SERVICE_PORT_BASE
                else DEFAULT_MONGO_URI,
            ),
        ),
        "mongo_db": env.str(f"{upper}_DB", ""),
        "mongo_username": env.str("MONGO_USERNAME", ""),
        "mongo_password": env.str("MONGO_PASSWORD", ""),
        "jwt_secret": env.str("JWT_SECRET", DEVELOPMENT_JWT_SECRET),
        "jwt_jwks_url": env.str("JWT_JWKS_URL", ""),
        "jwt_audience": env.str("JWT_AUDIENCE", ""),
        "jwt_issuer": env.str("JWT_ISSUER", ""),
        # Matching people by e-mail trusts only verified addresses, by default in production.
        "jwt_require_verified_email": env.flag(
            "JWT_REQUIRE_VERIFIED_EMAIL", environment == "production"
        ),
        "max_request_bytes": env.int("MAX_REQUEST_BYTES", 1024 * 1024),
        "trusted_proxies": _hop_count(env, "TRUSTED_PROXIES"),
        "consumer_max_attempts": env.int("CONSUMER_MAX_ATTEMPTS", 4),
        "log_level": env.str("LOG_LEVEL", "INFO"),
        "otlp_endpoint": env.str("OTLP_ENDPOINT", ""),
        "port": port,
        "worker_metrics_port": worker_metrics_port,
        "metrics_multiprocess_dir": env.other("PROMETHEUS_MULTIPROC_DIR") or "",
        "internal_topic_keys": internal_topic_keys(env, env.str("ENV", "development")),
        "erasure_salt": env.str("ERASURE_SALT", DEVELOPMENT_ERASURE_SALT),
        "personal_data_retention_days": _positive(
            env, "PERSONAL_DATA_RETENTION_DAYS", PERSONAL_DATA_RETENTION_DAYS
        ),
        "internal_topic_retention_days": _positive(
            env, "INTERNAL_TOPIC_RETENTION_DAYS", INTERNAL_TOPIC_RETENTION_DAYS
        ),
        "worker_url": env.str(
            f"{upper}_WORKER_URL",
            f"http://{LOOPBACK}:{worker_metrics_port}" if worker_metrics_port > 0 else "",
        ).rstrip("/"),
        "ops_service_urls": _service_urls(env),
        "dlq_redrive_rate": _positive_number(env, "DLQ_REDRIVE_RATE", DLQ_REDRIVE_RATE),
        "dlq_redrive_max": _positive(env, "DLQ_REDRIVE_MAX", DLQ_REDRIVE_MAX),
    }


def _positive_number(env: Env, name: str, default: float) -> float:
    value = env.float(name, default)
    if not value > 0:
        raise SystemExit(f"MLP_{name} must be a positive number, got {value}.")
    return value


def _service_urls(env: Env) -> tuple[tuple[str, str], ...]:
    """MLP_OPS_SERVICE_URLS: ``<service>=<base URL>`` pairs, comma-separated."""
    value = env.raw("OPS_SERVICE_URLS")
    if value is None:
        return LOCAL_SERVICE_URLS
    pairs = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, url = part.partition("=")
        if name.strip() not in PRODUCERS or not url.strip().startswith(("http://", "https://")):
            raise SystemExit(
                f"MLP_OPS_SERVICE_URLS must be <service>=<http(s) URL> pairs, got {part!r}."
            )
        pairs.append((name.strip(), url.strip().rstrip("/")))
    return tuple(pairs)


def _positive(env: Env, name: str, default: int) -> int:
    value = env.int(name, default)
    if value < 1:
        raise SystemExit(f"MLP_{name} must be a positive number, got {value}.")
    return value


def internal_topic_keys(env: Env, deployment: str) -> KeyRing:
    """The key ring that seals the personal fields of internal topics
    (``MLP_INTERNAL_TOPIC_KEYS``). Development and tests fall back on the
    published development key; elsewhere an unset variable gives no keys, which
    production refuses (:meth:`Settings.production_refusals`) and a tool that
    never seals or opens a record does not need."""
    value = env.raw("INTERNAL_TOPIC_KEYS")
    if value is None:
        return DEVELOPMENT_KEYS if deployment in {"development", "test"} else NO_KEYS
    try:
        return KeyRing.parse(value)
    except ValueError as exc:
        raise SystemExit(f"MLP_INTERNAL_TOPIC_KEYS: {exc}.") from exc


def _hop_count(env: Env, name: str) -> int:
    """How many reverse proxies in front of ``web`` append ``X-Forwarded-*`` headers."""
    hops = env.int(name, 0)
    if hops < 0:
        raise SystemExit(f"MLP_{name} must be 0 or a positive number of proxies, got {hops}.")
    return hops


def tool_settings(name: str, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings of a command-line tool that talks to Kafka or MongoDB but is no
    service (topic provisioning, dead-letter replay)."""
    return Settings(**common_settings(Env(environ), name, 0))


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

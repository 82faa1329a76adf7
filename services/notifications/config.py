"""Settings of the notifications service, read from the environment once at
start (``MLP_`` variables; the service README lists them with their defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.notifications.domain import DEFAULT_WEBHOOK_PORTS, parse_mailbox
from shared.config import LOCAL_SMTP_PORT, LOOPBACK, Env, Settings, common_settings

DEFAULT_PORT = 8004


@dataclass(frozen=True)
class NotificationsSettings(Settings):
    service: str = "notifications"
    port: int = DEFAULT_PORT
    smtp_host: str = LOOPBACK
    smtp_port: int = LOCAL_SMTP_PORT
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_s: int = 10
    mail_from: str = "MLP Ops <no-reply@mlp-ops.local>"
    public_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    webhook_allow_loopback: bool = True
    webhook_retry_horizon_s: int = 86400
    webhook_timeout_s: float = 5.0
    webhook_threads: int = 8
    webhook_disable_after: int = 20
    webhook_ports: frozenset[int] = DEFAULT_WEBHOOK_PORTS
    webhook_max_subscriptions: int = 20
    mail_interval_s: float = 0.2
    tomorrow_interval_s: float = 300.0


def load_settings(environ: Mapping[str, str] | None = None) -> NotificationsSettings:
    env = Env(environ)
    common = common_settings(env, "notifications", DEFAULT_PORT)
    development = common["env"] in {"development", "test"}
    return NotificationsSettings(
        **common,
        smtp_host=env.str("SMTP_HOST", LOOPBACK),
        smtp_port=env.int("SMTP_PORT", LOCAL_SMTP_PORT),
        smtp_starttls=env.flag("SMTP_STARTTLS", False),
        smtp_username=env.str("SMTP_USERNAME", ""),
        smtp_password=env.str("SMTP_PASSWORD", ""),
        smtp_timeout_s=env.int("SMTP_TIMEOUT_SECONDS", 10),
        mail_from=_mailbox(env.str("MAIL_FROM", "MLP Ops <no-reply@mlp-ops.local>")),
        public_url=env.str("NOTIFICATIONS_PUBLIC_URL", f"http://127.0.0.1:{common['port']}").rstrip(
            "/"
        ),
        # Loopback targets only in the local development stack and tests, and only
        # while MLP_WEBHOOK_ALLOW_LOOPBACK is true (its default there).
        webhook_allow_loopback=development and env.flag("WEBHOOK_ALLOW_LOOPBACK", True),
        webhook_retry_horizon_s=env.int("WEBHOOK_RETRY_HORIZON_SECONDS", 86400),
        webhook_timeout_s=float(env.int("WEBHOOK_TIMEOUT_SECONDS", 5)),
        webhook_threads=env.int("WEBHOOK_THREADS", 8),
        webhook_disable_after=env.int("WEBHOOK_DISABLE_AFTER", 20),
        webhook_ports=_ports(
            env.str("WEBHOOK_PORTS", ",".join(map(str, sorted(DEFAULT_WEBHOOK_PORTS))))
        ),
        webhook_max_subscriptions=env.int("WEBHOOK_MAX_SUBSCRIPTIONS", 20),
        mail_interval_s=env.float("MAIL_POLL_SECONDS", 0.2),
        tomorrow_interval_s=env.float("TOMORROW_POLL_SECONDS", 300.0),
    )


def _mailbox(value: str) -> str:
    """MLP_MAIL_FROM as given, once the e-mail package reads it as one mailbox."""
    try:
        parse_mailbox(value)
    except ValueError as exc:
        raise SystemExit(f"MLP_MAIL_FROM: {exc}") from exc
    return value


def _ports(value: str) -> frozenset[int]:
    """MLP_WEBHOOK_PORTS: the TCP ports webhook targets may use, comma-separated."""
    try:
        ports = frozenset(int(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise SystemExit(f"MLP_WEBHOOK_PORTS must be port numbers, got {value!r}.") from exc
    if not ports or not all(0 < port < 65536 for port in ports):
        raise SystemExit(f"MLP_WEBHOOK_PORTS must be port numbers, got {value!r}.")
    return ports

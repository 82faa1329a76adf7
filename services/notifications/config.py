"""Settings of the notifications service, read from the environment once at
start (``MLP_`` variables; the service README lists them with their defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.notifications.domain import DEFAULT_WEBHOOK_PORTS, parse_mailbox
from shared.config import (
    LOCAL_SMTP_PORT,
    LOOPBACK,
    Env,
    Settings,
    common_settings,
    refuse_unsafe,
    secret_refusals,
)

DEFAULT_PORT = 8004
# Signs the unsubscribe links of development and tests; production refuses it.
DEVELOPMENT_UNSUBSCRIBE_SECRET = "mlp-development-unsubscribe-change-me"  # noqa: S105


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
    unsubscribe_secret: str = DEVELOPMENT_UNSUBSCRIBE_SECRET
    webhook_allow_loopback: bool = True
    webhook_retry_horizon_s: int = 86400
    webhook_timeout_s: float = 5.0
    webhook_threads: int = 8
    webhook_disable_after: int = 20
    webhook_ports: frozenset[int] = DEFAULT_WEBHOOK_PORTS
    webhook_max_subscriptions: int = 20
    mail_interval_s: float = 0.2
    tomorrow_interval_s: float = 300.0
    # Retention, in days: after a mail's or delivery's final outcome, after a feed
    # item's creation, after the end of a contact's event (domain.expiry).
    mail_retention_days: int = 90
    feed_retention_days: int = 365
    delivery_retention_days: int = 30
    contact_retention_days: int = 180

    @property
    def unsubscribe_keys(self) -> list[str]:
        """The keys of unsubscribe links: the first signs, every one verifies (so
        links already mailed keep working while a key is rotated out)."""
        return [key.strip() for key in self.unsubscribe_secret.split(",") if key.strip()]

    def production_refusals(self) -> list[str]:
        refusals = super().production_refusals()
        refusals += secret_refusals(
            "MLP_UNSUBSCRIBE_SECRET", self.unsubscribe_keys, DEVELOPMENT_UNSUBSCRIBE_SECRET
        )
        if not self.unsubscribe_keys:
            refusals.append("MLP_UNSUBSCRIBE_SECRET names no key")
        if self.webhook_allow_loopback:
            refusals.append("MLP_WEBHOOK_ALLOW_LOOPBACK is true (webhooks to this very host)")
        return refusals


def load_settings(environ: Mapping[str, str] | None = None) -> NotificationsSettings:
    env = Env(environ)
    common = common_settings(env, "notifications", DEFAULT_PORT)
    development = common["env"] in {"development", "test"}
    settings = NotificationsSettings(
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
        unsubscribe_secret=env.str("UNSUBSCRIBE_SECRET", DEVELOPMENT_UNSUBSCRIBE_SECRET),
        # Loopback targets by default in the local development stack and tests only;
        # production refuses an explicit true.
        webhook_allow_loopback=env.flag("WEBHOOK_ALLOW_LOOPBACK", development),
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
        mail_retention_days=_days(env, "MAIL_RETENTION_DAYS", 90),
        feed_retention_days=_days(env, "FEED_RETENTION_DAYS", 365),
        delivery_retention_days=_days(env, "DELIVERY_RETENTION_DAYS", 30),
        contact_retention_days=_days(env, "CONTACT_RETENTION_DAYS", 180),
    )
    return refuse_unsafe(settings)


def _days(env: Env, name: str, default: int) -> int:
    days = env.int(name, default)
    if days < 1:
        raise SystemExit(f"MLP_{name} must be at least 1 (days), got {days}.")
    return days


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

"""Settings only the notifications service reads (all ``MLP_`` variables; the
README lists them with their defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.config import Settings, load_settings


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}.") from exc


@dataclass(frozen=True)
class NotificationSettings:
    base: Settings
    smtp_starttls: bool
    smtp_username: str
    smtp_password: str
    smtp_timeout_s: int
    mail_from: str
    public_url: str
    webhook_allow_loopback: bool
    webhook_retry_horizon_s: int
    webhook_timeout_s: float
    webhook_threads: int
    webhook_disable_after: int
    mail_interval_s: float
    tomorrow_interval_s: float


def load() -> NotificationSettings:
    base = load_settings("notifications")
    # Loopback targets only in the local development stack and tests, and only
    # while MLP_WEBHOOK_ALLOW_LOOPBACK is true (its default there).
    loopback = base.is_development and _flag("MLP_WEBHOOK_ALLOW_LOOPBACK", True)
    return NotificationSettings(
        base=base,
        smtp_starttls=_flag("MLP_SMTP_STARTTLS", False),
        smtp_username=os.environ.get("MLP_SMTP_USERNAME", ""),
        smtp_password=os.environ.get("MLP_SMTP_PASSWORD", ""),
        smtp_timeout_s=_int("MLP_SMTP_TIMEOUT_SECONDS", 10),
        mail_from=os.environ.get("MLP_MAIL_FROM", "MLP Ops <no-reply@mlp-ops.local>"),
        public_url=os.environ.get(
            "MLP_NOTIFICATIONS_PUBLIC_URL", f"http://127.0.0.1:{base.port}"
        ).rstrip("/"),
        webhook_allow_loopback=loopback,
        webhook_retry_horizon_s=_int("MLP_WEBHOOK_RETRY_HORIZON_SECONDS", 86400),
        webhook_timeout_s=float(_int("MLP_WEBHOOK_TIMEOUT_SECONDS", 5)),
        webhook_threads=_int("MLP_WEBHOOK_THREADS", 8),
        webhook_disable_after=_int("MLP_WEBHOOK_DISABLE_AFTER", 20),
        mail_interval_s=float(os.environ.get("MLP_MAIL_POLL_SECONDS", "0.2")),
        tomorrow_interval_s=float(os.environ.get("MLP_TOMORROW_POLL_SECONDS", "300")),
    )

"""Settings of the invitations service, read from the environment once at start
(``MLP_`` variables; the service README lists them with their defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.invitations.domain import Step, parse_domains, parse_schedule
from shared.config import Env, Settings, common_settings, refuse_unsafe

DEFAULT_PORT = 8002


@dataclass(frozen=True)
class InvitationsSettings(Settings):
    service: str = "invitations"
    port: int = DEFAULT_PORT
    public_base_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    invitation_max_request_bytes: int = 8 * 1024 * 1024
    reminder_days: str = "7,2"
    rsvp_rate_limit: int = 120
    rsvp_rate_window_s: int = 60
    registration_rate_limit: int = 30
    registration_rate_window_s: int = 3600
    registration_confirm_window_s: int = 48 * 3600
    registration_max_pending: int = 2000
    registration_blocked_domains: str = ""
    erasure_overdue_after_s: float = 86400.0

    @property
    def reminder_schedule(self) -> list[Step]:
        return parse_schedule(self.reminder_days)

    @property
    def blocked_domains(self) -> frozenset[str]:
        return parse_domains(self.registration_blocked_domains)


def load_settings(environ: Mapping[str, str] | None = None) -> InvitationsSettings:
    env = Env(environ)
    settings = InvitationsSettings(
        **common_settings(env, "invitations", DEFAULT_PORT),
        public_base_url=env.str("PUBLIC_BASE_URL", f"http://127.0.0.1:{DEFAULT_PORT}").rstrip("/"),
        invitation_max_request_bytes=env.int("INVITATION_MAX_REQUEST_BYTES", 8 * 1024 * 1024),
        reminder_days=env.str("INVITATION_REMINDER_DAYS", "7,2"),
        rsvp_rate_limit=env.int("RSVP_RATE_LIMIT", 120),
        rsvp_rate_window_s=env.int("RSVP_RATE_WINDOW_S", 60),
        registration_rate_limit=env.int("REGISTRATION_RATE_LIMIT", 30),
        registration_rate_window_s=env.int("REGISTRATION_RATE_WINDOW_S", 3600),
        registration_confirm_window_s=env.int("REGISTRATION_CONFIRM_WINDOW_S", 48 * 3600),
        registration_max_pending=env.int("REGISTRATION_MAX_PENDING", 2000),
        registration_blocked_domains=env.str("REGISTRATION_BLOCKED_DOMAINS", ""),
        erasure_overdue_after_s=env.float("ERASURE_OVERDUE_AFTER_S", 86400.0),
    )
    try:
        settings.reminder_schedule  # noqa: B018 - refuse a malformed schedule at start
    except ValueError as exc:
        raise SystemExit(f"MLP_INVITATION_REMINDER_DAYS: {exc}") from exc
    try:
        settings.blocked_domains  # noqa: B018 - refuse a malformed block-list at start
    except ValueError as exc:
        raise SystemExit(f"MLP_REGISTRATION_BLOCKED_DOMAINS: {exc}") from exc
    for name, value in (
        ("RSVP_RATE_WINDOW_S", settings.rsvp_rate_window_s),
        ("REGISTRATION_RATE_WINDOW_S", settings.registration_rate_window_s),
        ("REGISTRATION_CONFIRM_WINDOW_S", settings.registration_confirm_window_s),
    ):
        if value <= 0:
            raise SystemExit(f"MLP_{name} must be a positive number of seconds, got {value}.")
    return refuse_unsafe(settings)

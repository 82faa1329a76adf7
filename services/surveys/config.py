"""Settings of the surveys service, read from the environment once at start
(``MLP_`` variables; the service README lists them with their defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import Env, Settings, common_settings, refuse_unsafe

DEFAULT_PORT = 8005


@dataclass(frozen=True)
class SurveysSettings(Settings):
    service: str = "surveys"
    port: int = DEFAULT_PORT
    public_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    open_days: int = 21
    min_group: int = 5
    reminder_after_days: int = 7
    job_interval_s: float = 60.0


def load_settings(environ: Mapping[str, str] | None = None) -> SurveysSettings:
    env = Env(environ)
    common = common_settings(env, "surveys", DEFAULT_PORT)
    settings = SurveysSettings(
        **common,
        public_url=env.str("SURVEYS_PUBLIC_URL", f"http://127.0.0.1:{common['port']}").rstrip("/"),
        open_days=env.int("SURVEY_OPEN_DAYS", 21),
        min_group=env.int("SURVEY_MIN_GROUP", 5),
        reminder_after_days=env.int("SURVEY_REMINDER_AFTER_DAYS", 7),
        job_interval_s=env.float("SURVEY_JOB_INTERVAL_S", 60.0),
    )
    check(settings)
    return refuse_unsafe(settings)


def check(settings: SurveysSettings) -> None:
    """Refuse settings that would make a survey close before its reminder, or
    show groups too small to hide anyone, with a sentence naming the variable."""
    if settings.open_days < 1:
        raise SystemExit("MLP_SURVEY_OPEN_DAYS must be at least 1.")
    if not 1 <= settings.reminder_after_days < settings.open_days:
        raise SystemExit(
            "MLP_SURVEY_REMINDER_AFTER_DAYS must be at least 1 and fewer than "
            f"MLP_SURVEY_OPEN_DAYS ({settings.open_days})."
        )
    if settings.min_group < 2:
        raise SystemExit("MLP_SURVEY_MIN_GROUP must be at least 2: a group of one is a person.")
    if settings.job_interval_s <= 0:
        raise SystemExit("MLP_SURVEY_JOB_INTERVAL_S must be a positive number of seconds.")

"""Periodic work of the catalogue worker: only the personal-data retention
every service runs (the read models change only when a record arrives)."""

from __future__ import annotations

from datetime import datetime

from services.catalogue.operations import Context
from services.catalogue.store import ERASURE
from shared import erasure
from shared.schedule import PeriodicJob


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    return [PeriodicJob("catalogue-retention", erasure.RETENTION_EVERY_S, retain_personal_data)]


def retain_personal_data(ctx: Context, now: datetime | None = None) -> int:
    """Pseudonymise what this service holds about the participants of events
    completed more than ``MLP_PERSONAL_DATA_RETENTION_DAYS`` ago, announced like
    an erasure (``shared.erasure.retain_events``); ``now`` lets tests set the time."""
    return erasure.retain_events(ctx, ERASURE, now)

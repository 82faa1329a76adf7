"""Periodic work of the events worker: none yet. Every service has this file,
so that a reader looks for scheduled work in the same place everywhere."""

from __future__ import annotations

from services.events.operations import Context
from shared.schedule import PeriodicJob


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    return []

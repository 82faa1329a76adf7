"""Periodic work of the catalogue worker: none; the read models change only when
a record arrives. Every service has this file, so that a reader looks for
scheduled work in the same place everywhere."""

from __future__ import annotations

from services.catalogue.operations import Context
from shared.schedule import PeriodicJob


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    return []

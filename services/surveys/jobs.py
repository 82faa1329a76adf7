"""Periodic work of the surveys worker, each job under a lease: the one
reminder to participants who have not answered after
``MLP_SURVEY_REMINDER_AFTER_DAYS``, and closing surveys after
``MLP_SURVEY_OPEN_DAYS``. Both take ``now`` so tests control the time."""

from __future__ import annotations

from datetime import datetime

from services.surveys import operations
from services.surveys.operations import Context
from services.surveys.store import ERASURE
from shared import erasure
from shared.schedule import PeriodicJob


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    every = ctx.settings.job_interval_s
    return [
        PeriodicJob("surveys-remind", every, remind_due),
        PeriodicJob("surveys-close", every, close_due),
        PeriodicJob("surveys-retention", erasure.RETENTION_EVERY_S, retain_personal_data),
    ]


def retain_personal_data(ctx: Context, now: datetime | None = None) -> int:
    """Pseudonymise what this service holds about the participants of events
    completed more than ``MLP_PERSONAL_DATA_RETENTION_DAYS`` ago, announced like
    an erasure (``shared.erasure.retain_events``); ``now`` lets tests set the time."""
    return erasure.retain_events(ctx, ERASURE, now)


def remind_due(ctx: Context, now: datetime | None = None, batch: int = 200) -> int:
    """Send the reminder, once, to each participant whose reminder time has come
    and who has not answered; each in its own transaction with its outbox record
    (a respondent already reminded or answered is skipped: a rerun sends nothing)."""
    at = now or operations.now()
    sent = 0
    while True:
        due = ctx.store.due_reminders(at, batch)
        done = [operations.remind(ctx, row["_id"], at) for row in due]
        sent += sum(done)
        if len(due) < batch or not any(done):
            return sent


def close_due(ctx: Context, now: datetime | None = None) -> int:
    """Close every open survey whose time is up (``survey.closed`` with the counts)."""
    at = now or operations.now()
    closed = 0
    for event_id in ctx.store.surveys_to_close(at):
        ctx.transaction(lambda session, e=event_id: operations.close_survey(ctx, session, e))
        closed += 1
    return closed

"""Periodic work of the documents worker, each job under a lease: reminders
for papers missing near their due date, the sweep of files that never
became a version, and of cached zips past their time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo.client_session import ClientSession

from services.documents import archive
from services.documents.operations import Context
from services.documents.store import ERASURE
from shared import erasure
from shared.payloads.documents import ReminderPayloadSchema
from shared.schedule import PeriodicJob

_reminder_schema = ReminderPayloadSchema()
ORPHAN_SWEEP_EVERY_S = 600.0
ORPHAN_AGE = timedelta(hours=1)
ARCHIVE_SWEEP_EVERY_S = 600.0


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    return [
        PeriodicJob("document-reminders", ctx.settings.reminder_interval_s, send_due_reminders),
        PeriodicJob("orphan-files", ORPHAN_SWEEP_EVERY_S, sweep_orphan_files),
        PeriodicJob("archive-cache", ARCHIVE_SWEEP_EVERY_S, sweep_archives),
        PeriodicJob("documents-retention", erasure.RETENTION_EVERY_S, retain_personal_data),
    ]


def retain_personal_data(ctx: Context, now: datetime | None = None) -> int:
    """Pseudonymise what this service holds about the participants of events
    completed more than ``MLP_PERSONAL_DATA_RETENTION_DAYS`` ago, announced like
    an erasure (``shared.erasure.retain_events``); ``now`` lets tests set the time."""
    return erasure.retain_events(ctx, ERASURE, now)


def reminder_id(event_id: str, kind: str, country: str | None, days_before: int) -> str:
    return f"{event_id}:{kind}:{country or '-'}:{days_before}d"


def send_due_reminders(ctx: Context, today: date | None = None) -> int:
    """Announce ``internal.document.reminder_due`` once per missing paper and step.

    A step is due from ``due_on - days_before``; a paper counts as there once
    submitted (or later). Each reminder is a unique ``reminders`` row written in
    the same transaction as its outbox record, so a rerun changes nothing.
    """
    today = today or datetime.now(UTC).date()
    store = ctx.store
    sent = 0
    for plan in store.all_due_dates():
        event_id = plan["_id"]
        event = store.get_event(event_id) or {}
        if event.get("status") in {"cancelled", "completed"}:
            continue
        for item in plan.get("items", []):
            rid = _due_reminder(ctx, event_id, item, today)
            if rid is not None and _announce_reminder(ctx, rid, event_id, event, item):
                sent += 1
    return sent


def _due_reminder(ctx: Context, event_id: str, item: dict[str, Any], today: date) -> str | None:
    """The id of the reminder due today for one expected paper, if one is and was not sent."""
    due_on = date.fromisoformat(item["due_on"])
    if ctx.store.has_paper(event_id, item["kind"], item.get("country")):
        return None
    # The most urgent step that is due; earlier steps missed are not sent late.
    due_steps = [
        d
        for d in sorted(item.get("remind_days_before") or [0])
        if today >= due_on - timedelta(days=d)
    ]
    if not due_steps:
        return None
    rid = reminder_id(event_id, item["kind"], item.get("country"), due_steps[0])
    return None if ctx.store.was_reminded(rid) else rid


def _announce_reminder(
    ctx: Context, rid: str, event_id: str, event: dict[str, Any], item: dict[str, Any]
) -> bool:
    body = _reminder_schema.dump(
        {
            "event_id": event_id,
            "kind": item["kind"],
            "due_on": date.fromisoformat(item["due_on"]),
            "recipients": item.get("recipients") or [],
            "title": event.get("title") or "",
            "reminder_id": rid,
            "occurred_at": datetime.now(UTC),
            "version": 1,
        }
    )

    def work(session: ClientSession) -> bool:
        if ctx.store.was_reminded(rid, session):
            return False
        ctx.store.record_reminder(rid, event_id, datetime.now(UTC), session)
        ctx.outbox.add(
            session,
            topic="internal.document.reminder_due",
            key=event_id,
            seq=1,
            subject=rid,
            payload=body,
        )
        return True

    return ctx.transaction(work)


def sweep_orphan_files(ctx: Context) -> int:
    return ctx.store.sweep_orphans(ORPHAN_AGE)


def sweep_archives(ctx: Context) -> int:
    """Delete cached zips older than ``archive.KEEP_FOR`` (and builds that died)."""
    return ctx.store.sweep_archives(archive.KEEP_FOR)

"""Periodic work of the invitations worker, each job under a lease: expiring
pending invitations at the deadline, and announcing reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.client_session import ClientSession

from services.invitations import domain
from services.invitations.operations import SYSTEM, Context, change_status, now
from services.invitations.store import ERASURE
from shared import erasure
from shared.payloads.invitations import ReminderDuePayloadSchema
from shared.schedule import PeriodicJob

_reminder = ReminderDuePayloadSchema()
EXPIRE_EVERY_S = 30.0
REMIND_EVERY_S = 60.0


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    return [
        PeriodicJob("invitations-expire", EXPIRE_EVERY_S, expire_due),
        PeriodicJob("invitations-remind", REMIND_EVERY_S, remind_due),
        PeriodicJob("invitations-retention", erasure.RETENTION_EVERY_S, retain_personal_data),
    ]


def retain_personal_data(ctx: Context, now: datetime | None = None) -> int:
    """Pseudonymise the invitees of events completed more than
    ``MLP_PERSONAL_DATA_RETENTION_DAYS`` ago, announced like an erasure."""
    return erasure.retain_events(ctx, ERASURE, now)


def expire_due(ctx: Context, batch: int = 200) -> int:
    """At the deadline, pending invitations expire (``invitation.expired``)."""
    store = ctx.store
    handled = 0
    for event_id in store.events_past_deadline(now()):
        while True:

            def work(session: ClientSession, event_id: str = event_id) -> int:
                items = store.with_status(event_id, ["pending"], batch, session)
                for inv in items:
                    change_status(ctx, session, inv, "expired", by=SYSTEM, action="expire")
                return len(items)

            n = ctx.transaction(work)
            handled += n
            if n < batch:
                break
    return handled


def remind_due(ctx: Context, batch: int = 200) -> int:
    """Announce ``internal.invitation.reminder_due`` once per pending invitee per
    step of the configured schedule; the unique ``reminders`` row commits with
    its outbox record."""
    store = ctx.store
    schedule = ctx.settings.reminder_schedule
    at = now()
    handled = 0
    for event in store.events_open(at):
        deadline = event["registration_deadline"]
        by_step: dict[str, list[dict[str, Any]]] = {}
        for inv in store.with_status(event["id"], ["pending"], 100_000):
            step = domain.due_step(schedule, deadline, inv["created_at"], at)
            if step is not None:
                by_step.setdefault(step.name, []).append(inv)
        for step_name, invs in by_step.items():
            done = store.reminded([i["id"] for i in invs], step_name)
            todo = [i for i in invs if i["id"] not in done]
            for start in range(0, len(todo), batch):
                handled += _remind(ctx, todo[start : start + batch], step_name, deadline)
    return handled


def _remind(ctx: Context, chunk: list[dict[str, Any]], step: str, deadline: datetime) -> int:
    def work(session: ClientSession) -> int:
        # Read again inside the transaction: another worker may have done it.
        again = ctx.store.reminded([i["id"] for i in chunk], step, session)
        rows = [i for i in chunk if i["id"] not in again]
        if not rows:
            return 0
        ctx.store.record_reminders(
            [
                {"invitation_id": i["id"], "step": step, "event_id": i["event_id"], "at": now()}
                for i in rows
            ],
            session,
        )
        for inv in rows:
            _announce_reminder(ctx, session, inv, step, deadline)
        return len(rows)

    return ctx.transaction(work)


def _announce_reminder(
    ctx: Context, session: ClientSession, inv: dict[str, Any], step: str, deadline: datetime
) -> None:
    payload = {
        "invitation_id": inv["id"],
        "event_id": inv["event_id"],
        "step": step,
        "registration_deadline": deadline,
        "version": inv["version"],
        "occurred_at": now(),
    }
    ctx.outbox.add(
        session,
        topic="internal.invitation.reminder_due",
        key=inv["event_id"],
        seq=inv["version"],
        subject=inv["id"],
        payload=_reminder.dump(payload),
    )

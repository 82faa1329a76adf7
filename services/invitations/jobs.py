"""Periodic work of the invitations worker, each job under a lease: expiring
pending invitations at the deadline, announcing reminders, expiring
registrations left unconfirmed (which then forget the person), and reporting
the places nobody was nominated for at a nomination deadline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.client_session import ClientSession

from services.invitations import domain
from services.invitations.operations import (
    SYSTEM,
    Context,
    change_status,
    event_snapshot,
    expire_registration,
    now,
)
from services.invitations.store import ERASURE
from shared import erasure
from shared.payloads.invitations import QuotaUnusedPayloadSchema, ReminderDuePayloadSchema
from shared.schedule import PeriodicJob

_reminder = ReminderDuePayloadSchema()
_unused = QuotaUnusedPayloadSchema()
EXPIRE_EVERY_S = 30.0
REMIND_EVERY_S = 60.0
REGISTRATIONS_EXPIRE_EVERY_S = 30.0
NOMINATIONS_REPORT_EVERY_S = 60.0


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    return [
        PeriodicJob("invitations-expire", EXPIRE_EVERY_S, expire_due),
        PeriodicJob("invitations-remind", REMIND_EVERY_S, remind_due),
        PeriodicJob(
            "registrations-expire", REGISTRATIONS_EXPIRE_EVERY_S, expire_unconfirmed_registrations
        ),
        PeriodicJob("nominations-report", NOMINATIONS_REPORT_EVERY_S, report_unused_places),
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


def expire_unconfirmed_registrations(ctx: Context, batch: int = 200) -> int:
    """Registrations not confirmed within their window (48 hours by default)
    expire and forget the person's address, name, organisation and consent."""
    handled = 0
    while True:
        due = ctx.store.registrations_due(now(), batch)
        if not due:
            return handled

        def work(session: ClientSession, due: list[dict[str, Any]] = due) -> int:
            return sum(1 for reg in due if expire_registration(ctx, session, reg))

        done = ctx.transaction(work)
        handled += done
        if len(due) < batch or done == 0:
            return handled


def report_unused_places(ctx: Context) -> int:
    """At an event's nomination deadline, report once the places each country
    left unused (``internal.nomination.quota_unused``: a feed notice and a mail
    to the secretariat, who may move them to other countries); the report row
    commits with the outbox record. Returns the events reported."""
    reported = 0
    for event in ctx.store.events_past_nomination_deadline(now()):

        def work(session: ClientSession, event: dict[str, Any] = event) -> int:
            if not ctx.store.record_report(event["id"], now(), session):
                return 0
            countries = [
                {
                    "country": q["country"],
                    "places": q["places"],
                    "used": q["used"],
                    "unused": domain.remaining(q["places"], q["used"]),
                }
                for q in ctx.store.quotas_of(event["id"], session)
            ]
            unused = [c for c in countries if c["unused"] > 0]
            if not unused:
                return 1  # every place taken: nothing to report, and nothing to repeat
            payload = {
                "event_id": event["id"],
                "countries": unused,
                "nomination_deadline": event.get("nomination_deadline"),
                "event": event_snapshot(event),
                "version": event.get("version", 1),
                "occurred_at": now(),
            }
            ctx.outbox.add(
                session,
                topic="internal.nomination.quota_unused",
                key=event["id"],
                seq=event.get("version", 1),
                subject=event["id"],
                payload=_unused.dump(payload),
            )
            return 1

        reported += ctx.transaction(work)
    return reported

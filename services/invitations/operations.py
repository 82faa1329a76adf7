"""Every write path of the invitations service: change the state and announce
it, in one MongoDB transaction with its outbox records.

Capacity is exact under concurrency: every change that moves a seat updates
the event's ``seats`` document in the same transaction, so of two transactions
taking the last seat MongoDB commits one and the other gets a write conflict;
``with_transaction`` retries it and it then sees the seat taken (waitlisted).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from services.invitations import domain
from services.invitations.schemas import (
    InvitationIssuedPayloadSchema,
    InvitationPayloadSchema,
    ReminderDuePayloadSchema,
)
from services.invitations.store import InvitationStore
from shared.errors import Problem
from shared.mongo import in_transaction
from shared.outbox import Outbox
from shared.schedule import JobContext
from shared.web import Runtime

_partner = InvitationPayloadSchema()
_issued = InvitationIssuedPayloadSchema()
_reminder = ReminderDuePayloadSchema()
SYSTEM = "system"


@dataclass(frozen=True)
class InvitationConfig:
    """Settings of this service only (``MLP_INVITATION_*``, ``MLP_RSVP_*``)."""

    max_request_bytes: int = 8 * 1024 * 1024
    reminder_days: str = "7,2"
    rsvp_rate_limit: int = 120
    rsvp_rate_window_s: int = 60

    @classmethod
    def from_env(cls) -> InvitationConfig:
        return cls(
            max_request_bytes=int(os.environ.get("MLP_INVITATION_MAX_REQUEST_BYTES", 8 << 20)),
            reminder_days=os.environ.get("MLP_INVITATION_REMINDER_DAYS", "7,2"),
            rsvp_rate_limit=int(os.environ.get("MLP_RSVP_RATE_LIMIT", 120)),
            rsvp_rate_window_s=int(os.environ.get("MLP_RSVP_RATE_WINDOW_S", 60)),
        )


def now() -> datetime:
    return datetime.now(UTC)


# --- payloads -----------------------------------------------------------------


def partner_payload(inv: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return _partner.dump(
        {
            "invitation_id": inv["id"],
            "event_id": inv["event_id"],
            "country": inv["country"],
            "role": inv["role"],
            "status": inv["status"],
            "version": inv["version"],
            "occurred_at": now(),
            **extra,
        }
    )


def issued_payload(
    inv: dict[str, Any], event: dict[str, Any], url: str, resend: bool
) -> dict[str, Any]:
    return _issued.dump(
        {
            "invitation_id": inv["id"],
            "event_id": inv["event_id"],
            "version": inv["version"],
            "email": inv["email"],
            "name": inv["name"],
            "language": inv["language"],
            "country": inv["country"],
            "organisation": inv.get("organisation", ""),
            "role": inv["role"],
            "rsvp_url": url,
            "registration_deadline": event.get("registration_deadline"),
            "resend": resend,
            "event": {name: event.get(name) for name in _issued.fields["event"].schema.fields},
            "occurred_at": now(),
        }
    )


def _history(action: str, by: str | None, before: str | None, after: str | None, **extra) -> dict:
    return {"at": now(), "by": by, "action": action, "from": before, "to": after, **extra}


# --- inviting -----------------------------------------------------------------


def invite(
    rt: Runtime,
    store: InvitationStore,
    event_id: str,
    rows: list[tuple[int, dict[str, Any]]],
    by: str,
) -> dict[str, Any]:
    """Create the invitations of ``rows`` ((row number, validated invitee) pairs), skipping e-mails
    already invited; all invitations and their outbox records commit together.

    Existing e-mails are read first (a duplicate-key error would abort the
    transaction); an invitation a concurrent request creates in between makes
    the insert fail, and the whole invite is redone with a fresh read.
    """
    for _attempt in range(3):
        try:
            return _invite_once(rt, store, event_id, rows, by)
        except (BulkWriteError, DuplicateKeyError):
            continue
        except OperationFailure as exc:
            if exc.code != 11000:
                raise
    raise Problem(409, "Concurrent invitations to the same people kept colliding; try again.")


def _invite_once(
    rt: Runtime,
    store: InvitationStore,
    event_id: str,
    rows: list[tuple[int, dict[str, Any]]],
    by: str,
) -> dict[str, Any]:
    emails = [row["email"] for _, row in rows]
    existing = store.existing_emails(event_id, emails)
    skipped: list[dict[str, Any]] = []
    fresh: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for index, row in rows:
        email = row["email"]
        if email in existing:
            skipped.append(
                {
                    "row": index,
                    "email": email,
                    "invitation_id": existing[email],
                    "reason": "already invited",
                }
            )
        elif email in seen:
            skipped.append({"row": index, "email": email, "reason": "listed twice"})
        else:
            seen.add(email)
            fresh.append((index, row))
    created_at = now()
    docs: list[dict[str, Any]] = []
    links: list[str] = []
    for _, row in fresh:
        token = domain.new_token()
        links.append(domain.rsvp_url(rt.settings.public_base_url, token))
        docs.append(
            {
                "_id": str(uuid.uuid4()),
                "event_id": event_id,
                **row,
                "status": "pending",
                "version": 1,
                "token_hash": domain.token_hash(token),
                "promoted": False,
                "on_behalf": False,
                "created_at": created_at,
                "updated_at": created_at,
                "answered_at": None,
                "waitlisted_at": None,
                "sent_count": 1,
                "created_by": by,
                "history": [_history("invited", by, None, "pending", version=1)],
            }
        )

    def work(session: ClientSession) -> None:
        event = store.get_event(event_id, session)
        try:
            domain.check_invitable(event, event_id, now())
        except domain.NotInvitable as exc:
            raise Problem(exc.status, exc.detail) from exc
        if not docs:
            return
        # Touch the event's seat document: conflicts with a concurrent cancellation.
        store.bump_seats(event_id, {"invited": len(docs)}, session)
        store.insert_many(docs, session)
        outbox: list[dict[str, Any]] = []
        for doc, url in zip(docs, links, strict=True):
            inv = {**doc, "id": doc["_id"]}
            outbox.append(
                rt.outbox.record(
                    topic="invitation.sent",
                    key=event_id,
                    seq=1,
                    subject=inv["id"],
                    payload=partner_payload(inv),
                )
            )
            outbox.append(
                rt.outbox.record(
                    topic="internal.invitation.issued",
                    key=event_id,
                    seq=1,
                    subject=inv["id"],
                    payload=issued_payload(inv, event or {}, url, resend=False),
                )
            )
        rt.outbox.add_many(session, outbox)

    in_transaction(rt.client, work)
    created = [
        {"row": index, "id": doc["_id"], "email": doc["email"], "status": "pending"}
        for (index, _), doc in zip(fresh, docs, strict=True)
    ]
    return {"created": created, "skipped": skipped, "rejected": []}


# --- state changes ------------------------------------------------------------


def change_status(
    store: InvitationStore,
    outbox: Outbox,
    session: ClientSession,
    inv: dict[str, Any],
    to: str,
    *,
    by: str | None,
    action: str,
    on_behalf: bool = False,
    promoted: bool = False,
    when: datetime | None = None,
) -> dict[str, Any]:
    """Move ``inv`` to ``to``: update it and the seat counters, log it, announce it."""
    when = when or now()
    before = inv["status"]
    values: dict[str, Any] = {"status": to, "updated_at": when}
    if action in ("answer", "promote"):
        values["answered_at"] = when
        values["on_behalf"] = on_behalf
        values["promoted"] = promoted
    if to == "waitlisted":
        values["waitlisted_at"] = when
    extra = {"on_behalf": True} if on_behalf else {}
    entry = _history(action, by, before, to, version=inv["version"] + 1, **extra)
    updated = store.update(inv["id"], inv["version"], values, entry, session)
    if updated is None:  # changed under us: retry the whole transaction
        raise Problem(409, "The invitation changed while this request was applied; try again.")
    delta = {k: v for k, v in domain.seat_delta(before, to).items() if v}
    if delta:
        store.bump_seats(inv["event_id"], delta, session)
    payload_extra: dict[str, Any] = {}
    if promoted:
        payload_extra["promoted"] = True
    if on_behalf:
        payload_extra["on_behalf"] = True
    outbox.add(
        session,
        topic=domain.TOPIC_OF_STATUS[to],
        key=updated["event_id"],
        seq=updated["version"],
        subject=updated["id"],
        payload=partner_payload(updated, **payload_extra),
    )
    return updated


def promote(
    store: InvitationStore, outbox: Outbox, session: ClientSession, event: dict[str, Any]
) -> int:
    """Give free seats to the earliest waitlisted invitees; how many were promoted."""
    if event.get("status") != "published":
        return 0
    seats = store.get_seats(event["id"], session)
    n = domain.free_seats(seats["accepted"], event.get("capacity"), seats["waitlisted"])
    if n <= 0:
        return 0
    promoted = store.earliest_waitlisted(event["id"], n, session)
    for inv in promoted:
        change_status(
            store, outbox, session, inv, "accepted", by=SYSTEM, action="promote", promoted=True
        )
    return len(promoted)


def answer(
    rt: Runtime,
    store: InvitationStore,
    response: str,
    *,
    token: str | None = None,
    invitation_id: str | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """Record an answer through the RSVP link (``token``) or, by the secretariat,
    on the invitee's behalf (``invitation_id``; the deadline does not bind it)."""
    on_behalf = invitation_id is not None

    def work(session: ClientSession) -> dict[str, Any]:
        if token is not None:
            inv = store.by_token_hash(domain.token_hash(token), session)
        else:
            inv = store.get(str(invitation_id), session)
        if inv is None:
            raise Problem(404, "There is no such invitation.")
        event = store.get_event(inv["event_id"], session) or {"status": "unknown"}
        try:
            domain.check_answerable(inv, event, now(), deadline_binds=not on_behalf)
        except domain.RsvpRefused as exc:
            raise Problem(exc.status, exc.detail, **exc.extensions) from exc
        if response == "accept" and inv["status"] in ("accepted", "waitlisted"):
            return inv  # already holds a seat or a place: nothing to change
        seats = store.lock_seats(inv["event_id"], session)
        free = domain.seat_free(seats["accepted"], event.get("capacity"))
        to = domain.next_status(inv["status"], response, free)
        if to == inv["status"]:
            return inv
        updated = change_status(
            store,
            rt.outbox,
            session,
            inv,
            to,
            by=by if on_behalf else "invitee",
            action="answer",
            on_behalf=on_behalf,
        )
        promote(store, rt.outbox, session, event)
        return updated

    return in_transaction(rt.client, work)


def revoke(rt: Runtime, store: InvitationStore, invitation_id: str, by: str) -> dict[str, Any]:
    def work(session: ClientSession) -> dict[str, Any]:
        inv = store.get(invitation_id, session)
        if inv is None:
            raise Problem(404, f"There is no invitation {invitation_id}.")
        if inv["status"] in ("revoked", "expired"):
            raise Problem(
                409,
                f"Cannot revoke an invitation that is {inv['status']}.",
                slug="illegal-transition",
                current_status=inv["status"],
            )
        updated = change_status(store, rt.outbox, session, inv, "revoked", by=by, action="revoke")
        event = store.get_event(inv["event_id"], session)
        if event is not None:
            promote(store, rt.outbox, session, event)
        return updated

    return in_transaction(rt.client, work)


def resend(rt: Runtime, store: InvitationStore, invitation_id: str, by: str) -> dict[str, Any]:
    """Issue a new RSVP link (the old one dies) and announce it for the mail."""
    token = domain.new_token()

    def work(session: ClientSession) -> dict[str, Any]:
        inv = store.get(invitation_id, session)
        if inv is None:
            raise Problem(404, f"There is no invitation {invitation_id}.")
        event = store.get_event(inv["event_id"], session) or {}
        if inv["status"] in ("revoked", "expired") or event.get("status") != "published":
            raise Problem(
                409,
                f"An invitation that is {inv['status']} (event "
                f"{event.get('status')}) cannot be resent.",
            )
        values = {
            "token_hash": domain.token_hash(token),
            "updated_at": now(),
            "sent_count": inv.get("sent_count", 1) + 1,
        }
        entry = _history("resend", by, inv["status"], inv["status"], version=inv["version"] + 1)
        updated = store.update(inv["id"], inv["version"], values, entry, session)
        if updated is None:
            raise Problem(409, "The invitation changed while this request was applied.")
        url = domain.rsvp_url(rt.settings.public_base_url, token)
        rt.outbox.add(
            session,
            topic="internal.invitation.issued",
            key=updated["event_id"],
            seq=updated["version"],
            subject=updated["id"],
            payload=issued_payload(updated, event, url, resend=True),
        )
        return updated

    return in_transaction(rt.client, work)


# --- reactions to event.* (called by handlers inside their transaction) --------


def revoke_all_open(
    store: InvitationStore, outbox: Outbox, session: ClientSession, event_id: str
) -> int:
    """The event was cancelled: revoke every invitation not yet revoked or expired."""
    store.bump_seats(event_id, {}, session)  # conflicts with a concurrent invite
    count = 0
    while True:
        batch = store.with_status(event_id, list(domain.OPEN_STATUSES), 500, session)
        if not batch:
            return count
        for inv in batch:
            change_status(
                store, outbox, session, inv, "revoked", by=SYSTEM, action="event_cancelled"
            )
        count += len(batch)


# --- periodic jobs --------------------------------------------------------------


def expire_due(ctx: JobContext, batch: int = 200) -> int:
    """At the deadline, pending invitations expire (``invitation.expired``)."""
    store = InvitationStore(ctx.db)
    handled = 0
    for event_id in store.events_past_deadline(now()):
        while True:

            def work(session: ClientSession, event_id: str = event_id) -> int:
                items = store.with_status(event_id, ["pending"], batch, session)
                for inv in items:
                    change_status(
                        store, ctx.outbox, session, inv, "expired", by=SYSTEM, action="expire"
                    )
                return len(items)

            n = in_transaction(ctx.client, work)
            handled += n
            if n < batch:
                break
    return handled


def remind_due(ctx: JobContext, schedule: list[domain.Step], batch: int = 200) -> int:
    """Announce ``internal.invitation.reminder_due`` once per pending invitee per
    step; the unique ``reminders`` row commits with its outbox record."""
    store = InvitationStore(ctx.db)
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
                handled += _remind(ctx, store, todo[start : start + batch], step_name, deadline)
    return handled


def _remind(
    ctx: JobContext,
    store: InvitationStore,
    chunk: list[dict[str, Any]],
    step: str,
    deadline: datetime,
) -> int:
    def work(session: ClientSession) -> int:
        # Read again inside the transaction: another worker may have done it.
        again = store.reminded([i["id"] for i in chunk], step, session)
        rows = [i for i in chunk if i["id"] not in again]
        if not rows:
            return 0
        store.record_reminders(
            [
                {"invitation_id": i["id"], "step": step, "event_id": i["event_id"], "at": now()}
                for i in rows
            ],
            session,
        )
        for inv in rows:
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
        return len(rows)

    return in_transaction(ctx.client, work)

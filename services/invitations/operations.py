"""Every write path of the invitations service: change the state and announce
it, in one MongoDB transaction with its outbox records.

Capacity is exact under concurrency: every change that moves a seat updates
the event's ``seats`` document in the same transaction, so of two transactions
taking the last seat MongoDB commits one and the other gets a write conflict;
``with_transaction`` retries it and it then sees the seat taken (waitlisted).

Refusals are the plain errors of :mod:`shared.errors`; the HTTP edge decides
how they are answered, so handlers and jobs call these functions too.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from services.invitations import domain
from services.invitations.config import InvitationsSettings
from services.invitations.store import ERASURE, INVITATION_STEP, InvitationStore
from shared import erasure
from shared.errors import Conflict, IllegalTransition, NotFound
from shared.payloads.invitations import InvitationIssuedPayloadSchema, InvitationPayloadSchema
from shared.payloads.people import (
    ErasureCompletedPayload,
    ErasureRequestedPayload,
    ErasureRequestedPayloadSchema,
)
from shared.service import ServiceContext
from shared.topics import PRODUCERS

Context = ServiceContext[InvitationsSettings, InvitationStore]
log = logging.getLogger(__name__)
"""What the invitations service's views, handlers and jobs run with."""

_partner = InvitationPayloadSchema()
_issued = InvitationIssuedPayloadSchema()
SYSTEM = "system"


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

Invited = tuple[dict[str, Any], str]
"""A new invitation and its RSVP link (only the token's hash is stored)."""


def invite(
    ctx: Context,
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
            return _invite_once(ctx, event_id, rows, by)
        except (BulkWriteError, DuplicateKeyError):
            continue
        except OperationFailure as exc:
            if exc.code != 11000:
                raise
    raise Conflict("Concurrent invitations to the same people kept colliding; try again.")


def _invite_once(
    ctx: Context,
    event_id: str,
    rows: list[tuple[int, dict[str, Any]]],
    by: str,
) -> dict[str, Any]:
    """One attempt of :func:`invite`: read who is invited already, then create
    the others' invitations in one transaction."""
    existing = ctx.store.existing_emails(event_id, [row["email"] for _, row in rows])
    fresh, skipped = _sort_out(rows, existing)
    created_at = now()
    # Built once, outside the transaction: a retried transaction writes the same ids.
    invited = [_new_invitation(ctx, event_id, row, by, created_at) for _, row in fresh]
    ctx.transaction(lambda session: _write_invitations(ctx, session, event_id, invited))
    created = [
        {"row": index, "id": inv["id"], "email": inv["email"], "status": "pending"}
        for (index, _), (inv, _url) in zip(fresh, invited, strict=True)
    ]
    return {"created": created, "skipped": skipped, "rejected": []}


def _sort_out(
    rows: list[tuple[int, dict[str, Any]]], existing: dict[str, str]
) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """The rows to invite, and the skipped ones: already invited, or listed twice."""
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
    return fresh, skipped


def _new_invitation(
    ctx: Context, event_id: str, row: dict[str, Any], by: str, created_at: datetime
) -> Invited:
    token = domain.new_token()
    invitation = {
        "id": str(uuid.uuid4()),
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
    return invitation, domain.rsvp_url(ctx.settings.public_base_url, token)


def _write_invitations(
    ctx: Context, session: ClientSession, event_id: str, invited: list[Invited]
) -> None:
    """Store the invitations and announce each (``invitation.sent`` for partners,
    ``internal.invitation.issued`` for the mail), if the event still takes them."""
    event = ctx.store.get_event(event_id, session)
    domain.check_invitable(event, event_id, now())
    if not invited:
        return
    # Touch the event's seat document first: conflicts with a concurrent cancellation.
    ctx.store.bump_seats(event_id, {"invited": len(invited)}, session)
    ctx.store.insert_invitations([inv for inv, _url in invited], session)
    outbox: list[dict[str, Any]] = []
    for inv, url in invited:
        for topic, payload in (
            ("invitation.sent", partner_payload(inv)),
            ("internal.invitation.issued", issued_payload(inv, event or {}, url, resend=False)),
        ):
            outbox.append(
                ctx.outbox.record(
                    topic=topic, key=event_id, seq=1, subject=inv["id"], payload=payload
                )
            )
    ctx.outbox.add_many(session, outbox)


# --- state changes ------------------------------------------------------------


def change_status(
    ctx: Context,
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
    updated = ctx.store.update(inv["id"], inv["version"], values, entry, session)
    if updated is None:
        # Changed after this transaction read it. Only a write conflict (labelled
        # TransientTransactionError) makes pymongo retry; this refusal aborts it.
        raise Conflict("The invitation changed while this request was applied; try again.")
    delta = {k: v for k, v in domain.seat_delta(before, to).items() if v}
    if delta:
        ctx.store.bump_seats(inv["event_id"], delta, session)
    payload_extra: dict[str, Any] = {}
    if promoted:
        payload_extra["promoted"] = True
    if on_behalf:
        payload_extra["on_behalf"] = True
    ctx.outbox.add(
        session,
        topic=domain.TOPIC_OF_STATUS[to],
        key=updated["event_id"],
        seq=updated["version"],
        subject=updated["id"],
        payload=partner_payload(updated, **payload_extra),
    )
    return updated


def promote(ctx: Context, session: ClientSession, event: dict[str, Any]) -> int:
    """Give free seats to the earliest waitlisted invitees; how many were promoted."""
    if event.get("status") != "published":
        return 0
    seats = ctx.store.get_seats(event["id"], session)
    n = domain.free_seats(seats["accepted"], event.get("capacity"), seats["waitlisted"])
    if n <= 0:
        return 0
    promoted = ctx.store.earliest_waitlisted(event["id"], n, session)
    for inv in promoted:
        change_status(ctx, session, inv, "accepted", by=SYSTEM, action="promote", promoted=True)
    return len(promoted)


def answer(
    ctx: Context,
    response: str,
    *,
    token: str | None = None,
    invitation_id: str | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """Record an answer through the RSVP link (``token``) or, by the secretariat,
    on the invitee's behalf (``invitation_id``; the deadline does not bind it)."""
    on_behalf = invitation_id is not None
    store = ctx.store

    def work(session: ClientSession) -> dict[str, Any]:
        if token is not None:
            inv = store.by_token_hash(domain.token_hash(token), session)
        else:
            inv = store.get(str(invitation_id), session)
        if inv is None:
            raise NotFound("There is no such invitation.")
        event = store.get_event(inv["event_id"], session) or {"status": "unknown"}
        domain.check_answerable(inv, event, now(), deadline_binds=not on_behalf)
        if response == "accept" and inv["status"] in ("accepted", "waitlisted"):
            return inv  # already holds a seat or a place: nothing to change
        seats = store.lock_seats(inv["event_id"], session)
        free = domain.seat_free(seats["accepted"], event.get("capacity"))
        to = domain.next_status(inv["status"], response, free)
        if to == inv["status"]:
            return inv
        updated = change_status(
            ctx,
            session,
            inv,
            to,
            by=by if on_behalf else "invitee",
            action="answer",
            on_behalf=on_behalf,
        )
        promote(ctx, session, event)
        return updated

    return ctx.transaction(work)


def revoke(ctx: Context, invitation_id: str, by: str) -> dict[str, Any]:
    def work(session: ClientSession) -> dict[str, Any]:
        inv = ctx.store.get(invitation_id, session)
        if inv is None:
            raise NotFound(f"There is no invitation {invitation_id}.")
        if inv["status"] in ("revoked", "expired"):
            raise IllegalTransition(
                f"Cannot revoke an invitation that is {inv['status']}.", inv["status"]
            )
        updated = change_status(ctx, session, inv, "revoked", by=by, action="revoke")
        event = ctx.store.get_event(inv["event_id"], session)
        if event is not None:
            promote(ctx, session, event)
        return updated

    return ctx.transaction(work)


def resend(ctx: Context, invitation_id: str, by: str) -> dict[str, Any]:
    """Issue a new RSVP link (the old one dies) and announce it for the mail."""
    token = domain.new_token()
    store = ctx.store

    def work(session: ClientSession) -> dict[str, Any]:
        inv = store.get(invitation_id, session)
        if inv is None:
            raise NotFound(f"There is no invitation {invitation_id}.")
        event = store.get_event(inv["event_id"], session) or {}
        if inv["status"] in ("revoked", "expired") or event.get("status") != "published":
            raise Conflict(
                f"An invitation that is {inv['status']} (event "
                f"{event.get('status')}) cannot be resent."
            )
        values = {
            "token_hash": domain.token_hash(token),
            "updated_at": now(),
            "sent_count": inv.get("sent_count", 1) + 1,
        }
        entry = _history("resend", by, inv["status"], inv["status"], version=inv["version"] + 1)
        updated = store.update(inv["id"], inv["version"], values, entry, session)
        if updated is None:
            raise Conflict("The invitation changed while this request was applied.")
        url = domain.rsvp_url(ctx.settings.public_base_url, token)
        ctx.outbox.add(
            session,
            topic="internal.invitation.issued",
            key=updated["event_id"],
            seq=updated["version"],
            subject=updated["id"],
            payload=issued_payload(updated, event, url, resend=True),
        )
        return updated

    return ctx.transaction(work)


# --- reactions to event.* (called by handlers inside their transaction) --------


def revoke_all_open(ctx: Context, session: ClientSession, event_id: str) -> int:
    """The event was cancelled: revoke every invitation not yet revoked or expired."""
    ctx.store.bump_seats(event_id, {}, session)  # conflicts with a concurrent invite
    count = 0
    while True:
        batch = ctx.store.with_status(event_id, list(domain.OPEN_STATUSES), 500, session)
        if not batch:
            return count
        for inv in batch:
            change_status(ctx, session, inv, "revoked", by=SYSTEM, action="event_cancelled")
        count += len(batch)


# --- the right to be forgotten: the ledger ------------------------------------------

_erasure_requested = ErasureRequestedPayloadSchema()


def _announce_erasure(
    ctx: Context, session: ClientSession, entry: dict[str, Any], email: str, accounts: list[str]
) -> None:
    """``internal.person.erasure_requested``; the address and account ids sealed."""
    ctx.outbox.add(
        session,
        topic=erasure.REQUESTED_TOPIC,
        key=entry["_id"],
        seq=len(entry.get("runs", [])) + 1,
        subject=entry["_id"],
        payload=_erasure_requested.dump(
            {
                "request_id": entry["_id"],
                "subject": entry["subject"],
                "email": email,
                "accounts": accounts,
                "account_keys": entry["account_keys"],
                "invitation_ids": entry["invitation_ids"],
                "replay": bool(entry.get("runs")),
                "version": len(entry.get("runs", [])) + 1,
                "occurred_at": now(),
            }
        ),
    )


def request_erasure(
    ctx: Context, email: str, *, reason: str = "", accounts: list[str] | None = None, by: str
) -> dict[str, Any]:
    """Record an erasure request and announce it to every service, in one
    transaction. The ledger keeps the keyed hash (and the ids of the person's
    invitations, which every service's rows about them are keyed by); the
    address leaves only sealed. An unknown person is erased all the same, with
    zero counts: the answer tells nobody whether someone is in the system."""
    salt = ctx.settings.erasure_salt
    accounts = sorted(set(accounts or []))
    person = erasure.Person(
        erasure.subject_key(salt, email),
        frozenset(erasure.account_key(salt, a) for a in accounts),
    )

    def work(session: ClientSession) -> dict[str, Any]:
        ids = erasure.matching_ids(ctx.db, INVITATION_STEP, person, salt, session)
        entry = domain.new_erasure(
            str(uuid.uuid4()),
            person.subject,
            kind="request",
            services=PRODUCERS,
            at=now(),
            reason=reason,
            requested_by=by,
            account_keys=sorted(person.account_keys),
            invitation_ids=[str(i) for i in ids],
        )
        ctx.store.insert_erasure(entry, session)
        _announce_erasure(ctx, session, entry, email, accounts)
        return entry

    return ctx.transaction(work)


def erase_person(ctx: Context, session: ClientSession, request: ErasureRequestedPayload) -> None:
    """This service's own part of an erasure (the handler's transaction)."""
    erasure.answer_request(ctx, session, ERASURE, request)


def record_erasure_answer(
    ctx: Context, session: ClientSession, answer: ErasureCompletedPayload, service: str
) -> None:
    """A service answered (``service`` from the record's ``ce_source``, not the
    payload): record it; the request completes once every service has. A
    retention run's first answer opens its entry."""
    entry = ctx.store.get_erasure(answer.request_id, session)
    if entry is None:
        if answer.reason != "retention":
            log.warning("erasure answer of an unknown request", extra={"service": service})
            return
        entry = domain.new_erasure(
            answer.request_id,
            "",
            kind="retention",
            services=PRODUCERS,
            at=answer.occurred_at,
            reason="retention",
            event_id=answer.event_id,
        )
    if answer.reason == "replay" and not entry.get("runs"):
        return  # a replay's answer to a request not replayed: a stale record
    recorded = {"counts": dict(answer.counts), "retained": list(answer.retained)}
    ctx.store.save_erasure(domain.record_answer(entry, service, recorded, now()), session)


def replay_erasures(ctx: Context) -> int:
    """``make erasure-replay``: after a restore, run every completed request again
    from its keyed hashes (a restored backup may hold what was erased since);
    each service erases what it finds and answers again. Returns the requests."""
    salt = ctx.settings.erasure_salt
    replayed = 0
    for request_id in ctx.store.completed_erasure_ids():

        def work(session: ClientSession, request_id: str = request_id) -> bool:
            entry = ctx.store.get_erasure(request_id, session)
            if entry is None or entry["status"] != "completed":
                return False
            person = erasure.Person(entry["subject"], frozenset(entry["account_keys"]))
            found = erasure.matching_ids(ctx.db, INVITATION_STEP, person, salt, session)
            again = domain.restart(entry, now())
            again["invitation_ids"] = sorted({*entry["invitation_ids"], *map(str, found)})
            ctx.store.save_erasure(again, session)
            _announce_erasure(ctx, session, again, "", [])
            return True

        replayed += ctx.transaction(work)
    return replayed

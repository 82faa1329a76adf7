"""Every write path of the invitations service: change the state and announce
it, in one MongoDB transaction with its outbox records.

Capacity is exact under concurrency: every change that moves a seat updates
the event's ``seats`` document in the same transaction, so of two transactions
taking the last seat MongoDB commits one and the other gets a write conflict;
it is retried and then sees the seat taken (waitlisted). An answer, a
revocation and a cancellation go through :func:`seat_change`, which makes
those conflicts rare and cheap instead of a retry storm on a busy event.

Refusals are the plain errors of :mod:`shared.errors`; the HTTP edge decides
how they are answered, so handlers and jobs call these functions too.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo.client_session import ClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from services.invitations import domain
from services.invitations.config import InvitationsSettings
from services.invitations.store import ERASURE, INVITATION_STEP, InvitationStore, SeatsBusy
from shared import erasure
from shared.errors import Conflict, IllegalTransition, Invalid, NotFound, RateLimited
from shared.payloads.invitations import (
    InvitationIssuedPayloadSchema,
    InvitationPayloadSchema,
    NominationChangedPayloadSchema,
    NominationRequestedPayloadSchema,
    RegistrationRejectedPayloadSchema,
    RegistrationRequestedPayloadSchema,
)
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
T = TypeVar("T")


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
            **_origin(inv),
            **extra,
        }
    )


def _origin(inv: dict[str, Any]) -> dict[str, str]:
    """The ``origin`` every payload states (records stored before origins
    existed are invitations)."""
    return {"origin": inv.get("origin") or "invitation"}


def event_snapshot(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a mail describes it (``IssuedEventSchema``'s fields)."""
    return {name: event.get(name) for name in _issued.fields["event"].schema.fields}


def issued_payload(
    inv: dict[str, Any], event: dict[str, Any], url: str, resend: bool
) -> dict[str, Any]:
    status = {"status": inv["status"]} if inv["status"] != "pending" else {}
    return _issued.dump(
        {
            **_origin(inv),
            **status,
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
            "event": event_snapshot(event),
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
        "origin": "invitation",
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
    _follow_origin(ctx, session, updated, action, when)
    return updated


def _follow_origin(
    ctx: Context, session: ClientSession, inv: dict[str, Any], action: str, when: datetime
) -> None:
    """A participation record that came by registration keeps its registration's
    status in step; one that came by nomination gives its country's place back
    when it ends. In the same transaction."""
    if inv.get("origin") == "registration" and inv.get("registration_id"):
        status = domain.REGISTRATION_OF_STATUS.get(inv["status"])
        if status is not None:
            ctx.store.mirror_registration(inv["registration_id"], status, when, session)
    elif inv.get("origin") == "nomination" and inv.get("nomination_id"):
        _free_nominated_place(ctx, session, inv, action, when)


class _EventLocks:
    """One lock per (service context, event) for the threads of this process,
    dropped when unused (a context is a process's connection to its database)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[tuple[int, str], tuple[threading.Lock, list[int]]] = {}

    @contextlib.contextmanager
    def hold(self, ctx: Context, event_id: str) -> Iterator[None]:
        key = (id(ctx), event_id)
        with self._guard:
            lock, users = self._held.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if not users[0]:
                    del self._held[key]


_event_locks = _EventLocks()
SEAT_WAIT_S = 30.0
"""How long :func:`seat_change` waits its turn before retrying like any transaction."""


def seat_change(
    ctx: Context, event_id: str, work: Callable[[ClientSession, dict[str, Any]], T]
) -> T:
    """Run ``work(session, seats)`` in a transaction whose first write takes the
    event's seat document, seat changes of one event one after the other.

    Left to ``with_transaction``, concurrent answers on one event conflicted
    late (after their reads) and retried with growing back-off: 8 clients got
    15 req/s, p99 8.6 s. Here the threads of a process take turns on a lock,
    and a transaction of another process that finds the document taken fails
    at its first statement, waits until the holder ends and starts again.
    """

    def attempt(session: ClientSession) -> T:
        return work(session, ctx.store.take_seats(event_id, session))

    with _event_locks.hold(ctx, event_id):
        deadline = time.monotonic() + SEAT_WAIT_S
        while time.monotonic() < deadline:
            try:
                return ctx.transaction(attempt)
            except SeatsBusy:
                ctx.store.wait_for_seats(event_id)
        # Never starved for good: at worst, with_transaction's own retries.
        return ctx.transaction(lambda s: work(s, ctx.store.lock_seats(event_id, s)))


def promote(
    ctx: Context, session: ClientSession, event: dict[str, Any], seats: dict[str, Any] | None = None
) -> int:
    """Give free seats to the earliest waitlisted invitees; how many were promoted.
    ``seats``: the counters as this transaction left them, when the caller knows."""
    if event.get("status") != "published":
        return 0
    seats = seats or ctx.store.get_seats(event["id"], session)
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

    def find(session: ClientSession | None) -> dict[str, Any]:
        if token is not None:
            inv = store.by_token_hash(domain.token_hash(token), session)
        else:
            inv = store.get(str(invitation_id), session)
        if inv is None or (token is not None and inv.get("origin") == "registration"):
            # A registrant's link is its cancellation link, not an RSVP link.
            raise NotFound("There is no such invitation.")
        return inv

    def work(session: ClientSession, seats: dict[str, Any]) -> dict[str, Any]:
        inv = find(session)
        event = store.get_event(inv["event_id"], session) or {"status": "unknown"}
        domain.check_answerable(inv, event, now(), deadline_binds=not on_behalf)
        if inv.get("origin") == "nomination" and inv["status"] == "declined":
            raise Conflict(
                "You declined, and the place went back to your country's coordinator; "
                "ask them to nominate you again."
            )
        if response == "accept" and inv["status"] in ("accepted", "waitlisted"):
            return inv  # already holds a seat or a place: nothing to change
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
        moved = domain.seat_delta(inv["status"], to)
        promote(ctx, session, event, {k: seats.get(k, 0) + moved[k] for k in moved})
        return updated

    # An invitation's event never changes: read it first, outside the transaction.
    return seat_change(ctx, find(None)["event_id"], work)


def revoke(ctx: Context, invitation_id: str, by: str) -> dict[str, Any]:
    def find(session: ClientSession | None) -> dict[str, Any]:
        inv = ctx.store.get(invitation_id, session)
        if inv is None:
            raise NotFound(f"There is no invitation {invitation_id}.")
        return inv

    def work(session: ClientSession, _seats: dict[str, Any]) -> dict[str, Any]:
        inv = find(session)
        if inv["status"] in ("revoked", "expired"):
            raise IllegalTransition(
                f"Cannot revoke an invitation that is {inv['status']}.", inv["status"]
            )
        updated = change_status(ctx, session, inv, "revoked", by=by, action="revoke")
        event = ctx.store.get_event(inv["event_id"], session)
        if event is not None:
            promote(ctx, session, event)
        return updated

    return seat_change(ctx, find(None)["event_id"], work)


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
    """The event was cancelled: revoke every invitation not yet revoked or expired
    (whatever its origin), and close the registrations not yet confirmed."""
    ctx.store.bump_seats(event_id, {}, session)  # conflicts with a concurrent invite
    close_registrations(ctx, session, event_id)
    close_nominations(ctx, session, event_id)
    count = 0
    while True:
        batch = ctx.store.with_status(event_id, list(domain.OPEN_STATUSES), 500, session)
        if not batch:
            return count
        for inv in batch:
            change_status(ctx, session, inv, "revoked", by=SYSTEM, action="event_cancelled")
        count += len(batch)


# --- open registration ------------------------------------------------------------

_requested = RegistrationRequestedPayloadSchema()
_rejected = RegistrationRejectedPayloadSchema()
REGISTRANT = "registrant"


def register(ctx: Context, event_id: str, row: dict[str, Any]) -> str:
    """Register ``row`` (validated, e-mail lower-cased) for an open event; what
    happened: ``created``, ``resent`` (the person registered before and is still
    unconfirmed; the confirmation mail goes again, at most every ten minutes) or
    ``unchanged`` (anything else: already registered, invited or confirmed).

    Nothing counts until the person confirms through the mailed link."""
    token = domain.new_token()
    registration_id = str(uuid.uuid4())
    for _attempt in range(3):
        try:
            return ctx.transaction(
                lambda session: _register_once(ctx, session, event_id, row, token, registration_id)
            )
        except DuplicateKeyError:
            continue  # the same person registered concurrently: the next round sees it
        except OperationFailure as exc:
            if exc.code != 11000:
                raise
    return "unchanged"


def _register_once(
    ctx: Context,
    session: ClientSession,
    event_id: str,
    row: dict[str, Any],
    token: str,
    registration_id: str,
) -> str:
    store, at = ctx.store, now()
    event = store.get_event(event_id, session)
    domain.check_registrable(event, event_id, at)
    assert event is not None
    existing = store.registration_of(event_id, row["email"], session)
    if existing is not None:
        if existing["status"] != "unconfirmed" or not domain.resend_due(
            existing.get("confirm_sent_at"), at
        ):
            return "unchanged"
        values = {
            "confirm_token_hash": domain.token_hash(token),
            "confirm_sent_at": at,
            "sent_count": existing.get("sent_count", 1) + 1,
            "updated_at": at,
        }
        entry = _history("resend", REGISTRANT, "unconfirmed", "unconfirmed")
        updated = store.update_registration(
            existing["id"], existing["version"], values, entry, session
        )
        if updated is None:
            raise Conflict("The registration changed while this request was applied; try again.")
        _announce_requested(ctx, session, updated, event, token, resend=True)
        return "resent"
    if store.invited(event_id, row["email"], session):
        return "unchanged"  # invited, nominated or registered before: nothing new
    if store.count_unconfirmed(event_id, session) >= ctx.settings.registration_max_pending:
        raise RateLimited(
            "Too many registrations for this event await confirmation; try again later.",
            retry_after_s=600,
        )
    registration = {
        "id": registration_id,
        "event_id": event_id,
        **row,
        "consent": {**row["consent"], "at": at},
        "status": "unconfirmed",
        "version": 1,
        "confirm_token_hash": domain.token_hash(token),
        "confirm_sent_at": at,
        "sent_count": 1,
        "created_at": at,
        "updated_at": at,
        "expires_at": at + timedelta(seconds=ctx.settings.registration_confirm_window_s),
        "confirmed_at": None,
        "invitation_id": None,
        "history": [_history("register", REGISTRANT, None, "unconfirmed")],
    }
    store.insert_registration(registration, session)
    _announce_requested(ctx, session, registration, event, token, resend=False)
    return "created"


def _announce_requested(
    ctx: Context,
    session: ClientSession,
    registration: dict[str, Any],
    event: dict[str, Any],
    token: str,
    *,
    resend: bool,
) -> None:
    """The double opt-in mail: the confirmation link, sealed, for the notifications service."""
    payload = {
        "registration_id": registration["id"],
        "event_id": registration["event_id"],
        "version": registration["version"],
        "email": registration["email"],
        "name": registration["name"],
        "language": registration["language"],
        "confirm_url": domain.confirm_url(ctx.settings.public_base_url, token),
        "resend": resend,
        "expires_at": registration["expires_at"],
        "registration_deadline": event.get("registration_deadline"),
        "event": event_snapshot(event),
        "occurred_at": now(),
    }
    ctx.outbox.add(
        session,
        topic="internal.registration.requested",
        key=registration["event_id"],
        seq=registration["version"],
        subject=registration["id"],
        payload=_requested.dump(payload),
    )


def confirm_registration(ctx: Context, token: str) -> dict[str, Any]:
    """The person confirmed through the mailed link: on a moderated event the
    registration awaits the secretariat; otherwise it takes a seat or a
    waiting-list place exactly as an accepted invitation does. Confirming twice
    changes nothing. Returns the registration."""
    cancel_token = domain.new_token()
    invitation_id = str(uuid.uuid4())

    def work(session: ClientSession) -> dict[str, Any]:
        store = ctx.store
        reg = store.registration_by_confirm_hash(domain.token_hash(token), session)
        if reg is None:
            raise NotFound("This confirmation link is not known.")
        if reg["status"] in ("awaiting_approval", "accepted", "waitlisted"):
            return reg  # confirmed before
        event = store.get_event(reg["event_id"], session) or {"status": "unknown"}
        domain.check_confirmable(reg, event, now())
        if event.get("registration_moderated"):
            entry = _history("confirm", REGISTRANT, "unconfirmed", "awaiting_approval")
            values = {"status": "awaiting_approval", "confirmed_at": now(), "updated_at": now()}
            updated = store.update_registration(reg["id"], reg["version"], values, entry, session)
            if updated is None:
                raise Conflict("The registration changed while this request was applied.")
            return updated
        return _seat_registration(
            ctx, session, reg, event, cancel_token, invitation_id, REGISTRANT, "confirm"
        )

    return ctx.transaction(work)


def _seat_registration(
    ctx: Context,
    session: ClientSession,
    reg: dict[str, Any],
    event: dict[str, Any],
    cancel_token: str,
    invitation_id: str,
    by: str,
    action: str,
) -> dict[str, Any]:
    """Make the registration a participation record (``origin: registration``)
    holding a seat or a waiting-list place, through the event's seats document
    like every acceptance; announce it, and mail the confirmation with its
    iCalendar entry and the cancellation link."""
    store, at = ctx.store, now()
    if store.invited(reg["event_id"], reg["email"], session):
        raise Conflict("This address is already invited to the event; use that invitation's link.")
    seats = store.lock_seats(reg["event_id"], session)
    status = (
        "accepted" if domain.seat_free(seats["accepted"], event.get("capacity")) else ("waitlisted")
    )
    trail = [{k: v for k, v in e.items() if k != "version"} for e in reg.get("history", [])]
    invitation = {
        "id": invitation_id,
        "event_id": reg["event_id"],
        "email": reg["email"],
        "name": reg["name"],
        "country": reg["country"],
        "organisation": reg.get("organisation", ""),
        "role": domain.role_of_stakeholder(reg["stakeholder_type"]),
        "language": reg["language"],
        "origin": "registration",
        "registration_id": reg["id"],
        "stakeholder_type": reg["stakeholder_type"],
        "status": status,
        "version": 1,
        "token_hash": domain.token_hash(cancel_token),
        "promoted": False,
        "on_behalf": by != REGISTRANT,
        "created_at": at,
        "updated_at": at,
        "answered_at": at,
        "waitlisted_at": at if status == "waitlisted" else None,
        "sent_count": 1,
        "created_by": by,
        "history": [*trail, _history(action, by, reg["status"], status, version=1)],
    }
    store.bump_seats(reg["event_id"], {"invited": 1, status: 1}, session)
    store.insert_invitations([invitation], session)
    url = domain.cancel_url(ctx.settings.public_base_url, cancel_token)
    outbox = [
        ctx.outbox.record(
            topic=domain.TOPIC_OF_STATUS[status],
            key=reg["event_id"],
            seq=1,
            subject=invitation_id,
            payload=partner_payload(invitation),
        ),
        ctx.outbox.record(
            topic="internal.invitation.issued",
            key=reg["event_id"],
            seq=1,
            subject=invitation_id,
            payload=issued_payload(invitation, event, url, resend=False),
        ),
    ]
    ctx.outbox.add_many(session, outbox)
    values = {"status": status, "confirmed_at": reg.get("confirmed_at") or at, "updated_at": at}
    values["invitation_id"] = invitation_id
    entry = _history(action, by, reg["status"], status)
    updated = store.update_registration(reg["id"], reg["version"], values, entry, session)
    if updated is None:
        raise Conflict("The registration changed while this request was applied; try again.")
    return updated


def cancel_registration(ctx: Context, token: str) -> dict[str, Any]:
    """The registrant gives their place back through the link of their
    confirmation mail: the seat is freed and the earliest waitlisted promoted.
    Cancelling twice changes nothing. Returns the participation record."""

    store = ctx.store

    def find(session: ClientSession | None) -> dict[str, Any]:
        inv = store.by_token_hash(domain.token_hash(token), session)
        if inv is None or inv.get("origin") != "registration":
            raise NotFound("This cancellation link is not known.")
        return inv

    def work(session: ClientSession, _seats: dict[str, Any]) -> dict[str, Any]:
        inv = find(session)
        event = store.get_event(inv["event_id"], session) or {"status": "unknown"}
        domain.check_cancellable(inv, event)
        if inv["status"] not in ("accepted", "waitlisted"):
            return inv  # cancelled before
        updated = change_status(ctx, session, inv, "declined", by=REGISTRANT, action="cancel")
        promote(ctx, session, event)
        return updated

    return seat_change(ctx, find(None)["event_id"], work)


def decide_registration(
    ctx: Context, registration_id: str, decision: str, by: str, reason: str = ""
) -> dict[str, Any]:
    """The secretariat approves (a seat or a waiting-list place, as a
    confirmation on an unmoderated event would) or rejects (the person is told
    ``reason``) a confirmed registration of a moderated event."""
    cancel_token = domain.new_token()
    invitation_id = str(uuid.uuid4())

    def work(session: ClientSession) -> dict[str, Any]:
        store = ctx.store
        reg = store.registration(registration_id, session)
        if reg is None:
            raise NotFound(f"There is no registration {registration_id}.")
        if reg["status"] != "awaiting_approval":
            raise IllegalTransition(
                f"Only a registration awaiting approval can be decided; this one is "
                f"{reg['status']}.",
                reg["status"],
            )
        event = store.get_event(reg["event_id"], session) or {"status": "unknown"}
        if event.get("status") != "published":
            raise Conflict(f"The event is {event.get('status')}; registrations cannot be decided.")
        if decision == "approve":
            return _seat_registration(
                ctx, session, reg, event, cancel_token, invitation_id, by, "approve"
            )
        values = {"status": "rejected", "reason": reason, "updated_at": now()}
        entry = _history("reject", by, reg["status"], "rejected", reason=reason)
        updated = store.update_registration(reg["id"], reg["version"], values, entry, session)
        if updated is None:
            raise Conflict("The registration changed while this request was applied; try again.")
        payload = {
            "registration_id": reg["id"],
            "event_id": reg["event_id"],
            "version": updated["version"],
            "email": reg["email"],
            "name": reg["name"],
            "language": reg["language"],
            "reason": reason,
            "event": event_snapshot(event),
            "occurred_at": now(),
        }
        ctx.outbox.add(
            session,
            topic="internal.registration.rejected",
            key=reg["event_id"],
            seq=updated["version"],
            subject=reg["id"],
            payload=_rejected.dump(payload),
        )
        return updated

    return ctx.transaction(work)


def expire_registration(ctx: Context, session: ClientSession, reg: dict[str, Any]) -> bool:
    """An unconfirmed registration whose window closed (or whose event was
    cancelled) expires and forgets the person: what stays is its event, status,
    stakeholder type, country, language and times, for the counts."""
    entry = _history("expire", SYSTEM, reg["status"], "expired")
    values = {"status": "expired", "updated_at": now()}
    updated = ctx.store.update_registration(
        reg["id"], reg["version"], values, entry, session, unset=domain.ERASED_ON_EXPIRY
    )
    return updated is not None


def close_registrations(ctx: Context, session: ClientSession, event_id: str) -> int:
    """The event was cancelled: unconfirmed registrations expire (and forget the
    person), those awaiting approval are revoked."""
    count = 0
    while True:
        batch = ctx.store.registrations_with_status(
            event_id, ["unconfirmed", "awaiting_approval"], 500, session
        )
        if not batch:
            return count
        for reg in batch:
            if reg["status"] == "unconfirmed":
                expire_registration(ctx, session, reg)
            else:
                entry = _history("event_cancelled", SYSTEM, reg["status"], "revoked")
                values = {"status": "revoked", "updated_at": now()}
                ctx.store.update_registration(reg["id"], reg["version"], values, entry, session)
        count += len(batch)


# --- national nominations ---------------------------------------------------------

_requested_nominations = NominationRequestedPayloadSchema()
_nomination_changed = NominationChangedPayloadSchema()


def add_coordinator(ctx: Context, row: dict[str, Any], by: str) -> dict[str, Any]:
    """Register a country's national contact point (the secretariat keeps the list)."""
    coordinator = {"id": str(uuid.uuid4()), **row, "created_at": now(), "created_by": by}
    try:
        ctx.store.insert_coordinator(coordinator)
    except DuplicateKeyError as exc:
        raise Conflict(f"{row['email']} is already a coordinator of {row['country']}.") from exc
    return coordinator


def _recipients(ctx: Context, session: ClientSession, country: str) -> list[dict[str, str]]:
    return [
        {"email": c["email"], "name": c.get("name", ""), "language": c.get("language", "en")}
        for c in ctx.store.coordinators_of(country, session)
    ]


def quota_view(ctx: Context, event_id: str, session: ClientSession | None = None) -> dict:
    """Per country: places, used, remaining, and how many coordinators it has."""
    countries = {}
    for quota in ctx.store.quotas_of(event_id, session):
        countries[quota["country"]] = {
            "places": quota["places"],
            "used": quota["used"],
            "remaining": domain.remaining(quota["places"], quota["used"]),
            "coordinators": len(ctx.store.coordinators_of(quota["country"], session)),
        }
    return {"event_id": event_id, "countries": countries}


def set_quotas(ctx: Context, event_id: str, quotas: dict[str, int], by: str) -> dict[str, Any]:
    """Give each country its places on a nomination event (a country left out
    keeps its nominations but has no places left). A country whose places grew
    moves its earliest substitutes up, and its coordinators are asked (again)
    for nominations."""

    def work(session: ClientSession) -> dict[str, Any]:
        store, at = ctx.store, now()
        event = domain.check_quota_event(store.get_event(event_id, session), event_id)
        errors = domain.quota_errors(event, quotas)
        if errors:
            raise Invalid("Places go to the host and guest countries only.", errors=errors)
        current = {q["country"] for q in store.quotas_of(event_id, session)}
        targets = {**dict.fromkeys(current - set(quotas), 0), **quotas}
        for country, places in sorted(targets.items()):
            before = store.set_quota(event_id, country, places, at, session)
            if places > before.get("places", 0):
                _move_up(ctx, session, event_id, country, places, before.get("used", 0))
            if places > 0 and places != before.get("places"):
                _ask_for_nominations(
                    ctx, session, event, country, places, before.get("version", 0) + 1
                )
        return quota_view(ctx, event_id, session)

    return ctx.transaction(work)


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


def _ask_for_nominations(
    ctx: Context,
    session: ClientSession,
    event: dict[str, Any],
    country: str,
    places: int,
    version: int,
) -> None:
    recipients = _recipients(ctx, session, country)
    if not recipients:
        return  # nobody to ask: the secretariat sees it in the answer (coordinators: 0)
    payload = {
        "event_id": event["id"],
        "country": country,
        "places": places,
        "recipients": recipients,
        "nominate_url": domain.nominate_url(ctx.settings.public_base_url, event["id"]),
        "nomination_deadline": event.get("nomination_deadline"),
        "event": event_snapshot(event),
        "version": version,
        "occurred_at": now(),
    }
    ctx.outbox.add(
        session,
        topic="internal.nomination.requested",
        key=event["id"],
        seq=version,
        subject=f"{event['id']}|{country}",
        payload=_requested_nominations.dump(payload),
    )


def _move_up(
    ctx: Context, session: ClientSession, event_id: str, country: str, places: int, used: int
) -> list[dict[str, Any]]:
    """Free places go to the country's earliest substitutes, who then count and
    await the secretariat like any nomination."""
    moved = []
    while domain.remaining(places, used) > 0:
        sub = ctx.store.earliest_substitute(event_id, country, session)
        if sub is None:
            break
        entry = _history("move_up", SYSTEM, "nominated", "nominated")
        updated = ctx.store.update_nomination(
            sub["id"], sub["version"], {"substitute": False, "updated_at": now()}, entry, session
        )
        if updated is None:
            raise Conflict("A nomination changed while this request was applied; try again.")
        ctx.store.use_places(event_id, country, 1, session)
        used += 1
        moved.append(updated)
    return moved


def nominate(
    ctx: Context, event_id: str, row: dict[str, Any], country: str, by: str, on_behalf: bool
) -> dict[str, Any]:
    """Nominate one person of ``country``; beyond the country's places 409
    (a substitute takes no place until it moves up). The country's quota
    document is written first, so of concurrent nominations for its last place
    only one commits; the others are retried and find no place left."""
    nomination_id = str(uuid.uuid4())

    def work(session: ClientSession) -> dict[str, Any]:
        store, at = ctx.store, now()
        domain.check_nominable(store.get_event(event_id, session), event_id, at)
        quota = store.lock_quota(event_id, country, session)
        if quota is None:
            raise NotFound(f"{country} has no places to nominate for on this event.")
        if store.nominated(event_id, row["email"], session) or store.invited(
            event_id, row["email"], session
        ):
            raise Conflict(f"{row['email']} is already nominated or invited to this event.")
        substitute = bool(row.get("substitute"))
        left = domain.remaining(quota["places"], quota["used"])
        if not substitute and left <= 0:
            raise Conflict(
                f"{country} has used its {quota['places']} places; nominate a substitute, or "
                "ask the secretariat for more.",
                remaining=0,
            )
        extra = {"on_behalf": True} if on_behalf else {}
        nomination = {
            "id": nomination_id,
            "event_id": event_id,
            **row,
            "country": country,
            "substitute": substitute,
            "status": "nominated",
            "version": 1,
            "nominated_by": by,
            "on_behalf": on_behalf,
            "created_at": at,
            "updated_at": at,
            "invitation_id": None,
            "history": [_history("nominate", by, None, "nominated", **extra)],
        }
        store.insert_nomination(nomination, session)
        if not substitute:
            store.use_places(event_id, country, 1, session)
        return nomination

    for _attempt in range(3):
        try:
            return ctx.transaction(work)
        except DuplicateKeyError:
            continue  # nominated concurrently: the next round refuses it
    raise Conflict(f"{row['email']} is already nominated or invited to this event.")


def decide_nomination(
    ctx: Context, nomination_id: str, decision: str, by: str, reason: str = ""
) -> dict[str, Any]:
    """The secretariat approves a nomination (it becomes an invitation: the RSVP
    link, the mail, the calendar) or rejects it (the place goes back to the
    country); the country's coordinators are told either way."""
    token = domain.new_token()
    invitation_id = str(uuid.uuid4())

    def work(session: ClientSession) -> dict[str, Any]:
        store = ctx.store
        nom = store.nomination(nomination_id, session)
        if nom is None:
            raise NotFound(f"There is no nomination {nomination_id}.")
        if nom["status"] != "nominated":
            raise IllegalTransition(f"The nomination is already {nom['status']}.", nom["status"])
        if decision == "approve" and nom.get("substitute"):
            raise Conflict("A substitute is approved once a place frees up and it moves up.")
        event = store.get_event(nom["event_id"], session)
        quota = store.lock_quota(nom["event_id"], nom["country"], session) or {}
        if decision == "approve":
            domain.check_invitable(event, nom["event_id"], now())
            assert event is not None
            updated = _approve(ctx, session, nom, event, token, invitation_id, by)
            moved: list[dict[str, Any]] = []
        else:
            values = {"status": "rejected", "reason": reason, "updated_at": now()}
            entry = _history("reject", by, "nominated", "rejected", reason=reason)
            updated = store.update_nomination(nom["id"], nom["version"], values, entry, session)
            if updated is None:
                raise Conflict("The nomination changed while this request was applied.")
            moved = _give_back(ctx, session, nom, quota)
        left = _left(ctx, session, nom)
        _tell_coordinators(
            ctx, session, "internal.nomination.decided", updated, event or {}, left, moved, reason
        )
        return updated

    return ctx.transaction(work)


def _approve(
    ctx: Context,
    session: ClientSession,
    nom: dict[str, Any],
    event: dict[str, Any],
    token: str,
    invitation_id: str,
    by: str,
) -> dict[str, Any]:
    """The nomination's participation record: an invitation (``origin:
    nomination``) announced and mailed as every invitation is."""
    at = now()
    trail = [{k: v for k, v in e.items() if k != "version"} for e in nom.get("history", [])]
    invitation = {
        "id": invitation_id,
        "event_id": nom["event_id"],
        **{k: nom[k] for k in ("email", "name", "country", "role", "language")},
        "organisation": nom.get("organisation", ""),
        "origin": "nomination",
        "nomination_id": nom["id"],
        "status": "pending",
        "version": 1,
        "token_hash": domain.token_hash(token),
        "promoted": False,
        "on_behalf": False,
        "created_at": at,
        "updated_at": at,
        "answered_at": None,
        "waitlisted_at": None,
        "sent_count": 1,
        "created_by": by,
        "history": [*trail, _history("approve", by, "nominated", "pending", version=1)],
    }
    url = domain.rsvp_url(ctx.settings.public_base_url, token)
    _write_invitations(ctx, session, nom["event_id"], [(invitation, url)])
    values = {"status": "approved", "invitation_id": invitation_id, "updated_at": at}
    entry = _history("approve", by, "nominated", "approved")
    updated = ctx.store.update_nomination(nom["id"], nom["version"], values, entry, session)
    if updated is None:
        raise Conflict("The nomination changed while this request was applied; try again.")
    return updated


def _give_back(
    ctx: Context, session: ClientSession, nom: dict[str, Any], quota: dict[str, Any]
) -> list[dict[str, Any]]:
    """A nomination that held a place no longer does: the place goes back to the
    country, and to its earliest substitute if it has one."""
    if nom.get("substitute"):
        return []
    ctx.store.use_places(nom["event_id"], nom["country"], -1, session)
    return _move_up(
        ctx,
        session,
        nom["event_id"],
        nom["country"],
        quota.get("places", 0),
        quota.get("used", 1) - 1,
    )


def _left(ctx: Context, session: ClientSession, nom: dict[str, Any]) -> int:
    """The places the nomination's country has left, as this transaction sees them."""
    quota = ctx.store.quota(nom["event_id"], nom["country"], session) or {"places": 0, "used": 0}
    return domain.remaining(quota["places"], quota["used"])


def close_nominations(ctx: Context, session: ClientSession, event_id: str) -> int:
    """The event was cancelled: nominations still awaiting the secretariat are revoked."""
    count = 0
    while True:
        batch = ctx.store.nominations_open(event_id, 500, session)
        if not batch:
            return count
        for nom in batch:
            entry = _history("event_cancelled", SYSTEM, "nominated", "revoked")
            values = {"status": "revoked", "updated_at": now()}
            ctx.store.update_nomination(nom["id"], nom["version"], values, entry, session)
        count += len(batch)


def _tell_coordinators(
    ctx: Context,
    session: ClientSession,
    topic: str,
    nom: dict[str, Any],
    event: dict[str, Any],
    left: int,
    moved: list[dict[str, Any]],
    reason: str = "",
) -> None:
    recipients = _recipients(ctx, session, nom["country"])
    if not recipients:
        return
    payload = {
        "nomination_id": nom["id"],
        "event_id": nom["event_id"],
        "country": nom["country"],
        "status": nom["status"],
        "nominee_name": nom["name"],
        "reason": reason,
        "moved_up_name": ", ".join(m["name"] for m in moved),
        "remaining": left,
        "recipients": recipients,
        "event": event_snapshot(event),
        "version": nom["version"],
        "occurred_at": now(),
    }
    ctx.outbox.add(
        session,
        topic=topic,
        key=nom["event_id"],
        seq=nom["version"],
        subject=nom["id"],
        payload=_nomination_changed.dump(payload),
    )


def _free_nominated_place(
    ctx: Context, session: ClientSession, inv: dict[str, Any], action: str, when: datetime
) -> None:
    """An approved nominee declined, was revoked or expired: the nomination says
    so, the place goes back to the country (or its earliest substitute), and its
    coordinators are told, unless the whole event was cancelled."""
    status = domain.NOMINATION_OF_STATUS.get(inv["status"])
    nom = ctx.store.nomination(inv["nomination_id"], session) if status else None
    if nom is None or nom["status"] != "approved":
        return
    quota = ctx.store.lock_quota(nom["event_id"], nom["country"], session) or {}
    entry = _history(action, SYSTEM, "approved", status, invitation_status=inv["status"])
    updated = ctx.store.update_nomination(
        nom["id"], nom["version"], {"status": status, "updated_at": when}, entry, session
    )
    if updated is None:
        raise Conflict("The nomination changed while this request was applied; try again.")
    moved = _give_back(ctx, session, nom, quota)
    if action != "event_cancelled":
        event = ctx.store.get_event(nom["event_id"], session) or {}
        left = _left(ctx, session, nom)
        _tell_coordinators(
            ctx, session, "internal.nomination.place_freed", updated, event, left, moved
        )


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

"""Every write path of the notifications service.

Handlers call :func:`queue_mail` / :func:`queue_mails` and :func:`queue_webhooks`
inside the consumer's transaction (with the record's idempotency row); the API's
writes (subscriptions, redelivery, opt-out) each run in one transaction. The
webhook dispatcher's outcomes (:func:`record_delivery_outcomes`) run in one
transaction per batch with the ``notification.*`` outbox records they announce;
a mail's outcome (:func:`record_mail_outcomes`) is one update of its row that
carries its announcement, which :func:`publish_mail_announcements` moves to the
outbox for a whole batch in one transaction. Every ``notification.*`` record
gets its partners' webhook deliveries as it is added (:func:`publish_announcements`).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession

from services.notifications import domain, mail
from services.notifications.config import NotificationsSettings
from services.notifications.store import ERASURE, FINAL_MAIL_STATUSES, NotificationStore
from shared import erasure
from shared.context import TraceContext, current_context
from shared.errors import Conflict, NotFound
from shared.fields import display_name
from shared.payloads.notifications import NotificationPayloadSchema
from shared.payloads.people import ErasureRequestedPayload
from shared.service import ServiceContext
from shared.topics import TOPICS

log = logging.getLogger(__name__)

Context = ServiceContext[NotificationsSettings, NotificationStore]
"""What the notifications service's views, handlers and jobs run with."""

_payload_schema = NotificationPayloadSchema()


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    language: str | None = None
    sub: str | None = None


@dataclass(frozen=True)
class CalendarPart:
    method: str  # REQUEST or CANCEL
    uid: str
    sequence: int


@dataclass(frozen=True)
class MailRequest:
    """One mail a record causes; :func:`queue_mail` tells what each field does."""

    template: str
    cause_id: str
    recipient: Recipient
    context: dict[str, Any]
    event_id: str | None
    calendar: CalendarPart | None = None
    action_url: str | None = None
    feed_link: str | None = None
    feed_role: str | None = None
    trace: TraceContext | None = None


def queue_mail(
    ctx: Context,
    session: ClientSession,
    *,
    template: str,
    cause_id: str,
    recipient: Recipient,
    context: dict[str, Any],
    event_id: str | None,
    calendar: CalendarPart | None = None,
    action_url: str | None = None,
    feed_link: str | None = None,
    feed_role: str | None = None,
    trace: TraceContext | None = None,
) -> bool:
    """Render one mail and put it in the mail outbox, with its feed entry, unless
    this cause already produced it for this recipient; True when queued. A mail
    that cannot be written to this recipient's address is stored ``failed`` and
    announced on ``notification.failed`` instead (False): one bad address never
    fails the record for everyone else.

    ``action_url`` is the mail's button (an RSVP link is a credential: it goes
    to the mailbox only); the feed entry links ``feed_link``, an API path, and
    is shown to everyone holding ``feed_role`` too (the secretariat's notices)."""
    request = MailRequest(
        template=template,
        cause_id=cause_id,
        recipient=recipient,
        context=context,
        event_id=event_id,
        calendar=calendar,
        action_url=action_url,
        feed_link=feed_link,
        feed_role=feed_role,
        trace=trace,
    )
    return queue_mails(ctx, session, [request]) == 1


def queue_mails(ctx: Context, session: ClientSession, requests: list[MailRequest]) -> int:
    """:func:`queue_mail` for many recipients at once (a cancellation to everyone
    invited): one query for the keys already queued, one insert of the new mails,
    two writes for their feed items, whatever their number. The keys are read
    first rather than left to the unique index: in a transaction a duplicate key
    error would abort it. Returns how many mails were queued."""
    keyed: dict[str, tuple[MailRequest, str]] = {}
    for request in requests:
        email = domain.normalise_email(request.recipient.email)
        key = domain.idempotency_key(request.cause_id, email, request.template)
        keyed.setdefault(key, (request, email))  # one recipient named twice: one mail
    known = ctx.store.existing_mails(list(keyed), session)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    feed: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for key, (request, email) in keyed.items():
        if key in known:
            continue
        row, announcement = _new_mail(ctx, request, key=key, email=email, now=now)
        rows.append(row)
        if announcement is not None:
            failed.append(announcement)
        feed.append(
            _feed_row(
                ctx,
                key=key,
                email=email,
                sub=request.recipient.sub,
                kind=request.template,
                title=row["subject"],
                event_id=request.event_id,
                link=request.feed_link,
                at=now,
                role=request.feed_role,
            )
        )
    ctx.store.insert_mails(rows, session)
    if failed:
        publish_announcements(ctx, session, failed)
    ctx.store.insert_feed_many(feed, session)
    return sum(row["status"] == "pending" for row in rows)


def _new_mail(
    ctx: Context, request: MailRequest, *, key: str, email: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The outbox row of one new mail, and the ``notification.failed`` record
    when no message can be written to its address."""
    trace = request.trace or current_context()
    rendered, raw, error = _compose(
        ctx.settings,
        key=key,
        template=request.template,
        email=email,
        recipient=request.recipient,
        context=request.context,
        calendar=request.calendar,
        action_url=request.action_url,
        when=now,
    )
    row = _mail_row(
        key=key,
        cause_id=request.cause_id,
        template=request.template,
        event_id=request.event_id,
        email=email,
        rendered=rendered,
        raw=raw,
        now=now,
        trace=trace,
    )
    if not error:
        return row, None
    # This recipient alone fails, for good: recorded and announced in the
    # record's transaction, which goes on for the cause's other recipients.
    # A final outcome keeps neither message nor address and starts retention.
    log.warning("mail cannot be built", extra={"mail_id": key, "error": error})
    row.update(
        status="failed",
        last_error=error,
        next_attempt_at=None,
        expires_at=domain.expiry(now, ctx.settings.mail_retention_days),
    )
    for field in ("raw", "to"):
        row.pop(field)
    announcement = _announcement(
        ctx,
        "notification.failed",
        notification_id=row["notification_id"],
        cause_id=request.cause_id,
        event_id=request.event_id,
        channel="email",
        template=request.template,
        attempts=0,
        trace=trace,
    )
    return row, announcement


def _compose(
    ns: NotificationsSettings,
    *,
    key: str,
    template: str,
    email: str,
    recipient: Recipient,
    context: dict[str, Any],
    calendar: CalendarPart | None,
    action_url: str | None,
    when: datetime,
) -> tuple[mail.Rendered, bytes, str]:
    """The mail in the recipient's language and its whole MIME message: the
    Message-ID derived from ``key``, a List-Unsubscribe link unless the mail is
    essential, an iCalendar part when asked for. The name is shown as
    :func:`~shared.fields.display_name` makes it; when no message can be written
    to the address, the message is empty and the third value says why."""
    unsubscribe_url = _unsubscribe_url(ns, template, email, recipient.language)
    name = display_name(recipient.name or "")
    rendered = mail.render(
        template,
        recipient.language,
        {"name": name or email, **context},
        action_url=action_url,
        unsubscribe_url=unsubscribe_url,
    )
    ics = _calendar_part(
        ns, calendar, context.get("event"), email, name, action_url, rendered.language
    )
    try:
        raw = mail.build_message(
            rendered=rendered,
            sender=ns.mail_from,
            recipient=email,
            recipient_name=name,
            message_id=domain.message_id(key),
            ics=ics,
            ics_method=calendar.method if calendar is not None and ics else None,
            unsubscribe_url=unsubscribe_url,
            when=when,
        )
    except mail.Unbuildable as exc:
        return rendered, b"", str(exc)
    return rendered, raw, ""


def _unsubscribe_url(
    ns: NotificationsSettings, template: str, email: str, language: str | None
) -> str | None:
    """The one-click opt-out link of a non-essential mail, its page in the mail's
    language; None for an essential mail."""
    if domain.is_essential(template):
        return None
    token = domain.unsubscribe_token(ns.unsubscribe_keys, email)
    lang = domain.language_for(language)
    return f"{ns.public_url}/v1/preferences/unsubscribe/{token}?lang={lang}"


def _calendar_part(
    ns: NotificationsSettings,
    calendar: CalendarPart | None,
    event: dict[str, Any] | None,
    email: str,
    name: str,
    url: str | None,
    language: str,
) -> bytes | None:
    """The iCalendar attachment: only when asked for and the event has a date."""
    if calendar is None or not (event or {}).get("starts_on"):
        return None
    return mail.calendar(
        method=calendar.method,
        uid=calendar.uid,
        sequence=calendar.sequence,
        event=event,
        attendee_email=email,
        attendee_name=name,
        organizer=domain.bare_address(ns.mail_from),
        url=url,
        language=language,
    )


def _mail_row(
    *,
    key: str,
    cause_id: str,
    template: str,
    event_id: str | None,
    email: str,
    rendered: mail.Rendered,
    raw: bytes,
    now: datetime,
    trace: TraceContext,
) -> dict[str, Any]:
    """A pending mail of the outbox, due now; ``key`` (cause, recipient, template) is
    its id and stays inside the service: whoever knows an address could recompute
    it, so ``notification.*`` announce ``notification_id``, a random id of the row."""
    return {
        "_id": key,
        "notification_id": str(uuid.uuid4()),
        "cause_id": cause_id,
        "template": template,
        "event_id": event_id,
        "to": email,
        "email_hash": domain.email_hash(email),
        "language": rendered.language,
        "subject": rendered.subject,
        "message_id": domain.message_id(key),
        "raw": raw.decode("utf-8", "surrogateescape"),
        "essential": domain.is_essential(template),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "correlation_id": trace.correlation_id,
        "traceparent": trace.traceparent,
    }


def add_feed(ctx: Context, session: ClientSession | None, **item: Any) -> None:
    ctx.store.insert_feed(_feed_row(ctx, **item), session)


def _feed_row(
    ctx: Context,
    *,
    key: str,
    email: str | None,
    sub: str | None,
    kind: str,
    title: str,
    event_id: str | None,
    link: str | None,
    at: datetime,
    role: str | None = None,
) -> dict[str, Any]:
    return {
        "_id": str(uuid.uuid4()),
        "key": key,
        "email": email,
        "sub": sub,
        "role": role,
        "kind": kind,
        "title": title,
        "event_id": event_id,
        "link": link,
        "created_at": at,
        "read_at": None,
        "expires_at": domain.expiry(at, ctx.settings.feed_retention_days),
    }


# --- webhooks -------------------------------------------------------------------

PARTNER_TOPICS = frozenset(t.name for t in TOPICS if t.partner_visible)


# Subscriptions whose deliveries a record's own transaction writes (one bulk
# insert); a topic with more gets one fan-out row instead, which the webhook
# dispatcher expands page by page outside any consumer transaction.
FANOUT_INLINE = 100
FANOUT_PAGE = 500


def queue_webhooks(
    ctx: Context,
    session: ClientSession,
    *,
    topic: str,
    ce_id: str,
    event_id: str | None,
    time: datetime | None,
    data: dict[str, Any],
) -> int:
    """One delivery row per active subscription to ``topic`` (unique per ce_id),
    in a bounded number of writes whatever the number of subscriptions: up to
    :data:`FANOUT_INLINE` of them in one insert, beyond that a single fan-out row
    for :func:`expand_fanouts`. Returns the deliveries written here."""
    if topic not in PARTNER_TOPICS:
        return 0
    now = datetime.now(UTC)
    body = _webhook_body(topic, time, data, now)
    store = ctx.store
    subs = store.subscriptions_for(topic, session, limit=FANOUT_INLINE + 1)
    if len(subs) > FANOUT_INLINE:
        store.add_fanout(
            {"_id": ce_id, "topic": topic, "event_id": event_id, "body": body, "created_at": now},
            session,
        )
        return 0
    ids = [sub["_id"] for sub in subs]
    known = store.subscriptions_with_delivery(ce_id, ids, session)
    docs = [
        _delivery(sid, ce_id=ce_id, topic=topic, event_id=event_id, body=body, now=now)
        for sid in ids
        if sid not in known
    ]
    store.insert_deliveries(docs, session)
    return len(docs)


INLINE_DELIVERIES = 1000  # deliveries of new announcements one transaction writes at most


def _queue_new_webhooks(
    ctx: Context, session: ClientSession, topic: str, records: list[dict[str, Any]]
) -> None:
    """Deliveries of this service's own new outbox ``records`` of ``topic`` (fresh
    ``ce_id``s: nothing to look up), one query for the subscriptions and one
    insert for them all; beyond :data:`INLINE_DELIVERIES` one fan-out row per
    record instead, for :func:`expand_fanouts`."""
    if topic not in PARTNER_TOPICS or not records:
        return
    subs = ctx.store.subscriptions_for(topic, session, limit=FANOUT_INLINE + 1)
    if not subs:
        return
    now = datetime.now(UTC)
    items = [
        (r["ce_id"], r["key"], _webhook_body(topic, r.get("time"), r["payload"], now))
        for r in records
    ]
    if len(subs) * len(items) > INLINE_DELIVERIES:
        fanouts = [
            {"_id": c, "topic": topic, "event_id": e, "body": b, "created_at": now, "after": ""}
            for c, e, b in items
        ]
        ctx.store.add_fanouts(fanouts, session)
        return
    docs = [
        _delivery(sub["_id"], ce_id=c, topic=topic, event_id=e, body=b, now=now)
        for c, e, b in items
        for sub in subs
    ]
    ctx.store.insert_deliveries(docs, session)


def _webhook_body(topic: str, time: datetime | None, data: dict[str, Any], now: datetime) -> str:
    """A delivery's body: the record's data exactly as its producer published it."""
    return json.dumps(
        {"type": topic, "timestamp": (time or now).isoformat(), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _delivery(
    subscription_id: str, *, ce_id: str, topic: str, event_id: str | None, body: str, now: datetime
) -> dict[str, Any]:
    return {
        "_id": f"msg_{uuid.uuid4().hex}",
        "subscription_id": subscription_id,
        "ce_id": ce_id,
        "topic": topic,
        "event_id": event_id,
        "body": body,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "horizon_from": now,
        "log": [],
    }


def expand_fanouts(ctx: Context, max_pages: int = 20) -> int:
    """Turn queued fan-out rows into deliveries, :data:`FANOUT_PAGE` subscriptions
    at a time (at most ``max_pages`` pages a call); a page written twice (a worker
    died before moving the row's cursor) adds nothing, by the deliveries' unique
    (subscription, ce_id) index. Returns the deliveries written."""
    store = ctx.store
    written = pages = 0
    for fanout in store.pending_fanouts():
        while pages < max_pages:
            after = fanout.get("after", "")
            page = store.subscription_ids_after(fanout["topic"], after, FANOUT_PAGE)
            if not page:
                store.finish_fanout(fanout["_id"])
                break
            now = datetime.now(UTC)
            docs = [
                _delivery(
                    sid,
                    ce_id=fanout["_id"],
                    topic=fanout["topic"],
                    event_id=fanout.get("event_id"),
                    body=fanout["body"],
                    now=now,
                )
                for sid in page
            ]
            written += store.insert_new_deliveries(docs)
            fanout["after"] = page[-1]
            store.advance_fanout(fanout["_id"], page[-1])
            pages += 1
        if pages >= max_pages:
            break
    return written


def create_subscription(
    ctx: Context,
    *,
    owner_sub: str,
    owner_email: str | None,
    url: str,
    topics: list[str],
    description: str,
) -> dict[str, Any]:
    """Store a new subscription, unless its owner has ``webhook_max_subscriptions``
    already (deleted ones do not count): a Conflict then. The owner's row is
    written first in the transaction, so concurrent creations by one owner
    conflict and retry rather than all passing the count."""
    now = datetime.now(UTC)
    limit = ctx.settings.webhook_max_subscriptions
    doc = {
        "_id": str(uuid.uuid4()),
        "owner_sub": owner_sub,
        "owner_email": owner_email,
        "url": url,
        "topics": sorted(set(topics)),
        "description": description,
        "secret": domain.new_webhook_secret(),
        "status": "active",
        "consecutive_failures": 0,
        "created_at": now,
    }

    def work(session: ClientSession) -> None:
        ctx.store.lock_owner(owner_sub, session)
        if ctx.store.count_subscriptions(owner_sub, session) >= limit:
            raise Conflict(
                f"You have {limit} subscriptions, the most one owner may have; "
                "delete one first (one subscription can take several topics)."
            )
        ctx.store.insert_subscription(doc, session)

    ctx.transaction(work)
    return doc


def delete_subscription(ctx: Context, sub: dict[str, Any]) -> None:
    """Stop deliveries: pending ones are cancelled, the log stays readable for a while."""
    store = ctx.store

    now = datetime.now(UTC)
    kept_until = domain.expiry(now, ctx.settings.delivery_retention_days)

    def work(session: ClientSession) -> None:
        store.mark_subscription_deleted(sub["_id"], now, session)
        store.cancel_pending_deliveries(sub["_id"], kept_until, session)

    ctx.transaction(work)


def redeliver(ctx: Context, sub: dict[str, Any], delivery_id: str) -> dict:
    store = ctx.store
    now = datetime.now(UTC)
    doc = store.delivery_of(sub["_id"], delivery_id)
    if doc is None:
        raise NotFound(f"There is no delivery {delivery_id} of this subscription.")
    if doc["status"] == "pending":
        raise Conflict("This delivery is already waiting to be sent.")
    if sub["status"] != "active":
        raise Conflict(f"The subscription is {sub['status']}; re-create it first.")
    return store.requeue_delivery(delivery_id, now)


def _announcement(
    ctx: Context,
    topic: str,
    *,
    notification_id: str,
    cause_id: str,
    event_id: str | None,
    channel: str,
    template: str,
    attempts: int,
    trace: TraceContext,
) -> dict[str, Any]:
    """The outbox record of one ``notification.*`` announcement."""
    return ctx.outbox.record(
        topic=topic,
        key=event_id or notification_id,
        seq=attempts,
        subject=notification_id,
        payload=_payload_schema.dump(
            {
                "notification_id": notification_id,
                "cause_id": cause_id,
                "event_id": event_id,
                "channel": channel,
                "template": template,
                "attempts": attempts,
                "occurred_at": datetime.now(UTC),
                "version": attempts,
            }
        ),
        trace=trace,
    )


def _announce(ctx: Context, session: ClientSession, topic: str, **fields: Any) -> None:
    publish_announcements(ctx, session, [_announcement(ctx, topic, **fields)])


def publish_announcements(
    ctx: Context, session: ClientSession, records: list[dict[str, Any]]
) -> None:
    """Add ``notification.*`` outbox records in one insert, and their webhook
    deliveries in the same transaction: the service announces its own outcomes
    to partners here rather than consuming its own topics back from Kafka."""
    ctx.outbox.add_many(session, records)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_topic.setdefault(record["topic"], []).append(record)
    for topic, same in by_topic.items():
        _queue_new_webhooks(ctx, session, topic, same)


def _mail_trace(doc: dict[str, Any]) -> TraceContext:
    here = current_context()
    return TraceContext(
        correlation_id=doc.get("correlation_id") or here.correlation_id,
        causation_id=doc["cause_id"],
        traceparent=doc.get("traceparent") or here.traceparent,
    )


@dataclass(frozen=True)
class MailOutcome:
    """One attempt at a mail: ``sent``, ``failed`` (permanent), ``retry``
    (transient) or ``suppressed`` (opted out)."""

    doc: dict[str, Any]
    outcome: str
    error: str = ""


def record_mail_outcome(
    ctx: Context,
    doc: dict[str, Any],
    outcome: str,
    error: str = "",
) -> None:
    """``sent``, ``failed`` (permanent), ``retry`` (transient) or ``suppressed`` (opted out).

    A final outcome drops the message and the address (the raw MIME holds the
    RSVP link; a resend is a new mail) and starts the mail's retention; the
    row keeps its subject, template, status, times and e-mail hash."""
    record_mail_outcomes(ctx, [MailOutcome(doc, outcome, error)])


def record_mail_outcomes(
    ctx: Context, outcomes: list[MailOutcome], *, publish: bool = True
) -> list[str]:
    """Record attempts' outcomes in one write (see :func:`record_mail_outcome`).

    Each row's update carries the outbox record of its announcement, if any
    (``announce``), so the outcome and its announcement are written together
    without a transaction; :func:`publish_mail_announcements` moves them to the
    outbox, here when ``publish`` is true, else later for a whole batch at once.
    Returns the ids of the mails with an announcement waiting."""
    now = datetime.now(UTC)
    updates: list[tuple[str, dict[str, Any]]] = []
    announcing: list[str] = []
    for outcome in outcomes:
        update, record = _mail_outcome_update(ctx, outcome, now)
        updates.append((outcome.doc["_id"], update))
        if record is not None:
            announcing.append(outcome.doc["_id"])
    ctx.store.apply_mail_outcomes(updates)
    if publish and announcing:
        publish_mail_announcements(ctx, announcing)
    return announcing


def _mail_outcome_update(
    ctx: Context, o: MailOutcome, now: datetime
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The update of one mail's row after an attempt, and its announcement."""
    doc, outcome = o.doc, o.outcome
    attempts = doc.get("attempts", 0) + (0 if outcome == "suppressed" else 1)
    # Rows queued before notification ids were random get theirs now.
    notification_id = doc.get("notification_id") or str(uuid.uuid4())
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "notification_id": notification_id,
    }
    announce = None
    update: dict[str, Any] = {}
    if outcome in FINAL_MAIL_STATUSES:
        values["expires_at"] = domain.expiry(now, ctx.settings.mail_retention_days)
        update["$unset"] = {"raw": "", "to": ""}
    if outcome == "sent":
        values.update(status="sent", sent_at=now, last_error=None)
        announce = "notification.sent"
    elif outcome == "suppressed":
        values.update(status="suppressed")
    elif outcome == "failed":
        values.update(status="failed", last_error=o.error)
        announce = "notification.failed"
    else:  # transient: stays pending, never dropped
        values.update(next_attempt_at=domain.next_mail_attempt(attempts, now), last_error=o.error)
        if attempts == domain.MAIL_FAILED_AFTER:
            announce = "notification.failed"  # still retried; operators should know
    record = None
    if announce:
        record = _announcement(
            ctx,
            announce,
            notification_id=notification_id,
            cause_id=doc["cause_id"],
            event_id=doc.get("event_id"),
            channel="email",
            template=doc["template"],
            attempts=attempts,
            trace=_mail_trace(doc),
        )
        values["announcing"] = True
        update["$push"] = {"announce": record}
    update["$set"] = values
    return update, record


def publish_mail_announcements(ctx: Context, ids: list[str] | None = None) -> int:
    """Move the announcements waiting on mail rows (of ``ids``, or any: those a
    sender that died left behind) into the outbox, in one transaction; a row
    another sender published meanwhile is not there any more. Returns how many."""

    def work(session: ClientSession) -> int:
        rows = ctx.store.pending_announcements(ids, session)
        if not rows:
            return 0
        records = [record for row in rows for record in row.get("announce", [])]
        publish_announcements(ctx, session, records)
        ctx.store.clear_announcements([row["_id"] for row in rows], session)
        return len(records)

    return ctx.transaction(work)


@dataclass(frozen=True)
class DeliveryOutcome:
    """One attempt at webhook delivery ``doc``: ``ok`` when the partner answered 2xx."""

    doc: dict[str, Any]
    ok: bool
    status_code: int | None
    latency_ms: float
    error: str


def record_delivery_outcome(
    ctx: Context,
    doc: dict[str, Any],
    *,
    ok: bool,
    status_code: int | None,
    latency_ms: float,
    error: str,
) -> None:
    """Log one attempt of webhook delivery ``doc`` (see :func:`record_delivery_outcomes`)."""
    record_delivery_outcomes(ctx, [DeliveryOutcome(doc, ok, status_code, latency_ms, error)])


def record_delivery_outcomes(
    ctx: Context, outcomes: list[DeliveryOutcome], failures_before: int | None = None
) -> bool:
    """Log attempts at deliveries of one subscription, in attempt order, in one
    transaction: each succeeded, falls due again later, or is dead once its retry
    horizon is spent; the subscription counts its dead deliveries in a row (left
    alone when ``failures_before``, its count as the caller read it, is 0 and
    nothing died), and each outcome is announced on ``notification.*`` (one
    outbox insert). True when this disabled the subscription (for the metric,
    counted once the transaction committed)."""
    if not outcomes:
        return False
    now = datetime.now(UTC)
    subscription_id = outcomes[0].doc["subscription_id"]
    attempts: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    records: list[dict[str, Any]] = []
    reset, dead = False, 0
    for o in outcomes:
        doc = o.doc
        count = doc.get("attempts", 0) + 1
        latency = round(o.latency_ms, 1)
        state, announce = _delivery_state(ctx.settings, doc, ok=o.ok, attempts=count, now=now)
        values: dict[str, Any] = {
            "attempts": count,
            "last_status_code": o.status_code,
            "last_latency_ms": latency,
            "last_error": o.error or None,
            "last_attempt_at": now,
            **state,
        }
        entry = {
            "at": now,
            "status_code": o.status_code,
            "latency_ms": latency,
            "error": o.error or None,
        }
        attempts.append((doc["_id"], values, entry))
        if o.ok:
            reset, dead = True, 0
        elif state.get("status") == "dead":
            dead += 1
        # Outcomes of notification.* deliveries are not announced again (no loops).
        if announce and not doc["topic"].startswith("notification."):
            records.append(
                _announcement(
                    ctx,
                    announce,
                    notification_id=doc["_id"],
                    cause_id=doc["ce_id"],
                    event_id=doc.get("event_id"),
                    channel="webhook",
                    template=doc["topic"],
                    attempts=count,
                    trace=current_context(),
                )
            )

    def work(session: ClientSession) -> bool:
        disabled = False
        ctx.store.record_delivery_attempts(attempts, session)
        if dead or (reset and failures_before != 0):
            sub = ctx.store.count_failures(subscription_id, reset=reset, dead=dead, s=session)
            if dead:
                disabled = _disable_if_failing(ctx, session, sub, now)
        if records:
            publish_announcements(ctx, session, records)
        return disabled

    return ctx.transaction(work)


def _delivery_state(
    ns: NotificationsSettings, doc: dict[str, Any], *, ok: bool, attempts: int, now: datetime
) -> tuple[dict[str, Any], str | None]:
    """A delivery's new state after its ``attempts``-th attempt, and the topic that
    announces it (None while it is still being retried)."""
    kept_until = domain.expiry(now, ns.delivery_retention_days)
    if ok:
        return {"status": "succeeded", "delivered_at": now, "expires_at": kept_until}, (
            "notification.sent"
        )
    horizon_from = doc.get("horizon_from") or doc["created_at"]
    when = domain.next_webhook_attempt(attempts, horizon_from, now, ns.webhook_retry_horizon_s)
    if when is None:
        return {"status": "dead", "dead_at": now, "expires_at": kept_until}, "notification.failed"
    return {"next_attempt_at": when}, None


def _disable_if_failing(
    ctx: Context, session: ClientSession, sub: dict[str, Any] | None, now: datetime
) -> bool:
    """At ``webhook_disable_after`` dead deliveries in a row an active
    subscription is disabled, and its owner told in the feed; True when it was."""
    if sub is None or sub["status"] != "active":
        return False
    if sub.get("consecutive_failures", 0) < ctx.settings.webhook_disable_after:
        return False
    ctx.store.disable_subscription(sub["_id"], now, session)
    add_feed(
        ctx,
        session,
        key=f"disabled:{sub['_id']}:{now.isoformat()}",
        email=sub.get("owner_email"),
        sub=sub["owner_sub"],
        kind="subscription_disabled",
        title=(
            f"Webhook subscription to {sub['url']} disabled after "
            f"{sub['consecutive_failures']} failed deliveries in a row: "
            "fix the endpoint and create a new subscription"
        ),
        event_id=None,
        link=f"/v1/subscriptions/{sub['_id']}",
        at=now,
    )
    return True


def unsubscribe(ctx: Context, email_hash: str) -> None:
    ctx.store.opt_out(email_hash, datetime.now(UTC))


# --- the right to be forgotten ------------------------------------------------------


def erase_person(ctx: Context, session: ClientSession, request: ErasureRequestedPayload) -> None:
    """Erase what this service holds about the person, and answer the ledger
    (``internal.person.erasure_completed``), in the handler's transaction."""
    erasure.answer_request(ctx, session, ERASURE, request)

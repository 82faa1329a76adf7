"""Every write path of the notifications service.

Handlers call :func:`queue_mail` and :func:`queue_webhooks` inside the
consumer's transaction (with the record's idempotency row); the API's writes
(subscriptions, redelivery, opt-out) and the senders' outcomes
(:func:`record_mail_outcome`, :func:`record_delivery_outcome`) each run in one
transaction with the ``notification.*`` outbox record they announce.
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
    email = domain.normalise_email(recipient.email)
    key = domain.idempotency_key(cause_id, email, template)
    if ctx.store.has_mail(key, session):  # read first: a duplicate key would abort the transaction
        return False
    now = datetime.now(UTC)
    trace = trace or current_context()
    rendered, raw, error = _compose(
        ctx.settings,
        key=key,
        template=template,
        email=email,
        recipient=recipient,
        context=context,
        calendar=calendar,
        action_url=action_url,
        when=now,
    )
    row = _mail_row(
        key=key,
        cause_id=cause_id,
        template=template,
        event_id=event_id,
        email=email,
        rendered=rendered,
        raw=raw,
        now=now,
        trace=trace,
    )
    if error:
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
    ctx.store.insert_mail(row, session)
    if error:
        _announce(
            ctx,
            session,
            "notification.failed",
            notification_id=row["notification_id"],
            cause_id=cause_id,
            event_id=event_id,
            channel="email",
            template=template,
            attempts=0,
            trace=trace,
        )
    add_feed(
        ctx,
        session,
        key=key,
        email=email,
        sub=recipient.sub,
        kind=template,
        title=rendered.subject,
        event_id=event_id,
        link=feed_link,
        at=now,
        role=feed_role,
    )
    return not error


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


def add_feed(
    ctx: Context,
    session: ClientSession | None,
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
) -> None:
    ctx.store.insert_feed(
        {
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
        },
        session,
    )


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
    body = json.dumps(
        {"type": topic, "timestamp": (time or now).isoformat(), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )
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


def _announce(
    ctx: Context,
    session: ClientSession,
    topic: str,
    *,
    notification_id: str,
    cause_id: str,
    event_id: str | None,
    channel: str,
    template: str,
    attempts: int,
    trace: TraceContext,
) -> None:
    ctx.outbox.add(
        session,
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


def _mail_trace(doc: dict[str, Any]) -> TraceContext:
    here = current_context()
    return TraceContext(
        correlation_id=doc.get("correlation_id") or here.correlation_id,
        causation_id=doc["cause_id"],
        traceparent=doc.get("traceparent") or here.traceparent,
    )


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
    now = datetime.now(UTC)
    attempts = doc.get("attempts", 0) + (0 if outcome == "suppressed" else 1)
    # Rows queued before notification ids were random get theirs now.
    notification_id = doc.get("notification_id") or str(uuid.uuid4())

    def work(session: ClientSession) -> None:
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_attempt_at": now,
            "notification_id": notification_id,
        }
        announce = None
        drop: tuple[str, ...] = ()
        if outcome in FINAL_MAIL_STATUSES:
            values["expires_at"] = domain.expiry(now, ctx.settings.mail_retention_days)
            drop = ("raw", "to")
        if outcome == "sent":
            values.update(status="sent", sent_at=now, last_error=None)
            announce = "notification.sent"
        elif outcome == "suppressed":
            values.update(status="suppressed")
        elif outcome == "failed":
            values.update(status="failed", last_error=error)
            announce = "notification.failed"
        else:  # transient: stays pending, never dropped
            values.update(next_attempt_at=domain.next_mail_attempt(attempts, now), last_error=error)
            if attempts == domain.MAIL_FAILED_AFTER:
                announce = "notification.failed"  # still retried; operators should know
        ctx.store.update_mail(doc["_id"], values, session, drop=drop)
        if announce:
            _announce(
                ctx,
                session,
                announce,
                notification_id=notification_id,
                cause_id=doc["cause_id"],
                event_id=doc.get("event_id"),
                channel="email",
                template=doc["template"],
                attempts=attempts,
                trace=_mail_trace(doc),
            )

    ctx.transaction(work)


def record_delivery_outcome(
    ctx: Context,
    doc: dict[str, Any],
    *,
    ok: bool,
    status_code: int | None,
    latency_ms: float,
    error: str,
) -> None:
    """Log one attempt of webhook delivery ``doc``: it succeeded, falls due again
    later, or is dead once its retry horizon is spent; the subscription counts its
    dead deliveries in a row, and the outcome is announced on ``notification.*``."""
    now = datetime.now(UTC)
    attempts = doc.get("attempts", 0) + 1
    latency = round(latency_ms, 1)
    state, announce = _delivery_state(ctx.settings, doc, ok=ok, attempts=attempts, now=now)
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": status_code,
        "last_latency_ms": latency,
        "last_error": error or None,
        "last_attempt_at": now,
        **state,
    }
    entry = {"at": now, "status_code": status_code, "latency_ms": latency, "error": error or None}

    def work(session: ClientSession) -> None:
        ctx.store.record_delivery_attempt(doc["_id"], values, entry, session)
        if ok:
            ctx.store.reset_failures(doc["subscription_id"], session)
        elif state.get("status") == "dead":
            _count_dead_delivery(ctx, session, doc["subscription_id"], now)
        # Outcomes of notification.* deliveries are not announced again (no loops).
        if announce and not doc["topic"].startswith("notification."):
            _announce(
                ctx,
                session,
                announce,
                notification_id=doc["_id"],
                cause_id=doc["ce_id"],
                event_id=doc.get("event_id"),
                channel="webhook",
                template=doc["topic"],
                attempts=attempts,
                trace=current_context(),
            )

    ctx.transaction(work)


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


def _count_dead_delivery(
    ctx: Context, session: ClientSession, subscription_id: str, now: datetime
) -> None:
    """One more dead delivery in a row: at ``webhook_disable_after`` of them an
    active subscription is disabled, and its owner told in the feed."""
    sub = ctx.store.count_dead_delivery(subscription_id, session)
    if sub is None or sub["status"] != "active":
        return
    if sub.get("consecutive_failures", 0) < ctx.settings.webhook_disable_after:
        return
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


def unsubscribe(ctx: Context, email_hash: str) -> None:
    ctx.store.opt_out(email_hash, datetime.now(UTC))


# --- the right to be forgotten ------------------------------------------------------


def erase_person(ctx: Context, session: ClientSession, request: ErasureRequestedPayload) -> None:
    """Erase what this service holds about the person, and answer the ledger
    (``internal.person.erasure_completed``), in the handler's transaction."""
    erasure.answer_request(ctx, session, ERASURE, request)

"""Periodic work of the notifications worker, each job under a lease: the mail
outbox sender, the partner webhook dispatcher (a thread pool, at most a few
requests in flight per subscription, so a slow partner never delays the
others), the "your event starts tomorrow" schedule and the scrub that brings
rows from before retention under it. The wire protocols are in ``smtp.py``
and ``webhooks.py``.

Rows are claimed in batches by pushing their ``next_attempt_at`` ahead and
marking them with a claim token, so several workers never take the same row at
once; a worker that dies holding some lets them fall due again.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.notifications import domain, smtp
from services.notifications.config import NotificationsSettings
from services.notifications.operations import (
    Context,
    DeliveryOutcome,
    MailOutcome,
    MailRequest,
    Recipient,
    expand_fanouts,
    publish_mail_announcements,
    queue_mails,
    record_delivery_outcomes,
    record_mail_outcomes,
)
from services.notifications.store import ERASURE
from services.notifications.webhooks import WebhookClient
from shared import erasure
from shared.schedule import PeriodicJob
from shared.tracing import span

log = logging.getLogger(__name__)

MAILS = Counter("mlp_notifications_mails_total", "Mail send attempts by outcome", ["outcome"])
WEBHOOKS = Counter("mlp_notifications_webhooks_total", "Webhook attempts by outcome", ["outcome"])
WEBHOOK_SECONDS = Histogram("mlp_notifications_webhook_seconds", "Webhook request latency")
WEBHOOKS_DISABLED = Counter(
    "mlp_notifications_webhook_subscriptions_disabled_total",
    "Webhook subscriptions disabled after failing deliveries in a row",
)

# A sender claims a mail for this many SMTP timeouts (a send is a handful of
# exchanges, each bounded by the timeout); a sender that died mid-send releases
# its mail to the others when the claim runs out.
CLAIM_TIMEOUTS = 6
MAIL_BATCH = 100  # mails claimed, checked for opt-outs and recorded together
RUN_MAILS = 1000  # mails one connection sends in a run before the next tick
SWEEP_EVERY_S = 60.0  # announcements left on mail rows by a sender that died
PER_SUBSCRIPTION = 2  # webhook requests in flight per subscription at most
RUN_LENGTH = 200  # deliveries one thread sends for one subscription before yielding
DELIVERY_BATCH = 20  # deliveries of one subscription claimed together
OUTCOMES_EVERY = 20  # delivery outcomes recorded in one transaction
SCRUB_INTERVAL_S = 3600.0  # legacy-scrub runs at start, then hourly until it finds nothing


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    settings = ctx.settings
    dispatcher = WebhookDispatcher(settings)
    return [
        PeriodicJob("legacy-scrub", SCRUB_INTERVAL_S, LegacyScrub().run),
        PeriodicJob("mail-outbox", settings.mail_interval_s, MailSender(settings).run),
        PeriodicJob(
            "webhook-deliveries", settings.mail_interval_s, dispatcher.run, close=dispatcher.close
        ),
        PeriodicJob("starts-tomorrow", settings.tomorrow_interval_s, StartsTomorrow(settings).run),
        PeriodicJob("notifications-retention", erasure.RETENTION_EVERY_S, retain_personal_data),
    ]


def retain_personal_data(ctx: Context, now: datetime | None = None) -> int:
    """Pseudonymise what this service holds about the participants of events
    completed more than ``MLP_PERSONAL_DATA_RETENTION_DAYS`` ago, announced like
    an erasure (``shared.erasure.retain_events``); ``now`` lets tests set the time."""
    return erasure.retain_events(ctx, ERASURE, now)


# --- the mail outbox -------------------------------------------------------------


class MailSender:
    """Sends due mails of the outbox in batches over one SMTP connection per run."""

    def __init__(self, ns: NotificationsSettings, connections: int = 1) -> None:
        self.ns = ns
        self.connections = connections
        self.claim_s = CLAIM_TIMEOUTS * ns.smtp_timeout_s
        self.pool = ThreadPoolExecutor(connections, thread_name_prefix="smtp")
        self.swept_at = float("-inf")

    def run(self, ctx: Context) -> int:
        """Drain due mails over ``connections`` SMTP connections (1 by default: on a
        small machine parallel senders only contend for MongoDB)."""
        self._sweep(ctx)
        first = self._drain(ctx, limit=MAIL_BATCH)  # nothing due: no threads woken
        if first < MAIL_BATCH:
            return first
        futures = [self.pool.submit(self._drain, ctx, RUN_MAILS) for _ in range(self.connections)]
        return first + sum(f.result() for f in futures)

    def _sweep(self, ctx: Context) -> None:
        """Publish announcements a sender left on mail rows when it died between
        recording outcomes and publishing them (at start, then now and then)."""
        if time.monotonic() - self.swept_at < SWEEP_EVERY_S:
            return
        while publish_mail_announcements(ctx):
            pass
        self.swept_at = time.monotonic()

    def _drain(self, ctx: Context, limit: int) -> int:
        """Claim due mails ``MAIL_BATCH`` at a time and send them, until ``limit``
        were tried, none is due, or the server is away."""
        handled = 0
        token = uuid.uuid4().hex
        with smtp.Connection(self.ns) as connection:
            while handled < limit:
                now = datetime.now(UTC)
                batch = ctx.store.claim_mails(
                    now, now + timedelta(seconds=2 * self.claim_s), token, MAIL_BATCH
                )
                if not batch:
                    break
                tried, go_on = _MailBatch(self, ctx, connection, token, batch).send()
                handled += tried
                if not go_on:
                    break
        return handled


class _MailBatch:
    """One claimed batch: opt-outs checked in one query, mails sent one after the
    other on the sender's connection.

    A sent mail's outcome is written before the next mail goes (a sender killed
    mid-batch sends again at most the one in flight, with its Message-ID); the
    outcomes no send depends on (suppressed, failed, retried) are written together,
    and the batch's ``notification.*`` announcements go to the outbox in one
    transaction at its end. The claim holds two single-mail claims and is renewed
    while it has less than one left, so every send starts with as long as a
    one-mail claim gives it."""

    def __init__(
        self,
        sender: MailSender,
        ctx: Context,
        connection: smtp.Connection,
        token: str,
        batch: list[dict[str, Any]],
    ) -> None:
        self.sender, self.ctx, self.connection, self.token = sender, ctx, connection, token
        self.batch = batch
        self.held_until = batch[0]["next_attempt_at"]
        self.buffered: list[MailOutcome] = []
        self.announcing: list[str] = []

    def send(self) -> tuple[int, bool]:
        """Returns how many mails were tried and whether the server still takes mail."""
        store = self.ctx.store
        optional = [d["email_hash"] for d in self.batch if not d.get("essential")]
        opted = store.opted_out_of(optional)
        to_send = []
        for doc in self.batch:
            if not doc.get("essential") and doc["email_hash"] in opted:
                self.buffered.append(MailOutcome(doc, "suppressed"))
            else:
                to_send.append(doc)
        tried, go_on = 0, True
        try:
            for i, doc in enumerate(to_send):
                self._hold(to_send[i:])
                tried += 1
                if not self._send_one(doc):
                    store.release_mails([d["_id"] for d in to_send[i + 1 :]], self.token, _now())
                    go_on = False
                    break
        finally:
            self._flush()
        return tried + len(self.batch) - len(to_send), go_on

    def _send_one(self, doc: dict[str, Any]) -> bool:
        """Send one mail, once more on a new connection if the first attempt failed
        transiently (a dropped connection); False when the server is away."""
        error = self._try(doc)
        if error is not None and not smtp.permanent(error):
            error = self._try(doc)
        if error is None:
            self._outcome(MailOutcome(doc, "sent"), write_now=True)
        elif smtp.permanent(error):
            self._outcome(MailOutcome(doc, "failed", str(error)))
        else:
            # The server is away or busy: the rest waits for the next run.
            self._outcome(MailOutcome(doc, "retry", str(error)))
            return False
        return True

    def _try(self, doc: dict[str, Any]) -> Exception | None:
        try:
            # The send ends the trace of what caused the mail (stored with it);
            # no address in the span: traces are not a place for personal data.
            with span(
                "smtp send",
                kind=SpanKind.CLIENT,
                parent=doc.get("traceparent"),
                attributes={
                    "mlp.mail.template": doc["template"],
                    "mlp.mail.attempt": doc["attempts"] + 1,
                },
            ):
                self.connection.send(doc["to"], doc["raw"])
        except smtp.SEND_ERRORS as exc:
            if not smtp.permanent(exc):  # a refused recipient leaves the connection usable
                self.connection.reset()
            return exc
        return None

    def _outcome(self, outcome: MailOutcome, write_now: bool = False) -> None:
        MAILS.labels(outcome.outcome).inc()
        if write_now:
            self.announcing += record_mail_outcomes(self.ctx, [outcome], publish=False)
        else:
            self.buffered.append(outcome)

    def _hold(self, rest: list[dict[str, Any]]) -> None:
        """Renew the claim on the mails still to send while a send's time is left."""
        claim_s = self.sender.claim_s
        if (self.held_until - _now()).total_seconds() >= claim_s:
            return
        self.held_until = _now() + timedelta(seconds=2 * claim_s)
        self.ctx.store.hold_mails([d["_id"] for d in rest], self.token, self.held_until)

    def _flush(self) -> None:
        if self.buffered:
            suppressed = sum(o.outcome == "suppressed" for o in self.buffered)
            MAILS.labels("suppressed").inc(suppressed)
            self.announcing += record_mail_outcomes(self.ctx, self.buffered, publish=False)
            self.buffered = []
        if self.announcing:
            publish_mail_announcements(self.ctx, self.announcing)
            self.announcing = []


def _now() -> datetime:
    return datetime.now(UTC)


# --- partner webhooks ------------------------------------------------------------


class WebhookDispatcher:
    """Claims due deliveries and sends them from a thread pool."""

    def __init__(
        self,
        ns: NotificationsSettings,
        resolve: Callable[..., list[Any]] = socket.getaddrinfo,
        ca_certs: str | None = None,
    ) -> None:
        self.ns = ns
        self.client = WebhookClient(ns, resolve, ca_certs)
        self.hold_s = ns.webhook_timeout_s * 3 + 30  # a claim outlives the slowest request
        self.pool = ThreadPoolExecutor(ns.webhook_threads, thread_name_prefix="webhook")
        self.in_flight: dict[str, int] = {}
        self.lock = threading.Lock()

    def run(self, ctx: Context) -> int:
        """Expand queued fan-outs into deliveries, then claim runs of due
        deliveries, one subscription at a time, while threads are free."""
        claimed = expand_fanouts(ctx)
        while True:
            with self.lock:
                free = self.ns.webhook_threads - sum(self.in_flight.values())
                busy = [s for s, n in self.in_flight.items() if n >= PER_SUBSCRIPTION]
            if free <= 0:
                break
            sid = ctx.store.due_subscription(datetime.now(UTC), busy)
            if sid is None:
                break
            docs = self._claim(ctx, sid)
            if not docs:
                continue  # another dispatcher took them meanwhile
            with self.lock:
                self.in_flight[sid] = self.in_flight.get(sid, 0) + 1
            self.pool.submit(self._deliver, ctx, sid, docs)
            claimed += len(docs)
        return claimed

    def _claim(self, ctx: Context, sid: str) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return ctx.store.claim_deliveries_of(
            sid, now, now + timedelta(seconds=self.hold_s), uuid.uuid4().hex, DELIVERY_BATCH
        )

    def _deliver(self, ctx: Context, sid: str, docs: list[dict[str, Any]]) -> None:
        """Send a claimed run of one subscription's deliveries, then keep this
        thread on its next due ones (a bounded number), so throughput does not
        wait for the next tick while the per-subscription cap still keeps
        partners apart."""
        try:
            sent = 0
            while docs and sent < RUN_LENGTH:
                sent += self._attempt_run(ctx, sid, docs)
                docs = self._claim(ctx, sid)
            if docs:
                ctx.store.release_deliveries([d["_id"] for d in docs], docs[0]["claim"], _now())
        except Exception:
            log.exception("webhook delivery round failed; it falls due again")
        finally:
            with self.lock:
                self.in_flight[sid] -= 1
                if self.in_flight[sid] <= 0:
                    del self.in_flight[sid]

    def _attempt_run(self, ctx: Context, sid: str, docs: list[dict[str, Any]]) -> int:
        """POST each delivery of the run in turn and record their outcomes together
        (one transaction per :data:`OUTCOMES_EVERY` of them, or sooner when the
        partner is slow); a run whose claim would run out before the next attempt
        ends gives the rest back. Returns how many were tried."""
        sub = ctx.store.subscription(sid)
        if sub is None or sub["status"] != "active":
            kept_until = domain.expiry(domain.utcnow(), self.ns.delivery_retention_days)
            ctx.store.cancel_deliveries([d["_id"] for d in docs], kept_until)
            return len(docs)
        held_until = docs[0]["next_attempt_at"]
        outcomes: list[DeliveryOutcome] = []
        flushed_at = time.monotonic()
        tried = 0
        failures: int | None = sub.get("consecutive_failures", 0)
        try:
            for doc in docs:
                if (held_until - _now()).total_seconds() < self.ns.webhook_timeout_s + 5:
                    rest = [d["_id"] for d in docs[tried:]]
                    ctx.store.release_deliveries(rest, doc["claim"], _now())
                    break
                attempt = self.client.post(sub, doc)
                tried += 1
                WEBHOOK_SECONDS.observe(attempt.latency_ms / 1000)
                WEBHOOKS.labels("ok" if attempt.ok else "failed").inc()
                outcomes.append(
                    DeliveryOutcome(
                        doc, attempt.ok, attempt.status_code, attempt.latency_ms, attempt.error
                    )
                )
                if len(outcomes) >= OUTCOMES_EVERY or time.monotonic() - flushed_at > 1.0:
                    failures = self._record(ctx, outcomes, failures)
                    outcomes, flushed_at = [], time.monotonic()
        finally:
            self._record(ctx, outcomes, failures)
        return tried

    @staticmethod
    def _record(ctx: Context, outcomes: list[DeliveryOutcome], failures: int | None) -> int | None:
        """Record ``outcomes``; the subscription's failure count as it then is
        (known only while every attempt succeeded)."""
        if not outcomes:
            return failures
        if record_delivery_outcomes(ctx, outcomes, failures):
            WEBHOOKS_DISABLED.inc()
        return 0 if all(o.ok for o in outcomes) else None

    def close(self) -> None:
        """Cancel queued deliveries and wait for those in flight (each bounded by the
        webhook timeout), so none outlives the database client it reports to."""
        self.pool.shutdown(wait=True, cancel_futures=True)


# --- "your event starts tomorrow" ------------------------------------------------


class StartsTomorrow:
    """Once per event and start date, a note to every accepted participant."""

    def __init__(self, ns: NotificationsSettings, clock: Callable[[], datetime] | None = None):
        self.ns = ns
        self.clock = clock or (lambda: datetime.now(UTC))

    def run(self, ctx: Context) -> int:
        now = self.clock()
        candidates = [(now + timedelta(days=d)).date().isoformat() for d in (0, 1, 2)]
        queued = 0
        for event in ctx.store.events_starting(candidates):
            if domain.tomorrow_in(event.get("timezone") or "UTC", now) != event["starts_on"]:
                continue
            queued += self._one_event(ctx, event)
        return queued

    def _one_event(self, ctx: Context, event: dict[str, Any]) -> int:
        cause = f"starts_tomorrow:{event['_id']}:{event['starts_on']}"

        def work(session: Any) -> int:
            contacts = ctx.store.contacts_of(event["_id"], ("accepted",), session)
            return queue_mails(
                ctx,
                session,
                [
                    MailRequest(
                        template="starts_tomorrow",
                        cause_id=cause,
                        recipient=Recipient(
                            contact["email"], contact.get("name", ""), contact.get("language")
                        ),
                        context={"event": event},
                        event_id=event["_id"],
                    )
                    for contact in contacts
                ],
            )

        try:
            return ctx.transaction(work)
        except (DuplicateKeyError, OperationFailure) as exc:
            # Another worker queued the same mails at the same moment: they exist once.
            log.info("starts-tomorrow raced another worker", extra={"error": str(exc)})
            return 0


# --- rows from before retention ----------------------------------------------------


class LegacyScrub:
    """Brings rows written before retention existed under it, once per worker
    start: finished mails lose their message and address, contacts and feed
    items their RSVP links, and each gets the ``expires_at`` its TTL index needs.
    A run that finds nothing ends the job for this process (new rows never need it)."""

    BATCH = 1000

    def __init__(self) -> None:
        self.done = False

    def run(self, ctx: Context) -> int:
        if self.done:
            return 0
        ns, now = ctx.settings, domain.utcnow()
        changed = ctx.store.scrub_legacy_rows(
            mails_until=domain.expiry(now, ns.mail_retention_days),
            deliveries_until=domain.expiry(now, ns.delivery_retention_days),
            feed_until=domain.expiry(now, ns.feed_retention_days),
        )
        ends = ctx.store.event_ends()
        batch: dict[str, datetime] = {}
        for contact in ctx.store.legacy_contacts():
            end = ends.get(contact.get("event_id")) or (contact.get("event") or {}).get("ends_on")
            batch[contact["_id"]] = domain.contact_expiry(end, now, ns.contact_retention_days)
            if len(batch) >= self.BATCH:
                changed += ctx.store.scrub_contacts(batch)
                batch = {}
        changed += ctx.store.scrub_contacts(batch)
        self.done = changed == 0
        return changed

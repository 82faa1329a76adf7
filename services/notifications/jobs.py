"""Periodic work of the notifications worker, each job under a lease: the mail
outbox sender, the partner webhook dispatcher (a thread pool, at most a few
requests in flight per subscription, so a slow partner never delays the
others), the "your event starts tomorrow" schedule and the scrub that brings
rows from before retention under it. The wire protocols are in ``smtp.py``
and ``webhooks.py``.

Rows are claimed by pushing their ``next_attempt_at`` ahead, so several
workers never take the same row at once; a worker that dies holding one lets
it fall due again.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.notifications import domain, smtp
from services.notifications.config import NotificationsSettings
from services.notifications.operations import (
    Context,
    Recipient,
    expand_fanouts,
    queue_mail,
    record_delivery_outcome,
    record_mail_outcome,
)
from services.notifications.store import ERASURE
from services.notifications.webhooks import WebhookClient
from shared import erasure
from shared.schedule import PeriodicJob

log = logging.getLogger(__name__)

MAILS = Counter("mlp_notifications_mails_total", "Mail send attempts by outcome", ["outcome"])
WEBHOOKS = Counter("mlp_notifications_webhooks_total", "Webhook attempts by outcome", ["outcome"])
WEBHOOK_SECONDS = Histogram("mlp_notifications_webhook_seconds", "Webhook request latency")

# A sender claims a mail for this many SMTP timeouts (a send is a handful of
# exchanges, each bounded by the timeout); a sender that died mid-send releases
# its mail to the others when the claim runs out.
CLAIM_TIMEOUTS = 6
MAIL_BATCH = 100
PER_SUBSCRIPTION = 2  # webhook requests in flight per subscription at most
RUN_LENGTH = 200  # deliveries one thread sends for one subscription before yielding
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
    """Sends due mails of the outbox over one SMTP connection per run."""

    def __init__(self, ns: NotificationsSettings, connections: int = 1) -> None:
        self.ns = ns
        self.connections = connections
        self.claim_s = CLAIM_TIMEOUTS * ns.smtp_timeout_s
        self.pool = ThreadPoolExecutor(connections, thread_name_prefix="smtp")

    def run(self, ctx: Context) -> int:
        """Drain due mails over ``connections`` SMTP connections (1 by default: on a
        small machine parallel senders only contend for MongoDB)."""
        first = self._drain(ctx, limit=1)  # nothing due: no threads woken
        if not first:
            return 0
        futures = [self.pool.submit(self._drain, ctx, MAIL_BATCH) for _ in range(self.connections)]
        return first + sum(f.result() for f in futures)

    def _drain(self, ctx: Context, limit: int) -> int:
        store = ctx.store
        handled = 0
        with smtp.Connection(self.ns) as connection:
            while handled < limit:
                now = datetime.now(UTC)
                doc = store.claim_mail(now, now + timedelta(seconds=self.claim_s))
                if doc is None:
                    break
                handled += 1
                if not doc.get("essential") and store.opted_out(doc["email_hash"]):
                    _mail_outcome(ctx, doc, "suppressed")
                    continue
                try:
                    connection.send(doc["to"], doc["raw"])
                except smtp.SEND_ERRORS as exc:
                    outcome = "failed" if smtp.permanent(exc) else "retry"
                    _mail_outcome(ctx, doc, outcome, str(exc))
                    if outcome == "retry":
                        # The server is away or busy (every smtplib error is an
                        # OSError): drop the connection, the rest waits for the next run.
                        connection.reset()
                        break
                    continue
                _mail_outcome(ctx, doc, "sent")
        return handled


def _mail_outcome(ctx: Context, doc: dict[str, Any], outcome: str, error: str = "") -> None:
    record_mail_outcome(ctx, doc, outcome, error)
    MAILS.labels(outcome).inc()


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
        """Expand queued fan-outs into deliveries, then claim due deliveries while
        threads are free."""
        claimed = expand_fanouts(ctx)
        while True:
            with self.lock:
                free = self.ns.webhook_threads - sum(self.in_flight.values())
                busy = [s for s, n in self.in_flight.items() if n >= PER_SUBSCRIPTION]
            if free <= 0:
                break
            now = datetime.now(UTC)
            doc = ctx.store.claim_delivery(now, now + timedelta(seconds=self.hold_s), busy)
            if doc is None:
                break
            with self.lock:
                sid = doc["subscription_id"]
                self.in_flight[sid] = self.in_flight.get(sid, 0) + 1
            self.pool.submit(self._deliver, ctx, doc)
            claimed += 1
        return claimed

    def _deliver(self, ctx: Context, doc: dict[str, Any]) -> None:
        """Send ``doc``, then keep this thread on the same subscription's due
        deliveries (a bounded run), so throughput does not wait for the next tick
        while the per-subscription cap still keeps partners apart."""
        try:
            for _ in range(RUN_LENGTH):
                self._attempt(ctx, doc)
                now = datetime.now(UTC)
                nxt = ctx.store.claim_next_delivery_of(
                    doc["subscription_id"], now, now + timedelta(seconds=self.hold_s)
                )
                if nxt is None:
                    break
                doc = nxt
        except Exception:
            log.exception("webhook delivery round failed; it falls due again")
        finally:
            with self.lock:
                sid = doc["subscription_id"]
                self.in_flight[sid] -= 1
                if self.in_flight[sid] <= 0:
                    del self.in_flight[sid]

    def _attempt(self, ctx: Context, doc: dict[str, Any]) -> None:
        sub = ctx.store.subscription(doc["subscription_id"])
        if sub is None or sub["status"] != "active":
            kept_until = domain.expiry(domain.utcnow(), self.ns.delivery_retention_days)
            ctx.store.cancel_delivery(doc["_id"], kept_until)
            return
        attempt = self.client.post(sub, doc)
        WEBHOOK_SECONDS.observe(attempt.latency_ms / 1000)
        WEBHOOKS.labels("ok" if attempt.ok else "failed").inc()
        record_delivery_outcome(
            ctx,
            doc,
            ok=attempt.ok,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
        )

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
            count = 0
            for contact in ctx.store.contacts_of(event["_id"], ("accepted",), session):
                count += queue_mail(
                    ctx,
                    session,
                    template="starts_tomorrow",
                    cause_id=cause,
                    recipient=Recipient(
                        contact["email"], contact.get("name", ""), contact.get("language")
                    ),
                    context={"event": event},
                    event_id=event["_id"],
                )
            return count

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

"""The worker's senders, run as periodic jobs: the mail outbox over SMTP, the
partner webhook deliveries over HTTP (a thread pool, at most a few requests
in flight per subscription, so a slow partner never delays the others) and
the "your event starts tomorrow" schedule.

Rows are claimed by pushing their ``next_attempt_at`` ahead, so several
workers never take the same row at once; a worker that dies holding one lets
it fall due again.
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from prometheus_client import Counter, Histogram
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.notifications import domain
from services.notifications.config import NotificationsSettings
from services.notifications.operations import (
    Context,
    Recipient,
    queue_mail,
    record_delivery_outcome,
    record_mail_outcome,
)
from services.notifications.store import NotificationStore

log = logging.getLogger(__name__)

MAILS = Counter("mlp_notifications_mails_total", "Mail send attempts by outcome", ["outcome"])
WEBHOOKS = Counter("mlp_notifications_webhooks_total", "Webhook attempts by outcome", ["outcome"])
WEBHOOK_SECONDS = Histogram("mlp_notifications_webhook_seconds", "Webhook request latency")

# A sender claims a mail for this many SMTP timeouts (a send is a handful of
# exchanges, each bounded by the timeout); a sender that died mid-send releases
# its mail to the others when the claim runs out.
CLAIM_TIMEOUTS = 6
MAIL_BATCH = 100


def _permanent(exc: Exception) -> bool:
    """A 5xx answer (unknown recipient, refused message) will not improve by retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPServerDisconnected)
    return False


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
        store = ctx.store
        first = self._drain(ctx, store, limit=1)  # nothing due: no threads woken
        if not first:
            return 0
        futures = [
            self.pool.submit(self._drain, ctx, store, MAIL_BATCH) for _ in range(self.connections)
        ]
        return first + sum(f.result() for f in futures)

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.ns.smtp_host, self.ns.smtp_port, timeout=self.ns.smtp_timeout_s)
        if self.ns.smtp_starttls:
            smtp.starttls()
        if self.ns.smtp_username:
            smtp.login(self.ns.smtp_username, self.ns.smtp_password)
        return smtp

    def _drain(self, ctx: Context, store: NotificationStore, limit: int) -> int:
        smtp: smtplib.SMTP | None = None
        handled = 0
        try:
            while handled < limit:
                now = datetime.now(UTC)
                doc = store.claim_mail(now, now + timedelta(seconds=self.claim_s))
                if doc is None:
                    break
                handled += 1
                if not doc.get("essential") and store.opted_out(doc["email_hash"]):
                    record_mail_outcome(ctx, doc, "suppressed")
                    MAILS.labels("suppressed").inc()
                    continue
                try:
                    if smtp is None:
                        smtp = self._connect()
                    sender = domain.normalise_email(_address(self.ns.mail_from))
                    smtp.sendmail(
                        sender, [doc["to"]], doc["raw"].encode("utf-8", "surrogateescape")
                    )
                except (OSError, smtplib.SMTPException) as exc:
                    outcome = "failed" if _permanent(exc) else "retry"
                    record_mail_outcome(ctx, doc, outcome, str(exc))
                    MAILS.labels(outcome).inc()
                    if outcome == "retry":
                        _quit(smtp)
                        smtp = None
                        if isinstance(exc, OSError | smtplib.SMTPServerDisconnected):
                            break  # the server is away: the rest waits for the next run
                    continue
                record_mail_outcome(ctx, doc, "sent")
                MAILS.labels("sent").inc()
        finally:
            _quit(smtp)
        return handled


def _address(value: str) -> str:
    return value[value.find("<") + 1 : value.find(">")] if "<" in value else value


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


# --- webhooks -------------------------------------------------------------------

PER_SUBSCRIPTION = 2  # requests in flight per subscription at most
RUN_LENGTH = 200  # deliveries one thread sends for one subscription before yielding


class WebhookDispatcher:
    """Claims due deliveries and sends them from a thread pool."""

    def __init__(
        self,
        ns: NotificationsSettings,
        resolve: Callable[..., list[Any]] = socket.getaddrinfo,
    ) -> None:
        self.ns = ns
        self.resolve = resolve
        self.pool = ThreadPoolExecutor(ns.webhook_threads, thread_name_prefix="webhook")
        self.in_flight: dict[str, int] = {}
        self.lock = threading.Lock()
        self.session = requests.Session()
        self.session.trust_env = False  # never through a proxy from the environment

    def run(self, ctx: Context) -> int:
        store = ctx.store
        claimed = 0
        hold_s = self.ns.webhook_timeout_s * 3 + 30
        while True:
            with self.lock:
                free = self.ns.webhook_threads - sum(self.in_flight.values())
                busy = [s for s, n in self.in_flight.items() if n >= PER_SUBSCRIPTION]
            if free <= 0:
                break
            now = datetime.now(UTC)
            doc = store.claim_delivery(now, now + timedelta(seconds=hold_s), busy)
            if doc is None:
                break
            with self.lock:
                sid = doc["subscription_id"]
                self.in_flight[sid] = self.in_flight.get(sid, 0) + 1
            self.pool.submit(self._deliver, ctx, store, doc)
            claimed += 1
        return claimed

    def _deliver(self, ctx: Context, store: NotificationStore, doc: dict[str, Any]) -> None:
        """Send ``doc``, then keep this thread on the same subscription's due
        deliveries (a bounded run), so throughput does not wait for the next tick
        while the per-subscription cap still keeps partners apart."""
        hold_s = self.ns.webhook_timeout_s * 3 + 30
        try:
            for _ in range(RUN_LENGTH):
                self._attempt(ctx, store, doc)
                now = datetime.now(UTC)
                nxt = store.claim_next_delivery_of(
                    doc["subscription_id"], now, now + timedelta(seconds=hold_s)
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

    def _attempt(self, ctx: Context, store: NotificationStore, doc: dict[str, Any]) -> None:
        sub = store.subscription(doc["subscription_id"])
        if sub is None or sub["status"] != "active":
            store.cancel_delivery(doc["_id"])
            return
        status_code: int | None = None
        error = ""
        started = time.perf_counter()
        try:
            domain.check_target(
                sub["url"], allow_loopback=self.ns.webhook_allow_loopback, resolve=self.resolve
            )
            timestamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "user-agent": "mlp-ops-webhooks/1",
                "webhook-id": doc["_id"],
                "webhook-timestamp": str(timestamp),
                "webhook-signature": domain.sign(sub["secret"], doc["_id"], timestamp, doc["body"]),
            }
            response = self.session.post(
                sub["url"],
                data=doc["body"].encode(),
                headers=headers,
                timeout=(min(3.0, self.ns.webhook_timeout_s), self.ns.webhook_timeout_s),
                allow_redirects=False,
            )
            status_code = response.status_code
            response.close()
            if not 200 <= status_code < 300:
                error = f"answered {status_code}"
        except domain.UnsafeTarget as exc:
            error = f"refused target: {exc}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        latency_ms = (time.perf_counter() - started) * 1000
        WEBHOOK_SECONDS.observe(latency_ms / 1000)
        ok = not error
        WEBHOOKS.labels("ok" if ok else "failed").inc()
        record_delivery_outcome(
            ctx,
            doc,
            ok=ok,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
        )

    def close(self) -> None:
        """Cancel queued deliveries and wait for those in flight (each bounded by the
        webhook timeout), so none outlives the database client it reports to."""
        self.pool.shutdown(wait=True, cancel_futures=True)


# --- "your event starts tomorrow" ---------------------------------------------


class StartsTomorrow:
    """Once per event and start date, a note to every accepted participant."""

    def __init__(self, ns: NotificationsSettings, clock: Callable[[], datetime] | None = None):
        self.ns = ns
        self.clock = clock or (lambda: datetime.now(UTC))

    def run(self, ctx: Context) -> int:
        store = ctx.store
        now = self.clock()
        candidates = [(now + timedelta(days=d)).date().isoformat() for d in (0, 1, 2)]
        queued = 0
        for event in store.events_starting(candidates):
            if domain.tomorrow_in(event.get("timezone") or "UTC", now) != event["starts_on"]:
                continue
            queued += self._one_event(ctx, store, event)
        return queued

    def _one_event(self, ctx: Context, store: NotificationStore, event: dict) -> int:
        cause = f"starts_tomorrow:{event['_id']}:{event['starts_on']}"

        def work(session: Any) -> int:
            count = 0
            for contact in store.contacts_of(event["_id"], ("accepted",), session):
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


def delivery_body(doc: dict[str, Any]) -> dict[str, Any]:
    return json.loads(doc["body"])

"""The mail outbox sent in batches: claimed a hundred at a time, opt-outs looked
up once per batch, outcomes recorded together, over one SMTP connection that is
opened again once when it drops; and what a batch costs the database."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from types import SimpleNamespace
from typing import Any

from aiosmtpd.controller import Controller
from pymongo import MongoClient, monitoring

from deploy.local.ports import free_port
from devkit.samples import event_payload, issued_payload
from devkit.webhooks import Receiver
from services.notifications import domain, operations
from services.notifications.handlers import subscriptions
from services.notifications.jobs import MailSender, WebhookDispatcher
from services.notifications.store import NotificationStore
from shared.outbox import Outbox
from tests.helpers import RecordDeliverer, wait_for


class ScriptedSmtp:
    """An SMTP server that refuses the addresses ``refuse`` (550) and, on the
    n-th DATA of ``drops``, closes the connection without answering: after
    keeping the message when ``drops[n]`` is true (the answer was lost), before
    it otherwise."""

    def __init__(self, refuse: frozenset[str] = frozenset(), drops: dict[int, bool] | None = None):
        self.refuse = refuse
        self.drops = drops or {}
        self.received: list[str] = []  # Message-IDs, in arrival order
        self.data = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message_id = str(message_from_bytes(envelope.original_content or b"")["Message-ID"])
        with self.lock:
            self.data += 1
            drop = self.drops.get(self.data)
            if drop is None or drop:
                self.received.append(message_id)
        if drop is not None:
            server.transport.abort()
            return "421 4.4.2 Gone"
        return "250 OK"

    def __enter__(self) -> ScriptedSmtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _queue_invitations(app, n: int) -> list[str]:
    """Deliver ``n`` invitation records; the addresses, each with one mail queued."""
    deliver = RecordDeliverer(app, subscriptions)
    event_id = str(uuid.uuid4())
    emails = [f"p{i}-{uuid.uuid4().hex[:6]}@example.eu" for i in range(n)]
    for email in emails:
        deliver("internal.invitation.issued", issued_payload(event_id, str(uuid.uuid4()), email))
    return emails


def _sender(ctx, smtp: ScriptedSmtp) -> tuple[Any, MailSender]:
    settings = replace(ctx.settings, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_timeout_s=5)
    return replace(ctx, settings=settings), MailSender(settings)


def _drain(ctx, sender: MailSender, rounds: int = 20) -> None:
    for _ in range(rounds):
        if not sender.run(ctx):
            return


def _message_ids(ctx) -> dict[str, str]:
    return {m["_id"]: m["message_id"] for m in ctx.db.mails.find({}, {"message_id": 1})}


def test_two_senders_draining_the_same_due_mails_send_each_once(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    _queue_invitations(notifications_app, 250)
    with ScriptedSmtp() as smtp:
        ctx, _ = _sender(ctx, smtp)
        senders = [MailSender(ctx.settings) for _ in range(2)]
        start = threading.Barrier(2)

        def drain(sender: MailSender) -> None:
            start.wait()
            _drain(ctx, sender)

        threads = [threading.Thread(target=drain, args=(s,)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    counts = Counter(smtp.received)
    assert len(counts) == 250 and set(counts.values()) == {1}, counts.most_common(3)
    assert ctx.db.mails.count_documents({"status": "sent"}) == 250
    assert ctx.db.outbox.count_documents({"topic": "notification.sent"}) == 250


def test_a_refused_recipient_fails_alone_and_the_rest_of_its_batch_goes(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    emails = _queue_invitations(notifications_app, 10)
    with ScriptedSmtp(refuse=frozenset({emails[3]})) as smtp:
        ctx, sender = _sender(ctx, smtp)
        sender.run(ctx)  # one run: the refusal does not stop the batch
    assert len(smtp.received) == 9 == len(set(smtp.received))
    failed = ctx.db.mails.find_one({"email_hash": domain.email_hash(emails[3])})
    assert failed["status"] == "failed" and "550" in failed["last_error"]
    assert ctx.db.mails.count_documents({"status": "sent"}) == 9
    [announced] = ctx.db.outbox.find({"topic": "notification.failed"})
    assert announced["payload"]["notification_id"] == failed["notification_id"]
    assert ctx.db.mails.count_documents({"announcing": True}) == 0  # all published


def test_a_dropped_connection_is_opened_again_and_the_rest_goes_later_none_twice(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    _queue_invitations(notifications_app, 10)
    ids = _message_ids(ctx)
    # The 3rd mail is kept but its answer lost; sent again on a new connection,
    # that one drops before keeping it: the server is away for this run.
    with ScriptedSmtp(drops={3: True, 4: False}) as smtp:
        ctx, sender = _sender(ctx, smtp)
        sender.run(ctx)
        assert len(smtp.received) == 3  # two sent, and the one in flight
        retried = ctx.db.mails.find_one({"message_id": smtp.received[2]})
        assert retried["status"] == "pending" and retried["attempts"] == 1
        # The rest of the batch was released untried: due now, not after the claim.
        untried = ctx.db.mails.count_documents({"status": "pending", "attempts": 0})
        assert untried == 7
        sender.run(ctx)
        assert ctx.db.mails.count_documents({"status": "sent"}) == 9
        ctx.db.mails.update_one(
            {"_id": retried["_id"]}, {"$set": {"next_attempt_at": datetime.now(UTC)}}
        )
        sender.run(ctx)
    counts = Counter(smtp.received)
    assert set(counts) == set(ids.values())
    assert counts[retried["message_id"]] == 2  # the one in flight, same Message-ID
    assert sum(counts.values()) == 11
    assert ctx.db.mails.count_documents({"status": "sent"}) == 10


def test_opt_outs_suppress_the_non_essential_mails_of_a_batch(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    emails = _queue_invitations(notifications_app, 6)
    # Make four of them optional mail (as a reminder is); two of those opted out.
    optional = [domain.email_hash(e) for e in emails[:4]]
    ctx.db.mails.update_many({"email_hash": {"$in": optional}}, {"$set": {"essential": False}})
    for email in (emails[0], emails[1], emails[4]):  # emails[4]'s mail is essential
        ctx.store.opt_out(domain.email_hash(email), datetime.now(UTC))
    with ScriptedSmtp() as smtp:
        ctx, sender = _sender(ctx, smtp)
        sender.run(ctx)
    status = {m["email_hash"]: m["status"] for m in ctx.db.mails.find()}
    assert [status[domain.email_hash(e)] for e in emails] == [
        "suppressed",
        "suppressed",
        "sent",
        "sent",
        "sent",
        "sent",
    ]
    assert len(smtp.received) == 4
    assert ctx.db.outbox.count_documents({"topic": "notification.sent"}) == 4


class CommandCounter(monitoring.CommandListener):
    """Counts the database commands (and commits) a client sends while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.commands: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on:
            self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _counted(ctx, counter: CommandCounter) -> tuple[Any, MongoClient]:
    """``ctx`` on a client of its own whose commands ``counter`` counts."""
    client: MongoClient = MongoClient(
        ctx.settings.mongo_uri, tz_aware=True, event_listeners=[counter]
    )
    db = client[ctx.settings.database]
    counted = replace(
        ctx,
        client=client,
        db=db,
        store=NotificationStore(db),
        outbox=Outbox(db, ctx.settings.source, keys=ctx.settings.internal_topic_keys),
    )
    return counted, client


def test_a_sent_mail_costs_about_one_database_command_and_no_transaction_of_its_own(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    n = 300
    _queue_invitations(notifications_app, n)
    counter = CommandCounter()
    counted, client = _counted(ctx, counter)
    try:
        with ScriptedSmtp() as smtp:
            counted, sender = _sender(counted, smtp)
            counter.on = True
            _drain(counted, sender)
            counter.on = False
    finally:
        client.close()
    assert len(smtp.received) == n
    commands = sum(counter.commands.values())
    transactions = counter.commands["commitTransaction"]
    print(
        f"\nmail sender: {commands / n:.2f} commands and {transactions / n:.3f} transactions"
        f" per mail sent ({n} mails: {dict(counter.commands)})"
    )
    assert commands / n <= 1.3, counter.commands
    assert transactions <= n / 50, counter.commands


def test_a_claimed_mail_is_claimed_again_only_once_its_claim_runs_out(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    _queue_invitations(notifications_app, 3)
    now = datetime.now(UTC)
    claimed = ctx.store.claim_mails(now, now + timedelta(seconds=60), "a", 100)
    assert len(claimed) == 3
    assert ctx.store.claim_mails(now, now + timedelta(seconds=60), "b", 100) == []
    later = now + timedelta(seconds=61)
    assert len(ctx.store.claim_mails(later, later + timedelta(seconds=60), "b", 100)) == 3


def test_notification_subscribers_get_deliveries_without_the_service_consuming_its_own_topics(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    sub = operations.create_subscription(
        ctx,
        owner_sub="p1",
        owner_email=None,
        url="https://partner.example/hook",
        topics=["notification.sent"],
        description="",
    )
    _queue_invitations(notifications_app, 3)
    with ScriptedSmtp() as smtp:
        ctx, sender = _sender(ctx, smtp)
        sender.run(ctx)
    assert "notification.sent" not in subscriptions.topics
    announced = {r["ce_id"]: r for r in ctx.db.outbox.find({"topic": "notification.sent"})}
    deliveries = list(ctx.db.deliveries.find({"subscription_id": sub["_id"]}))
    assert len(announced) == 3 and {d["ce_id"] for d in deliveries} == set(announced)
    for delivery in deliveries:
        body = json.loads(delivery["body"])
        assert body["type"] == "notification.sent"
        assert body["data"] == announced[delivery["ce_id"]]["payload"]  # as published


def test_webhook_deliveries_of_a_subscription_are_claimed_and_recorded_together(
    notifications_app,
):
    ctx = notifications_app.extensions["mlp"]
    n = 100
    with contextlib.closing(Receiver()) as receiver:
        sub = operations.create_subscription(
            ctx,
            owner_sub="p1",
            owner_email=None,
            url=receiver.url,
            topics=["event.published"],
            description="",
        )
        deliver = RecordDeliverer(notifications_app, subscriptions)
        for _ in range(n):
            deliver("event.published", event_payload(str(uuid.uuid4())))
        counter = CommandCounter()
        counted, client = _counted(ctx, counter)
        dispatcher = WebhookDispatcher(counted.settings)
        try:
            counter.on = True
            dispatcher.run(counted)
            wait_for(
                lambda: (
                    counted.db.deliveries.count_documents(
                        {"subscription_id": sub["_id"], "status": "succeeded"}
                    )
                    == n
                )
            )
            dispatcher.close()
            counter.on = False
        finally:
            client.close()
    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(ids) == n and set(ids.values()) == {1}
    assert ctx.db.outbox.count_documents({"topic": "notification.sent"}) == n
    commands = sum(counter.commands.values()) - counter.commands["aggregate"]  # the wait
    transactions = counter.commands["commitTransaction"]
    print(
        f"\nwebhooks: {commands / n:.2f} commands and {transactions / n:.3f} transactions"
        f" per delivery ({n} deliveries: {dict(counter.commands)})"
    )
    assert commands / n <= 0.6, counter.commands
    assert transactions <= n / 10, counter.commands


class CollectionCounter(CommandCounter):
    """Counts commands by (command, collection)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on:
            target = event.command.get(event.command_name)
            self.commands[f"{event.command_name} {target}"] += 1


def test_a_cancellation_to_everyone_invited_queues_its_mails_with_one_insert(notifications_app):
    ctx = notifications_app.extensions["mlp"]
    deliver = RecordDeliverer(notifications_app, subscriptions)
    event_id = str(uuid.uuid4())
    deliver("event.published", event_payload(event_id, version=2))
    n = 40
    for i in range(n):
        email = f"c{i}-{uuid.uuid4().hex[:6]}@example.eu"
        deliver("internal.invitation.issued", issued_payload(event_id, str(uuid.uuid4()), email))
    counter = CollectionCounter()
    counted, client = _counted(ctx, counter)
    try:
        cancel = RecordDeliverer(SimpleNamespace(extensions={"mlp": counted}), subscriptions)
        counter.on = True
        cause = cancel("event.cancelled", event_payload(event_id, version=3, status="cancelled"))
        counter.on = False
    finally:
        client.close()
    assert ctx.db.mails.count_documents({"cause_id": cause}) == n
    assert ctx.db.feed.count_documents({}) == 2 * n
    mails = {k: v for k, v in counter.commands.items() if k.endswith((" mails", " feed"))}
    assert mails == {"find mails": 1, "insert mails": 1, "find feed": 1, "insert feed": 1}

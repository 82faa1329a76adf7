"""Periodic work of the notifications worker, each job under a lease: the mail
outbox sender, the webhook dispatcher and the "starts tomorrow" schedule (the
senders themselves are in ``delivery.py``)."""

from __future__ import annotations

from services.notifications.delivery import MailSender, StartsTomorrow, WebhookDispatcher
from services.notifications.operations import Context
from shared.schedule import PeriodicJob


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    settings = ctx.settings
    dispatcher = WebhookDispatcher(settings)
    return [
        PeriodicJob("mail-outbox", settings.mail_interval_s, MailSender(settings).run),
        PeriodicJob(
            "webhook-deliveries", settings.mail_interval_s, dispatcher.run, close=dispatcher.close
        ),
        PeriodicJob("starts-tomorrow", settings.tomorrow_interval_s, StartsTomorrow(settings).run),
    ]

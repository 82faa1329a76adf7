"""The notifications service's worker process: ``python -m services.notifications.worker``.

Besides the consumer and the outbox relay it runs three periodic jobs: the
mail outbox sender, the webhook dispatcher and the "starts tomorrow" schedule.
"""

from pymongo.database import Database

from services.notifications.config import NotificationSettings, load
from services.notifications.delivery import MailSender, StartsTomorrow, WebhookDispatcher
from services.notifications.handlers import subscriptions
from services.notifications.store import NotificationStore
from shared.schedule import PeriodicJob
from shared.worker import run_worker


def _prepare(db: Database) -> None:
    NotificationStore(db).ensure_indexes()


def jobs(ns: NotificationSettings, dispatcher: WebhookDispatcher) -> list[PeriodicJob]:
    return [
        PeriodicJob("mail-outbox", ns.mail_interval_s, MailSender(ns).run),
        PeriodicJob("webhook-deliveries", ns.mail_interval_s, dispatcher.run),
        PeriodicJob("starts-tomorrow", ns.tomorrow_interval_s, StartsTomorrow(ns).run),
    ]


def main() -> None:
    ns = load()
    dispatcher = WebhookDispatcher(ns)
    try:
        run_worker(ns.base, subscriptions, prepare=_prepare, jobs=jobs(ns, dispatcher))
    finally:
        dispatcher.close()


if __name__ == "__main__":
    main()

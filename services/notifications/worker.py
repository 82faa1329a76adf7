"""The notifications service's worker process: ``python -m services.notifications.worker``.

Besides the consumer and the outbox relay it runs the periodic jobs of
``jobs.py``: the mail outbox sender, the webhook dispatcher and the
"starts tomorrow" schedule.
"""

from services.notifications.config import load_settings
from services.notifications.handlers import subscriptions
from services.notifications.jobs import periodic_jobs
from services.notifications.store import NotificationStore
from shared.worker import run_worker


def main() -> None:
    run_worker(load_settings(), NotificationStore, subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()

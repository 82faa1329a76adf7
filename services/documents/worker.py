"""The documents service's worker process: ``python -m services.documents.worker``.

Besides the consumer and the outbox relay it runs the periodic jobs of
``jobs.py`` (paper reminders, the sweep of orphaned files), each under a lease.
"""

from services.documents.config import load_settings
from services.documents.handlers import subscriptions
from services.documents.jobs import periodic_jobs
from services.documents.store import DocumentStore
from shared.worker import run_worker


def main() -> None:
    run_worker(load_settings(), DocumentStore, subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()

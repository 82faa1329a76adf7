"""The surveys service's worker process: ``python -m services.surveys.worker``.

Besides the consumer and the outbox relay it runs the periodic jobs of
``jobs.py`` (the one reminder, closing after the open days), each under a lease.
"""

from services.surveys.config import load_settings
from services.surveys.handlers import subscriptions
from services.surveys.jobs import periodic_jobs
from services.surveys.store import SurveyStore
from shared.worker import run_worker


def main() -> None:
    run_worker(load_settings(), SurveyStore, subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()

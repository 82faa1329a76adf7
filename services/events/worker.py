"""The events service's worker process: ``python -m services.events.worker``."""

from services.events.config import load_settings
from services.events.handlers import subscriptions
from services.events.jobs import periodic_jobs
from services.events.store import EventStore
from shared.worker import run_worker


def main() -> None:
    run_worker(load_settings(), EventStore, subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()

"""The catalogue service's worker process: ``python -m services.catalogue.worker``."""

from services.catalogue.config import load_settings
from services.catalogue.handlers import subscriptions
from services.catalogue.jobs import periodic_jobs
from services.catalogue.store import store_factory
from shared.worker import run_worker


def main() -> None:
    settings = load_settings()
    run_worker(settings, store_factory(settings), subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()

"""The events service's worker process: ``python -m services.events.worker``."""

from pymongo.database import Database

from services.events.handlers import subscriptions
from services.events.store import EventStore
from shared.config import load_settings
from shared.worker import run_worker


def _prepare(db: Database) -> None:
    EventStore(db).ensure_indexes()


def main() -> None:
    run_worker(load_settings("events"), subscriptions, prepare=_prepare)


if __name__ == "__main__":
    main()

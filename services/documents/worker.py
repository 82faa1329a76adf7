"""The documents service's worker process: ``python -m services.documents.worker``."""

import os

from pymongo.database import Database

from services.documents.handlers import subscriptions
from services.documents.operations import send_due_reminders, sweep_orphan_files
from services.documents.store import DocumentStore
from shared.config import load_settings
from shared.schedule import PeriodicJob
from shared.worker import run_worker


def _prepare(db: Database) -> None:
    DocumentStore(db).ensure_indexes()


def main() -> None:
    interval = float(os.environ.get("MLP_DOCUMENT_REMINDER_INTERVAL_S", "300"))
    jobs = [
        PeriodicJob("document-reminders", interval, send_due_reminders),
        PeriodicJob("orphan-files", 600.0, sweep_orphan_files),
    ]
    run_worker(load_settings("documents"), subscriptions, prepare=_prepare, jobs=jobs)


if __name__ == "__main__":
    main()

"""The invitations service's worker process: ``python -m services.invitations.worker``.

Besides the consumer and the outbox relay it runs two periodic jobs, each
under a lease: expiring pending invitations at the deadline, and reminders.
"""

from pymongo.database import Database

from services.invitations import operations
from services.invitations.domain import parse_schedule
from services.invitations.handlers import subscriptions
from services.invitations.store import InvitationStore
from shared.config import load_settings
from shared.schedule import JobContext, PeriodicJob
from shared.worker import run_worker


def _prepare(db: Database) -> None:
    InvitationStore(db).ensure_indexes()


def jobs() -> list[PeriodicJob]:
    config = operations.InvitationConfig.from_env()
    schedule = parse_schedule(config.reminder_days)

    def remind(ctx: JobContext) -> int:
        return operations.remind_due(ctx, schedule)

    return [
        PeriodicJob("invitations-expire", 30.0, operations.expire_due),
        PeriodicJob("invitations-remind", 60.0, remind),
    ]


def main() -> None:
    run_worker(load_settings("invitations"), subscriptions, prepare=_prepare, jobs=jobs())


if __name__ == "__main__":
    main()

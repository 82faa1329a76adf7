"""The invitations service's worker process: ``python -m services.invitations.worker``.

Besides the consumer and the outbox relay it runs the periodic jobs of
``jobs.py`` (expiry at the deadline, reminders), each under a lease.
"""

from services.invitations.config import load_settings
from services.invitations.handlers import subscriptions
from services.invitations.jobs import periodic_jobs
from services.invitations.store import InvitationStore
from shared.worker import run_worker


def main() -> None:
    run_worker(load_settings(), InvitationStore, subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()

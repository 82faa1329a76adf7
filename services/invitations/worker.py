"""The invitations service's worker process: ``python -m services.invitations.worker``.

Besides the consumer and the outbox relay it runs the periodic jobs of
``jobs.py`` (expiry at the deadline, reminders), each under a lease.

``python -m services.invitations.worker erasure-replay`` (``make erasure-replay``)
runs every completed erasure request again after a database restore, then
exits: it records the replays and their announcements in the outbox, which the
running worker's relay publishes.
"""

import sys

from services.invitations import operations
from services.invitations.config import load_settings
from services.invitations.handlers import subscriptions
from services.invitations.jobs import periodic_jobs
from services.invitations.store import InvitationStore
from shared.service import start_service
from shared.worker import run_worker


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["erasure-replay"]:
        ctx = start_service(load_settings(), InvitationStore)
        try:
            count = operations.replay_erasures(ctx)
        finally:
            ctx.close()
        sys.stdout.write(f"{count} completed erasure requests announced again\n")
        return
    if args:
        raise SystemExit("usage: python -m services.invitations.worker [erasure-replay]")
    run_worker(load_settings(), InvitationStore, subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()

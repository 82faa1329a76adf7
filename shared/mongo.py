"""MongoDB access every service shares: one client per process, one database
per service, and transactions that retry on transient errors; every command
counted (``mlp_mongo_commands_total``) so a change shows the work it saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from prometheus_client import Counter
from pymongo import MongoClient
from pymongo.client_session import ClientSession
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from shared.config import Settings

T = TypeVar("T")

COMMANDS = Counter(
    "mlp_mongo_commands_total",
    "Database commands sent, by command name (commitTransaction and abortTransaction"
    " count the transactions)",
    ["command"],
)
COMMAND_FAILURES = Counter(
    "mlp_mongo_command_failures_total",
    "Database commands that failed (a write conflict, say), by command name",
    ["command"],
)


class CommandCounter(CommandListener):
    """Counts every command the client sends: one counter increment each, cheap
    enough to stay on in production (pymongo calls it on the sending thread)."""

    def started(self, event: CommandStartedEvent) -> None:
        COMMANDS.labels(event.command_name).inc()

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        COMMAND_FAILURES.labels(event.command_name).inc()


_COMMAND_COUNTER = CommandCounter()


def connect(settings: Settings) -> MongoClient:
    """A client for the process; safe to share between threads, never across fork.

    With ``MLP_MONGO_USERNAME`` set it logs in as that user (the service's own,
    allowed only its own database; ``authSource`` in the URI says where the
    user is defined, ``admin`` by default): credentials kept out of the URI
    need no escaping and never show in a logged connection string.
    """
    credentials: dict[str, str] = {}
    if settings.mongo_username:
        credentials = {"username": settings.mongo_username, "password": settings.mongo_password}
    return MongoClient(
        settings.mongo_uri,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        appname=f"mlp-{settings.service}",
        event_listeners=[_COMMAND_COUNTER],
        **credentials,
    )


def in_transaction(client: MongoClient, work: Callable[[ClientSession], T]) -> T:
    """Run ``work`` in one multi-document transaction: all its writes commit or none.

    pymongo's ``with_transaction`` runs ``work`` again only for errors labelled
    ``TransientTransactionError`` (a write conflict, a lost primary) and retries
    a commit labelled ``UnknownTransactionCommitResult``; any other exception
    (a domain error, say) aborts the transaction and propagates. ``work`` must
    therefore do nothing but database work through the session.
    """
    with client.start_session() as session:
        return session.with_transaction(
            work,
            read_concern=ReadConcern("snapshot"),
            write_concern=WriteConcern("majority"),
        )

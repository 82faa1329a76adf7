"""The one context a service's code runs with, in its web and its worker
process alike: its settings, its MongoDB client and database, its outbox and
its store. Built once at start (``app.py``, ``worker.py``) and passed in;
views, handlers, jobs and operations all take it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pymongo import MongoClient
from pymongo.client_session import ClientSession
from pymongo.database import Database

from shared.config import Settings
from shared.mongo import connect, in_transaction
from shared.outbox import Outbox
from shared.tracing import configure_tracing

T = TypeVar("T")


class Store(Protocol):
    """A service's MongoDB access (``services/<name>/store.py``)."""

    def ensure_indexes(self) -> None: ...


S = TypeVar("S", bound=Settings)
St = TypeVar("St", bound=Store)


@dataclass(frozen=True)
class ServiceContext(Generic[S, St]):
    """What one service process shares: never per request, never per record."""

    settings: S
    client: MongoClient
    db: Database
    outbox: Outbox
    store: St

    def transaction(self, work: Callable[[ClientSession], T]) -> T:
        """Run ``work`` in one MongoDB transaction (see :func:`shared.mongo.in_transaction`)."""
        return in_transaction(self.client, work)

    def close(self) -> None:
        self.client.close()


def start_service(settings: S, store_factory: Callable[[Database], St]) -> ServiceContext[S, St]:
    """Connect to the service's database, create its indexes and build its context
    (tracing, when configured, is set up first: pymongo traces the clients made after)."""
    configure_tracing(settings)
    client = connect(settings)
    db = client[settings.database]
    store = store_factory(db)
    store.ensure_indexes()
    return ServiceContext(
        settings=settings,
        client=client,
        db=db,
        outbox=Outbox(db, settings.source, keys=settings.internal_topic_keys),
        store=store,
    )

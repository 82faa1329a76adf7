"""Read models built from other services' topics.

A service that needs another's data keeps its own copy, built from records
that may arrive twice or out of order. Every payload carries the resource's
``version``; a record only changes the copy when it is newer than what the
copy holds, so replays and late records change nothing.
"""

from __future__ import annotations

from typing import Any

from pymongo.client_session import ClientSession
from pymongo.collection import Collection


def apply_if_newer(
    collection: Collection,
    resource_id: str,
    version: int,
    fields: dict[str, Any],
    session: ClientSession,
) -> bool:
    """Store ``fields`` for ``resource_id`` at ``version`` unless a newer or equal
    version is already there; True when the copy changed."""
    # Read, then write: inside a transaction a duplicate-key error would abort it,
    # and a concurrent writer of the same id makes the transaction retry instead.
    current = collection.find_one({"_id": resource_id}, {"version": 1}, session=session)
    if current is not None and current.get("version", 0) >= version:
        return False
    collection.update_one(
        {"_id": resource_id},
        {"$set": {**fields, "version": version}},
        upsert=True,
        session=session,
    )
    return True

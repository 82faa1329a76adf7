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
    *,
    version_field: str = "version",
    on_insert: dict[str, Any] | None = None,
    replace_equal: bool = False,
) -> bool:
    """Store ``fields`` for ``resource_id`` at ``version`` unless the copy already
    holds a newer version (or an equal one, unless ``replace_equal``); True when
    the copy changed.

    A document fed by several topics keeps one ``version_field`` per topic (a
    status and an address of one invitation change independently);
    ``on_insert`` fills fields only when the copy is created.
    """
    # Read, then write: inside a transaction a duplicate-key error would abort it,
    # and a concurrent writer of the same id makes the transaction retry instead.
    current = collection.find_one({"_id": resource_id}, {version_field: 1}, session=session)
    if current is not None:
        held = current.get(version_field, 0)
        if held > version or (held == version and not replace_equal):
            return False
    update: dict[str, Any] = {"$set": {**fields, version_field: version}}
    if on_insert:
        update["$setOnInsert"] = on_insert
    collection.update_one({"_id": resource_id}, update, upsert=True, session=session)
    return True

"""Time-limited leases in MongoDB, so that of several replicas of a worker
exactly one does a singleton job (the outbox relay, a schedule)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError


class Lease:
    """Holds ``name`` for ``ttl`` at a time; the holder must renew before it runs out."""

    def __init__(self, collection: Collection, name: str, ttl: timedelta) -> None:
        self.collection = collection
        self.name = name
        self.ttl = ttl
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        now = datetime.now(UTC)
        try:
            self.collection.find_one_and_update(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + self.ttl}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # held by someone else: the upsert collided with their document
        return True

    def release(self) -> None:
        self.collection.delete_one({"_id": self.name, "owner": self.owner})

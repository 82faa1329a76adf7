"""Per-client rate limits counted in MongoDB, so a limit holds across every web
process and replica of a service (an in-memory counter would multiply it by
their number).

A fixed window: each (bucket, client, window start) has one counter document,
incremented atomically and deleted by a TTL index after the window has passed.
Whom a limit counts is :func:`shared.http.client_key` (an IPv4 address or an
IPv6 /64); the bucket separates the limits of different endpoints.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from shared.errors import RateLimited


class FixedWindowLimiter:
    """Counts requests per bucket and client in ``collection`` (a service's own)."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    def ensure_indexes(self) -> None:
        self.collection.create_index("expires_at", expireAfterSeconds=0)

    def hit(self, client: str, window_s: int, now: datetime, bucket: str = "") -> int:
        """Count one request of ``client`` in the current window; the count so far."""
        start = int(now.timestamp()) // window_s * window_s
        key = f"{bucket}|{client}|{start}" if bucket else f"{client}|{start}"
        expires = datetime.fromtimestamp(start, UTC) + timedelta(seconds=window_s * 2)
        for _ in range(3):
            try:
                doc = self.collection.find_one_and_update(
                    {"_id": key},
                    {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:  # two first hits of a window at once: count again
                continue
            if doc is None:
                # A Mongo-wire server may answer a racing upsert without the document
                # although it counted (seen under eight concurrent RSVPs): read it.
                doc = self.collection.find_one({"_id": key})
            if doc is not None:
                return int(doc["count"])
        return 0  # the counter would not settle: let this one request through

    def check(
        self, client: str, *, limit: int, window_s: int, bucket: str = "", what: str = "requests"
    ) -> None:
        """Count this request and refuse it (:class:`RateLimited`, 429 with
        ``Retry-After``) beyond ``limit`` per ``window_s``; ``limit <= 0`` disables."""
        if limit <= 0:
            return
        if self.hit(client, window_s, datetime.now(UTC), bucket) > limit:
            raise RateLimited(
                f"Too many {what} from this address; at most {limit} per {window_s} s.",
                retry_after_s=window_s,
            )

"""The MongoDB-counted rate limit under concurrent first hits of one window."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from pymongo import MongoClient

from shared.ratelimit import FixedWindowLimiter


def test_concurrent_first_hits_of_a_window_are_each_counted_and_never_fail(mongo):
    client = MongoClient(mongo.uri)
    try:
        limiter = FixedWindowLimiter(client[f"test_rl_{uuid.uuid4().hex[:8]}"]["rate_limits"])
        limiter.ensure_indexes()
        now = datetime.now(UTC)
        for round_ in range(5):  # new windows, so every round races on the first insert
            bucket = f"rsvp-{round_}"
            with ThreadPoolExecutor(16) as pool:
                counts = list(
                    pool.map(lambda _, b=bucket: limiter.hit("192.0.2.1", 60, now, b), range(32))
                )
            # Every hit gets its count so far (none fails), and each is counted once.
            assert all(1 <= count <= 32 for count in counts), counts
            stored = limiter.collection.find_one({"_id": {"$regex": f"^{bucket}\\|"}})
            assert stored is not None and stored["count"] == 32
    finally:
        client.close()

"""Creating the catalogue's topics at a worker's start survives a broker that
drops the connection midway (a leader killed, a restart): the fault campaign
saw a worker exit there instead of asking again."""

from __future__ import annotations

from typing import Any

from kafka.errors import KafkaConnectionError

from shared import bus
from shared.config import Settings


def test_ensure_topics_asks_again_when_the_broker_drops_the_connection_midway(kafka, monkeypatch):
    real_admin = bus.make_admin
    dropped: list[str] = []

    def admin_whose_first_listing_drops(settings: Settings) -> Any:
        admin = real_admin(settings)
        list_topics = admin.list_topics

        def listing() -> Any:
            if not dropped:
                dropped.append("list_topics")
                raise KafkaConnectionError("socket disconnected")
            return list_topics()

        admin.list_topics = listing
        return admin

    monkeypatch.setattr(bus, "make_admin", admin_whose_first_listing_drops)
    bus.ensure_topics(Settings(service="tests", kafka_bootstrap=kafka.bootstrap), timeout_s=30)
    assert dropped == ["list_topics"]
    assert set(bus.TOPIC_NAMES) <= set(
        real_admin(Settings(kafka_bootstrap=kafka.bootstrap)).list_topics()
    )

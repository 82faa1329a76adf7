"""Session fixtures: real Kafka, MongoDB and an SMTP sink (see ``tests/infra.py``);
each service's fixtures come from its module in ``tests/fixtures/``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.local.ports import free_port
from deploy.local.smtp_sink import SmtpSink
from shared.bus import ensure_topics
from shared.config import Settings
from tests.infra import (
    KafkaFactory,
    KafkaHandle,
    MongoHandle,
    infra_mode,
    start_kafka,
    start_mongo,
)

pytest_plugins = [
    "tests.fixtures.events",
    "tests.fixtures.invitations",
    "tests.fixtures.documents",
    "tests.fixtures.notifications",
    "tests.fixtures.catalogue",
    "tests.fixtures.surveys",
]


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaHandle]:
    """The session's Kafka broker; ``.bootstrap`` is its ``bootstrap.servers``."""
    handle, teardown = start_kafka(tmp_path_factory.mktemp("kafka"))
    try:
        yield handle
    finally:
        teardown()


@pytest.fixture(scope="session")
def mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoHandle]:
    """The session's MongoDB-wire server (a replica set); ``.uri`` connects to it."""
    handle, teardown = start_mongo(tmp_path_factory.mktemp("mongo"))
    try:
        yield handle
    finally:
        teardown()


@pytest.fixture(scope="session")
def topics(kafka: KafkaHandle) -> str:
    """Every catalogue topic exists on the session broker; returns its bootstrap."""
    ensure_topics(Settings(service="tests", kafka_bootstrap=kafka.bootstrap))
    return kafka.bootstrap


@pytest.fixture
def kafka_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaFactory]:
    """Call it for a broker of the test's own, to stop, kill or restart at will."""
    mode = infra_mode()
    if mode != "local":
        pytest.skip(f"kafka_factory starts local brokers; MLP_TEST_INFRA is {mode!r}.")
    factory = KafkaFactory(tmp_path_factory.mktemp("kafka-factory"))
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def smtp_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    """An SMTP sink on a free port delivering into an empty Maildir of its own."""
    sink = SmtpSink("127.0.0.1", free_port(), tmp_path_factory.mktemp("mail") / "Maildir")
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()

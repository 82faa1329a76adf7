"""Every service's MongoDB client counts its commands (``mlp_mongo_commands_total``),
transactions included, so a benchmark can say how many a business operation costs."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY, generate_latest
from pymongo.errors import OperationFailure

from shared.config import Settings
from shared.mongo import connect, in_transaction


def _count(command: str, metric: str = "mlp_mongo_commands_total") -> float:
    return REGISTRY.get_sample_value(metric, {"command": command}) or 0.0


def test_commands_and_transactions_are_counted(mongo):
    client = connect(Settings(service="tests", mongo_uri=mongo.uri))
    try:
        coll = client[f"test_counting_{uuid.uuid4().hex[:8]}"]["things"]
        coll.insert_one({"_id": "warm-up"})  # the connection exists
        before = {c: _count(c) for c in ("insert", "find", "commitTransaction")}

        coll.insert_one({"_id": 1})
        coll.insert_one({"_id": 2})
        assert coll.find_one({"_id": 1}) == {"_id": 1}
        in_transaction(client, lambda s: coll.insert_one({"_id": 3}, session=s))

        assert _count("insert") - before["insert"] == 3
        assert _count("find") - before["find"] == 1
        assert _count("commitTransaction") - before["commitTransaction"] == 1
        assert b'mlp_mongo_commands_total{command="insert"}' in generate_latest()
    finally:
        client.close()


def test_failed_commands_are_counted(mongo):
    client = connect(Settings(service="tests", mongo_uri=mongo.uri))
    try:
        coll = client[f"test_counting_{uuid.uuid4().hex[:8]}"]["things"]
        coll.insert_one({"_id": 1})
        before = _count("aggregate", "mlp_mongo_command_failures_total")
        with pytest.raises(OperationFailure):
            list(coll.aggregate([{"$noSuchStage": {}}]))
        assert _count("aggregate", "mlp_mongo_command_failures_total") - before == 1
    finally:
        client.close()

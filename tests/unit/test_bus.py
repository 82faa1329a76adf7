"""Where a worker connects and how it is a member of its group: its own MongoDB
when it has one, the consumer's session, and the worker's ``/readyz``."""

from __future__ import annotations

from shared.bus import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS
from shared.config import Env, common_settings
from shared.worker import Readiness, _status_app


def test_a_dead_member_is_noticed_in_seconds_and_heartbeats_fit_in_a_session():
    assert 6_000 <= SESSION_TIMEOUT_MS <= 10_000  # the broker refuses less than 6 s
    assert HEARTBEAT_INTERVAL_MS * 3 <= SESSION_TIMEOUT_MS


def _get(app, path: str) -> tuple[str, bytes]:
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response))
    return answer["status"], body


def test_readyz_says_starting_until_the_consumer_holds_its_partitions():
    readiness = Readiness()
    app = _status_app(readiness)
    assert _get(app, "/readyz")[0].startswith("503")
    readiness.on_partitions_assigned([])  # more workers than partitions: none, but joined
    status, body = _get(app, "/readyz")
    assert status.startswith("200") and b"ready" in body
    assert _get(app, "/metrics")[0].startswith("200")


def test_a_service_of_its_own_mongodb_uses_it_and_the_others_keep_the_shared_one():
    env = Env(
        {
            "MLP_MONGO_URI": "mongodb://shared:27017/",
            "MLP_INVITATIONS_MONGO_URI": "mongodb://invitations-db:27017/",
        }
    )
    assert common_settings(env, "invitations", 8002)["mongo_uri"] == (
        "mongodb://invitations-db:27017/"
    )
    assert common_settings(env, "events", 8001)["mongo_uri"] == "mongodb://shared:27017/"

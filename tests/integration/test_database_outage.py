"""A request that meets its database down, restarting or cut off mid-answer is
answered 503 problem+json with Retry-After, never 500: the fault campaign saw
RSVPs answered 500 while the invitations database was unreachable."""

from __future__ import annotations

from dataclasses import replace

from deploy.local.mongo import MongoServer
from deploy.local.ports import free_port
from devkit.auth import auth
from services.events.app import create_app


def test_a_request_while_the_database_is_away_is_answered_503(events_settings, tmp_path):
    server = MongoServer(free_port(), tmp_path / "mongo").start()
    try:
        app = create_app(replace(events_settings, mongo_uri=server.uri))
        client = app.test_client()
        assert client.get("/v1/events", headers=auth("secretariat")).status_code == 200
        server.stop()
        answer = client.get("/v1/events", headers=auth("secretariat"))
        assert answer.status_code == 503, answer.get_data(as_text=True)
        assert answer.content_type == "application/problem+json"
        assert answer.headers["Retry-After"] == "5"
        assert "database" in answer.get_json()["detail"]
        assert "Traceback" not in answer.get_data(as_text=True)
    finally:
        server.stop()
        app.extensions["mlp"].client.close()

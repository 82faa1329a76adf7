"""The partner contract: the checked-in AsyncAPI, JSON Schemas and OpenAPI
documents are what the code generates; schema changes stay backward
compatible; and what the events service really produces (outbox rows, and the
records on real Kafka with their CloudEvents headers) validates against them."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from deploy import contracts
from deploy.catalog import names as deployed_names
from devkit.auth import auth
from devkit.env import service_env
from devkit.kafka import collect, partner_consumer
from devkit.samples import event_body, proposal_body
from shared.bus import make_producer
from shared.outbox import OutboxRelay
from shared.topics import TOPIC_BY_NAME, TOPICS
from tests.helpers import running_app, service_settings

ROOT = Path(__file__).resolve().parents[2]


def test_contract_files_are_fresh():
    assert contracts.stale() == [], "run: make contracts"


def test_current_schemas_are_compatible_with_the_checked_in_ones():
    assert (
        contracts.compatibility(contracts.checked_in_schemas(), contracts.current_schemas()) == []
    )


def test_check_cli_passes_against_the_last_commit():
    out = subprocess.run(
        [sys.executable, "-m", "deploy.contracts", "check", "--against", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr


def test_every_partner_topic_of_a_deployed_service_has_a_schema_and_only_those_are_in_asyncapi():
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    assert doc["asyncapi"] == "3.0.0"
    produced = {t.name for t in TOPICS if t.producer in deployed_names() and t.partner_visible}
    assert produced <= set(contracts.topic_payloads())
    assert set(doc["channels"]) == produced
    assert not [c for c in doc["channels"] if c.startswith(("internal.", "dlq."))]
    for name, channel in doc["channels"].items():
        assert channel["address"] == name
    for op in doc["operations"].values():
        assert op["action"] in {"send", "receive"}


def _refs(node, out):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.append(node["$ref"])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)
    return out


def test_every_asyncapi_reference_resolves_and_examples_validate():
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    for ref in _refs(doc, []):
        target = doc
        for part in ref.removeprefix("#/").split("/"):
            assert part in target, ref
            target = target[part]
    for topic, message in doc["components"]["messages"].items():
        schema = json.loads((ROOT / "docs" / "schemas" / f"{topic}.json").read_text())
        for ex in message["examples"]:
            assert contracts.payload_errors(topic, ex["payload"]) == []
            Draft202012Validator(schema).validate(ex["payload"])


def test_each_json_schema_is_a_valid_2020_12_schema():
    for path in (ROOT / "docs" / "schemas").glob("*.json"):
        Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_openapi_documents_equal_what_the_running_apps_serve(kafka, mongo):
    for service in deployed_names():
        settings = service_settings(service, service_env(service, kafka.bootstrap, mongo.uri))
        module = __import__(f"services.{service}.app", fromlist=["create_app"])
        with running_app(module.create_app, settings) as app:
            served = app.test_client().get("/openapi.json").get_json()
            checked_in = json.loads((ROOT / "docs" / "openapi" / f"{service}.json").read_text())
            assert served == checked_in


# --- staleness and compatibility, each shown failing on a broken copy ---------


def test_a_stale_file_is_reported(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    monkeypatch.setattr(contracts, "ROOT", tmp_path)
    monkeypatch.setattr(contracts, "SCHEMAS", tmp_path / "docs" / "schemas")
    monkeypatch.setattr(contracts, "ASYNCAPI", tmp_path / "docs" / "asyncapi.yaml")
    monkeypatch.setattr(contracts, "OPENAPI", tmp_path / "docs" / "openapi")
    assert contracts.stale() == []
    schema = tmp_path / "docs" / "schemas" / "event.created.json"
    schema.write_text(schema.read_text().replace('"title"', '"headline"', 1))
    (tmp_path / "docs" / "openapi" / "events.json").write_text("{}\n")
    (tmp_path / "docs" / "schemas" / "event.renamed.json").write_text("{}\n")
    assert set(contracts.stale()) == {
        "docs/schemas/event.created.json",
        "docs/openapi/events.json",
        "docs/schemas/event.renamed.json (no longer generated)",
    }


def _current():
    return contracts.json_schema("event.updated", contracts.topic_payloads()["event.updated"])


def _props(schema):
    return schema["properties"]


BREAKING = {
    "field removed": lambda s: _props(s).pop("programme"),
    "type changed": lambda s: _props(s)["capacity"].update(type="string"),
    "optional field made required": lambda s: s["required"].append("summary"),
    "new required field": lambda s: (
        _props(s).update(budget={"type": "integer"}),
        s["required"].append("budget"),
    ),
    "nested field removed": lambda s: _props(s["$defs"]["Venue"]).pop("city"),
    "format changed": lambda s: _props(s)["starts_on"].update(format="date-time"),
    "enum accepts new values": lambda s: _props(s)["status"]["enum"].append("postponed"),
    "made nullable": lambda s: _props(s)["event_id"].update(type=["string", "null"]),
    "list items changed": lambda s: _props(s)["tags"]["items"].update(type="integer"),
    "topic schema removed": None,
}
EXPECTED = {
    "field removed": "programme: field removed",
    "type changed": "capacity: type changed",
    "optional field made required": "summary: optional field made required",
    "new required field": "budget: new required field",
    "nested field removed": "venue.city: field removed",
    "format changed": "starts_on: format changed",
    "enum accepts new values": "status: enum accepts new values ['postponed']",
    "made nullable": "event_id: type changed from ['string'] to ['null', 'string']",
    "list items changed": "tags[]: type changed",
    "topic schema removed": "event.updated: topic schema removed",
}


@pytest.mark.parametrize("case", list(BREAKING))
def test_compatibility_check_reports_a_breaking_change(case):
    old = _current()
    new = copy.deepcopy(old)
    if BREAKING[case] is None:
        problems = contracts.compatibility({"event.updated": old}, {})
    else:
        BREAKING[case](new)
        problems = contracts.compatibility({"event.updated": old}, {"event.updated": new})
    assert any(EXPECTED[case] in p for p in problems), problems


def test_adding_an_optional_field_or_narrowing_is_compatible():
    old = _current()
    new = copy.deepcopy(old)
    _props(new)["online_url"] = {"type": ["string", "null"]}
    _props(new["$defs"]["Venue"])["room"] = {"type": "string"}
    _props(new)["visibility"]["enum"].remove("public")
    assert contracts.compatibility({"event.updated": old}, {"event.updated": new}) == []


def test_writer_refuses_to_overwrite_with_a_breaking_change(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    monkeypatch.setattr(contracts, "SCHEMAS", tmp_path / "docs" / "schemas")
    path = tmp_path / "docs" / "schemas" / "event.created.json"
    old = json.loads(path.read_text())
    old["properties"]["legacy_code"] = {"type": "string"}  # the code no longer has it
    path.write_text(json.dumps(old))
    assert contracts.main(["write"]) == 1
    assert "legacy_code" in path.read_text()


# --- what the events service produces validates -------------------------------


def _drive_every_event_topic(client) -> None:
    sec = auth("secretariat")
    created = client.post("/v1/events", json=event_body(), headers=sec)
    assert created.status_code == 201, created.get_json()
    event = created.get_json()
    patched = client.patch(
        f"/v1/events/{event['id']}",
        json={"capacity": None, "venue": None, "tags": []},
        headers={**sec, "If-Match": created.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.get_json()
    assert client.post(f"/v1/events/{event['id']}/publish", headers=sec).status_code == 200
    assert client.post(f"/v1/events/{event['id']}/complete", headers=sec).status_code == 200
    other = client.post(
        "/v1/events", json=event_body(registration_deadline=None), headers=sec
    ).get_json()
    cancelled = client.post(
        f"/v1/events/{other['id']}/cancel", json={"reason": "Host withdrew"}, headers=sec
    )
    assert cancelled.status_code == 200
    coordinator = auth("coordinator", country="LT", email="coordinator@example.lt")
    for action, body in (("accept", {"programme": "employment"}), ("decline", {"reason": "No"})):
        proposal = client.post("/v1/proposals", json=proposal_body(), headers=coordinator)
        assert proposal.status_code == 201, proposal.get_json()
        decided = client.post(
            f"/v1/proposals/{proposal.get_json()['id']}/{action}", json=body, headers=sec
        )
        assert decided.status_code == 200, decided.get_json()


def test_every_record_the_events_service_produces_validates(events_app, topics):
    events_topics = sorted(
        name
        for name in contracts.topic_payloads()
        if TOPIC_BY_NAME[name].producer == "events" and TOPIC_BY_NAME[name].partner_visible
    )
    consumer = partner_consumer(topics, *events_topics)
    try:
        _drive_every_event_topic(events_app.test_client())
        ctx = events_app.extensions["mlp"]
        rows = list(ctx.db["outbox"].find())
        partner_rows = [r for r in rows if not r["topic"].startswith("internal.")]
        assert {r["topic"] for r in partner_rows} == set(events_topics)
        for row in rows:
            assert contracts.payload_errors(row["topic"], row["payload"]) == []

        relay = OutboxRelay(ctx.db, lambda: make_producer(ctx.settings))
        assert relay.drain() == len(rows)
        relay._reset_producer()
        ids = {r["ce_id"] for r in partner_rows}
        records = collect(
            consumer,
            lambda got: ids <= {dict(x.headers).get("ce_id", b"").decode() for x in got},
        )
    finally:
        consumer.close()
    headers_schema = Draft202012Validator(contracts.CE_HEADERS)
    mine = [r for r in records if dict(r.headers).get("ce_id", b"").decode() in ids]
    assert len(mine) == len(partner_rows)
    for record in mine:
        headers = {k: v.decode() for k, v in record.headers}
        assert list(headers_schema.iter_errors(headers)) == []
        assert headers["ce_type"] == record.topic
        assert contracts.payload_errors(record.topic, json.loads(record.value)) == []


def test_a_payload_that_breaks_its_schema_is_reported():
    good = contracts.example(contracts.checked_in_schemas()["event.created"])
    assert contracts.payload_errors("event.created", good) == []
    assert any(
        "'event_id' is a required" in e
        for e in contracts.payload_errors(
            "event.created", {k: v for k, v in good.items() if k != "event_id"}
        )
    )
    assert any(
        "is not of type 'integer'" in e
        for e in contracts.payload_errors("event.created", {**good, "version": "3"})
    )
    assert any(
        "email" in e
        for e in contracts.payload_errors(
            "event.created",
            {**good, "email": "a@b.example"},  # undeclared (personal) data
        )
    )
    assert any("no payload schema" in e for e in contracts.payload_errors("event.renamed", good))

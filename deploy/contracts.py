"""The partner contract, generated from the code (``make contracts``):

- ``docs/schemas/<topic>.json``: a JSON Schema (2020-12) per topic payload, from
  the published marshmallow schemas the topic catalogue names (``shared/payloads``);
- ``docs/asyncapi.yaml``: AsyncAPI 3.0 for every partner-visible topic (no
  ``internal.`` or ``dlq.`` topics), CloudEvents headers, Kafka key;
- ``docs/openapi/<service>.json``: each service's OpenAPI document, built from
  its blueprints without a database (``shared.web.create_api_app``).

``python -m deploy.contracts`` writes them, refusing a backward-incompatible
schema change (pass ``--allow-breaking`` only together with a new topic);
``python -m deploy.contracts check [--against GIT_REF]`` fails when the files
are stale or a schema broke compatibility. The services slot in through
:mod:`deploy.catalog`.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from deploy.catalog import names as deployed_names
from shared.sealing import SEALED, SealedSchema, sealed_fields
from shared.topics import EVERY_SERVICE, TOPICS
from shared.web import create_api_app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCHEMAS = DOCS / "schemas"
ASYNCAPI = DOCS / "asyncapi.yaml"
OPENAPI = DOCS / "openapi"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "https://mlp-ops.example.org/schemas/"
TOPIC_BY_NAME = {t.name: t for t in TOPICS}

CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary mode, as record headers.",
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique per event; deduplicate on it."},
        "ce_source": {
            "type": "string",
            "description": "`/mlp/<service>`",
            "example": "/mlp/events",
        },
        "ce_type": {"type": "string", "description": "The topic name, e.g. `event.published`."},
        "ce_time": {"type": "string", "format": "date-time", "description": "RFC 3339, UTC."},
        "ce_subject": {"type": "string", "description": "The id of the changed resource."},
        "ce_correlationid": {"type": "string", "description": "Ties together one chain of work."},
        "ce_causationid": {"type": "string", "description": "The id of what caused this event."},
        "ce_traceparent": {"type": "string", "description": "W3C trace context (extension)."},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context."},
    },
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
}


# --- JSON Schema from marshmallow -----------------------------------------


def topic_payloads() -> dict[str, type[Schema]]:
    """``topic -> marshmallow schema`` of every topic of a deployed service."""
    deployed = set(deployed_names())
    return {
        t.name: t.schema
        for t in sorted(TOPICS, key=lambda t: t.name)
        if t.schema is not None and (t.producer in deployed or t.producer == EVERY_SERVICE)
    }


def _producer_text(producer: str) -> str:
    return "every service" if producer == EVERY_SERVICE else f"the {producer} service"


def _schema_name(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[: -len("Schema")] if name.endswith("Schema") and name != "Schema" else name


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                v.replace("#/components/schemas/", "#/$defs/")
                if k == "$ref" and isinstance(v, str)
                else _rewrite_refs(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _open(node: Any) -> Any:
    """Drop ``additionalProperties: false``: partners must ignore fields they do not
    know, so that adding an optional field is not a breaking change."""
    if isinstance(node, dict):
        return {
            k: _open(v) for k, v in node.items() if not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [_open(v) for v in node]
    return node


def json_schema(topic: str, schema: type[Schema], *, strict: bool = False) -> dict[str, Any]:
    """The JSON Schema of ``topic``'s payload; ``strict`` keeps
    ``additionalProperties: false`` (the contract tests use it to catch a producer
    sending fields its schema does not declare)."""
    spec = APISpec("payloads", "1", "3.1.0", plugins=[MarshmallowPlugin()])
    name = _schema_name(schema)
    spec.components.schema(name, schema=schema)
    sealed = sealed_fields(topic)
    if sealed:
        spec.components.schema(_schema_name(SealedSchema), schema=SealedSchema)
    components = copy.deepcopy(spec.to_dict()["components"]["schemas"])
    root = components.pop(name)
    if sealed:
        _as_sealed(root, sealed)
    out: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": f"{SCHEMA_ID_BASE}{topic}.json",
        "title": f"{topic} payload",
        "description": TOPIC_BY_NAME[topic].description,
        **root,
    }
    if components:
        out["$defs"] = dict(sorted(components.items()))
    out = _rewrite_refs(out)
    return out if strict else _open(out)


SEALED_DESCRIPTION = (
    "The fields marked `x-mlp-sealed`, as one JSON object encrypted with AES-256-GCM "
    '(shared/sealing.py); the associated data is `["mlp-sealed/1", topic, ce_id, kid]`. '
    "Every record of this topic carries it (optional here only because a new required "
    "field would break the schema's compatibility)."
)


def _as_sealed(root: dict[str, Any], sealed: tuple[str, ...]) -> None:
    """Describe the payload as it travels: each personal field blank (``""`` or
    ``[]``), its value in the ``sealed`` blob. The fields stay, with their types
    and required-ness, so the schema remains compatible with the clear one."""
    properties = root["properties"]
    for name in sealed:
        prop = properties[name]
        blank: dict[str, Any] = {"maxItems": 0} if "array" in _types(prop) else {"const": ""}
        prop.update(
            blank,
            description="Personal: travels blank; the value is inside `sealed`.",
            **{"x-mlp-sealed": True},
        )
    properties[SEALED] = {
        "$ref": f"#/components/schemas/{_schema_name(SealedSchema)}",
        "description": SEALED_DESCRIPTION,
    }


_WHOLE = object()


def resolve(schema: dict[str, Any], node: Any = _WHOLE) -> Any:
    """``node`` (default: ``schema``) with every local ``$ref`` inlined."""
    node = schema if node is _WHOLE else node
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = schema
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(schema, target)
        return {k: resolve(schema, v) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [resolve(schema, v) for v in node]
    return node


def example(schema: dict[str, Any], node: Any = None, name: str = "") -> Any:
    """A plausible example value of ``node`` (default: the whole schema)."""
    node = resolve(schema) if node is None else node
    if "example" in node:
        return node["example"]
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    if "anyOf" in node:
        return example(schema, node["anyOf"][0], name)
    types = node.get("type", "object")
    kind = next((t for t in types if t != "null"), "null") if isinstance(types, list) else types
    if kind == "object":
        props = node.get("properties", {})
        return {k: example(schema, v, k) for k, v in props.items()}
    if kind == "array":
        return [example(schema, node.get("items", {}), name)]
    if kind == "integer":
        return 3 if name == "version" else node.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "number":
        return 1.0
    fmt = node.get("format")
    if fmt == "date":
        return "2027-03-10"
    if fmt == "date-time":
        return "2027-02-20T15:00:00Z"
    if name.endswith("_id") or name == "id":
        return "0a4b4c9e-6f2e-4f6b-9a52-3f1c2d9b7e10"
    if name == "sha256":
        return "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    return node.get("default") or name.replace("_", " ") or "text"


# --- AsyncAPI -------------------------------------------------------------


def asyncapi(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    components_schemas: dict[str, Any] = {"CloudEventsHeaders": CE_HEADERS}
    for topic, schema in schemas.items():
        info = TOPIC_BY_NAME[topic]
        if not info.partner_visible:
            continue
        payload = {k: v for k, v in schema.items() if k not in {"$schema", "$id"}}
        payload = json.loads(
            json.dumps(payload).replace("#/$defs/", f"#/components/schemas/{topic}/$defs/")
        )
        components_schemas[topic] = payload
        messages[topic] = {
            "name": topic,
            "title": topic,
            "summary": info.description,
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
            "payload": {"$ref": f"#/components/schemas/{topic}"},
            "correlationId": {"location": "$message.header#/ce_correlationid"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": info.key},
                    "bindingVersion": "0.5.0",
                }
            },
            "examples": [{"name": "example", "payload": example(schema)}],
        }
        channels[topic] = {
            "address": topic,
            "title": topic,
            "description": f"{info.description} Produced by {_producer_text(info.producer)}.",
            "messages": {topic: {"$ref": f"#/components/messages/{topic}"}},
        }
        operations[f"receive.{topic}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{topic}"},
            "summary": f"Consume {topic}.",
            "messages": [{"$ref": f"#/channels/{topic}/messages/{topic}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "MLP Ops partner topics",
            "version": "1.0.0",
            "description": (
                "Every record is a CloudEvents 1.0 event in Kafka binary mode: the value is the "
                "JSON payload, the attributes are `ce_*` headers, the key is the programme event "
                "id (ordered per key within a partition). Delivery is at least once: deduplicate "
                "on `ce_id`; ignore payload fields you do not know. Generated by "
                "`make contracts` from the marshmallow schemas; see docs/partners.md."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "kafka.example.org:9094",
                "protocol": "kafka-secure",
                "description": "Ask the programme secretariat for the address and credentials.",
                "security": [{"$ref": "#/components/securitySchemes/partner"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": components_schemas,
            "messages": messages,
            "securitySchemes": {
                "partner": {
                    "type": "scramSha512",
                    "description": (
                        "SASL SCRAM-SHA-512 as your principal `partner-<name>`: it reads these "
                        "topics only, with consumer groups named `partner-<name>.<anything>`."
                    ),
                }
            },
        },
    }


# --- OpenAPI --------------------------------------------------------------


def openapi(service: str) -> dict[str, Any]:
    """The service's OpenAPI document, as its app serves it at ``/openapi.json``."""
    api_module = importlib.import_module(f"services.{service}.api")
    _app, api = create_api_app(service, title=f"MLP Ops {service}", blueprints=[api_module.blp])
    return api.spec.to_dict()


# --- files ----------------------------------------------------------------


def _json(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def current_schemas() -> dict[str, dict[str, Any]]:
    return {topic: json_schema(topic, schema) for topic, schema in topic_payloads().items()}


def rendered() -> dict[Path, str]:
    schemas = current_schemas()
    files = {SCHEMAS / f"{topic}.json": _json(s) for topic, s in schemas.items()}
    files[ASYNCAPI] = (
        "# Generated by `make contracts` (deploy/contracts.py); do not edit.\n"
        + yaml.dump(
            asyncapi(schemas), Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True
        )
    )
    for service in deployed_names():
        files[OPENAPI / f"{service}.json"] = _json(openapi(service))
    return files


def stale() -> list[str]:
    out = []
    expected = rendered()
    for path, text in expected.items():
        if not path.exists() or path.read_text() != text:
            out.append(str(path.relative_to(ROOT)))
    for path in SCHEMAS.glob("*.json"):
        if path not in expected:
            out.append(f"{path.relative_to(ROOT)} (no longer generated)")
    return out


# --- compatibility --------------------------------------------------------


def _types(node: dict[str, Any]) -> set[str]:
    if "anyOf" in node:
        out: set[str] = set()
        for alt in node["anyOf"]:
            out |= _types(alt)
        return out
    t = node.get("type")
    if t is None:
        return {"object"} if "properties" in node else {"any"}
    return set(t) if isinstance(t, list) else {t}


def _object_part(node: dict[str, Any]) -> dict[str, Any] | None:
    if "properties" in node:
        return node
    for alt in node.get("anyOf", []):
        if "properties" in alt:
            return alt
    return None


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """Why a record valid under ``new`` may break a consumer built on ``old``:
    a field removed, a type changed or widened (e.g. made nullable), a format or
    enum changed, an optional field made required, a new required field. Adding
    an optional field is compatible. Both schemas are resolved (no ``$ref``)."""
    where = path or "payload"
    problems: list[str] = []
    old_types, new_types = _types(old), _types(new)
    if "any" not in old_types and not new_types <= old_types:
        problems.append(f"{where}: type changed from {sorted(old_types)} to {sorted(new_types)}")
    if old.get("format") != new.get("format"):
        problems.append(f"{where}: format changed from {old.get('format')} to {new.get('format')}")
    if "enum" in old and not set(new.get("enum", [object()])) <= set(old["enum"]):
        added = sorted(set(new.get("enum", [])) - set(old["enum"])) or "any value"
        problems.append(f"{where}: enum accepts new values {added}")
    old_obj, new_obj = _object_part(old), _object_part(new)
    if old_obj is not None and new_obj is not None:
        old_props, new_props = old_obj.get("properties", {}), new_obj.get("properties", {})
        old_req, new_req = set(old_obj.get("required", [])), set(new_obj.get("required", []))
        for name in sorted(old_props):
            field = f"{path}.{name}" if path else name
            if name not in new_props:
                problems.append(f"{field}: field removed")
            else:
                problems += breaking_changes(old_props[name], new_props[name], field)
        for name in sorted(new_req - old_req):
            field = f"{path}.{name}" if path else name
            if name in old_props:
                problems.append(f"{field}: optional field made required")
            else:
                problems.append(f"{field}: new required field")
    if "items" in old and "items" in new:
        problems += breaking_changes(old["items"], new["items"], f"{where}[]")
    return problems


def compatibility(
    baseline: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]
) -> list[str]:
    """Breaking changes of ``current`` against ``baseline`` (``topic -> schema``)."""
    problems = []
    for topic, old in baseline.items():
        if topic not in current:
            problems.append(f"{topic}: topic schema removed")
            continue
        problems += [
            f"{topic}: {p}" for p in breaking_changes(resolve(old), resolve(current[topic]))
        ]
    return problems


def checked_in_schemas(ref: str | None = None) -> dict[str, dict[str, Any]]:
    """The schemas in ``docs/schemas`` (of the work tree, or of git ``ref``)."""
    if ref is None:
        return {p.stem: json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.json"))}
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{ref}:docs/schemas"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    out = {}
    for name in listing.stdout.split():
        if name.endswith(".json"):
            text = subprocess.run(
                ["git", "show", f"{ref}:docs/schemas/{name}"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            out[name[: -len(".json")]] = json.loads(text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.contracts")
    parser.add_argument("command", nargs="?", choices=["write", "check"], default="write")
    parser.add_argument("--against", help="check compatibility against this git ref too")
    parser.add_argument("--allow-breaking", action="store_true")
    args = parser.parse_args(argv)
    current = current_schemas()
    problems = compatibility(checked_in_schemas(), current)
    if args.against:
        problems += compatibility(checked_in_schemas(args.against), current)
    if args.command == "check":
        problems += [f"{p} is stale: run make contracts" for p in stale()]
        for p in problems:
            sys.stderr.write(p + "\n")
        return 1 if problems else 0
    if problems and not args.allow_breaking:
        for p in problems:
            sys.stderr.write(f"breaking: {p}\n")
        sys.stderr.write("Not written: a breaking payload change needs a new topic version.\n")
        return 1
    for path in SCHEMAS.glob("*.json"):
        path.unlink()
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# --- validating produced records ---------------------------------------------

_validators: dict[str, Any] = {}


def validator(topic: str) -> Any | None:
    """A strict JSON Schema validator of ``topic``'s payload; None without a schema."""
    from jsonschema import Draft202012Validator

    if topic not in _validators:
        schema = topic_payloads().get(topic)
        _validators[topic] = (
            None
            if schema is None
            else Draft202012Validator(
                json_schema(topic, schema, strict=True),
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
        )
    return _validators[topic]


def payload_errors(topic: str, payload: Any) -> list[str]:
    """Why ``payload`` (as it travels: JSON) breaks ``topic``'s schema; a topic
    without a schema is itself an error unless it is a dead-letter topic."""
    if topic.startswith("dlq."):
        return []
    check = validator(topic)
    if check is None:
        return [f"{topic}: no payload schema (TOPIC_PAYLOADS of its producer)"]
    wire = json.loads(json.dumps(payload, default=str))
    return [
        f"{topic}: {'/'.join(map(str, e.absolute_path)) or 'payload'}: {e.message}"
        for e in check.iter_errors(wire)
    ]

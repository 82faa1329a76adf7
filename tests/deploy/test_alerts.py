"""The Prometheus alert rules and the Grafana dashboard watch metrics the code
defines: every name they use is in the registry once every service's app and
worker modules are imported, and every rule says what, how long, how bad and
why."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

from deploy import catalog

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "mlp-ops.json"
METRIC = re.compile(r"\bmlp_[a-z0-9_]+\b")
# What each kind of metric is queried as (prometheus_client's family name is the base).
SERIES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def defined_metrics() -> set[str]:
    """The series names of every ``mlp_`` metric the services' processes define."""
    for s in catalog.DEPLOYED:
        importlib.import_module(f"services.{s.name}.app")
        importlib.import_module(f"services.{s.name}.worker")
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("mlp_"):
            names |= {family.name + suffix for suffix in SERIES.get(family.type, ("",))}
    return names


def rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in doc["groups"] for rule in group["rules"]]


def rule_problems(doc: dict[str, Any], known: set[str]) -> list[str]:
    """What is wrong with the alert rules: missing fields, metrics no code defines."""
    problems = []
    for rule in rules(doc):
        name = rule.get("alert", "?")
        for field in ("alert", "expr", "for"):
            if rule.get(field) in (None, ""):
                problems.append(f"{name}: no {field}")
        if rule.get("labels", {}).get("severity") not in {"warning", "critical"}:
            problems.append(f"{name}: labels.severity is not warning or critical")
        if not rule.get("annotations", {}).get("summary"):
            problems.append(f"{name}: no annotations.summary")
        problems += [f"{name}: unknown metric {m}" for m in unknown(rule.get("expr", ""), known)]
    return problems


def dashboard_expressions(doc: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in doc["panels"] for target in panel.get("targets", [])]


def unknown(expr: str, known: set[str]) -> list[str]:
    return sorted(set(METRIC.findall(expr)) - known)


def test_every_alert_rule_is_complete_and_watches_metrics_that_exist():
    doc = yaml.safe_load(ALERTS.read_text())
    assert rules(doc)
    assert rule_problems(doc, defined_metrics()) == []


def test_the_alerts_cover_backlog_age_lag_dead_letters_mail_and_webhook_disabling():
    watched = {
        m
        for rule in rules(yaml.safe_load(ALERTS.read_text()))
        for m in METRIC.findall(rule["expr"])
    }
    assert {
        "mlp_outbox_oldest_age_seconds",
        "mlp_consumer_lag",
        "mlp_consumer_records_total",  # outcome="dead_lettered": the DLQ's inflow
        "mlp_notifications_mails_total",
        "mlp_notifications_webhook_subscriptions_disabled_total",
    } <= watched


def test_every_dashboard_panel_queries_metrics_that_exist():
    doc = json.loads(DASHBOARD.read_text())
    known = defined_metrics()
    expressions = dashboard_expressions(doc)
    assert len(expressions) == len(doc["panels"]) and expressions
    assert {e: unknown(e, known) for e in expressions if unknown(e, known)} == {}
    ids = [panel["id"] for panel in doc["panels"]]
    assert len(set(ids)) == len(ids)
    shown = {m for e in expressions for m in METRIC.findall(e)}
    assert {"mlp_http_requests_total", "mlp_http_request_seconds_bucket"} <= shown
    assert {"mlp_outbox_oldest_age_seconds", "mlp_consumer_lag"} <= shown


def test_the_check_catches_an_unknown_metric_and_an_incomplete_rule():
    doc = {
        "groups": [
            {
                "rules": [
                    {"alert": "Typo", "expr": "mlp_outbox_backlogg > 1", "for": "5m"},
                ]
            }
        ]
    }
    assert rule_problems(doc, defined_metrics()) == [
        "Typo: labels.severity is not warning or critical",
        "Typo: no annotations.summary",
        "Typo: unknown metric mlp_outbox_backlogg",
    ]

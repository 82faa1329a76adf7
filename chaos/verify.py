"""What the campaign checks once the system is quiet, from the outside: the mails
in the sink, the partners' webhook requests, the records on the topics (as a
partner reads them), the owners' APIs, and the read models beside them.

Counting an effect that should happen ``expected`` times: ``lost`` is how many
of those never came, ``duplicated`` how many came beyond them as separate
effects (another Message-ID, another webhook-id), ``resent`` how many came
again as the same effect (the same Message-ID: a mail sent twice when a worker
died between the SMTP answer and noting it; mail clients show it once)."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pymongo import MongoClient

from chaos.faults import Injected
from chaos.mailsink import Mail
from chaos.system import System
from chaos.workload import SUBSCRIPTIONS, Calls, Programme, Workload
from deploy import catalog
from devkit.kafka import header
from shared.config import Settings
from shared.dlq import RedriveLog
from shared.ops import dlq_depth
from shared.topics import TOPICS, dead_letter_topic

STATUS_MAILS = {  # topic -> the mail each record causes
    "invitation.accepted": "accepted",
    "invitation.declined": "declined",
    "invitation.waitlisted": "waitlisted",
    "invitation.revoked": "revoked",
}
GRACE_S = 45.0  # after an outage ends, answers may still be the outage's


@dataclass
class Tally:
    """Expected effects against those seen, for one kind of effect."""

    expected: int = 0
    seen: int = 0
    lost: int = 0
    duplicated: int = 0
    resent: int = 0
    examples: list[str] = field(default_factory=list)

    def count(self, what: str, expected: int, ids: list[str]) -> None:
        """``ids``: the effect's identity (Message-ID, webhook-id) of each arrival."""
        distinct = len(set(ids))
        self.expected += expected
        self.seen += distinct
        lost, extra = max(0, expected - distinct), max(0, distinct - expected)
        self.lost += lost
        self.duplicated += extra
        self.resent += len(ids) - distinct
        if (lost or extra) and len(self.examples) < 5:
            self.examples.append(
                f"{what}: expected {expected}, came {distinct} ({len(ids)} in all)"
            )


@dataclass
class Records:
    """The records of the topics, as a partner consumer reads them (``ce_id`` once)."""

    by_topic: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    out_of_order: list[str] = field(default_factory=list)


def read_topics(bootstrap: str, topics: Iterable[str], timeout_s: float = 120.0) -> Records:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000
    )
    out = Records()
    try:
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        seen: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000, max_records=5000).values():
                for r in batch:
                    ce_id = header(r, "ce_id") or ""
                    if ce_id in seen:
                        continue
                    seen.add(ce_id)
                    row = {
                        "topic": r.topic,
                        "partition": r.partition,
                        "offset": r.offset,
                        "ce_id": ce_id,
                        "data": json.loads(r.value),
                    }
                    out.by_topic.setdefault(r.topic, []).append(row)
    finally:
        consumer.close()
    for topic, rows in out.by_topic.items():
        out.out_of_order += _disorder(topic, rows, lambda row: (row["partition"], row["offset"]))
    return out


def _subject(data: dict[str, Any]) -> str:
    """What a record's ``version`` counts the changes of."""
    for name in ("invitation_id", "document_id", "practice_id", "notification_id", "event_id"):
        if data.get(name):
            return f"{name}={data[name]}"
    return "?"


def _disorder(topic: str, rows: list[dict[str, Any]], order: Any) -> list[str]:
    """Where a subject's records came with a version lower than one before it."""
    last: dict[str, int] = {}
    found = []
    for row in sorted(rows, key=order):
        version = row["data"].get("version")
        if not isinstance(version, int):
            continue
        subject = _subject(row["data"])
        if version < last.get(subject, -1):
            found.append(f"{topic} {subject}: version {version} after {last[subject]}")
        last[subject] = max(version, last.get(subject, -1))
    return found


def invitations_by_event(workload: Workload, event_ids: Iterable[str]) -> dict[str, list[dict]]:
    return {event_id: workload.invitations_of(event_id) for event_id in event_ids}


def check_mails(
    mails: list[Mail],
    invitations: dict[str, list[dict]],
    records: Records,
    programme: Programme,
) -> dict[str, Tally]:
    by_key: dict[tuple[str, str], list[Mail]] = defaultdict(list)
    for mail in mails:
        by_key[(mail.template, mail.recipient)].append(mail)
    email_of = {inv["id"]: inv["email"].lower() for items in invitations.values() for inv in items}
    tallies: dict[str, Tally] = defaultdict(Tally)
    for items in invitations.values():
        for inv in items:
            email = inv["email"].lower()
            tallies["invitation"].count(
                f"invitation {email}", 1, [m.message_id for m in by_key[("invitation", email)]]
            )
    expected: Counter[tuple[str, str]] = Counter()
    for topic, template in STATUS_MAILS.items():
        for row in records.by_topic.get(topic, []):
            data = row["data"]
            email = email_of.get(data.get("invitation_id", ""))
            if email is None:
                continue
            chosen = "promoted" if template == "accepted" and data.get("promoted") else template
            expected[(chosen, email)] += 1
    for template in ("accepted", "promoted", "declined", "waitlisted", "revoked"):
        keys = {k for k in expected if k[0] == template} | {k for k in by_key if k[0] == template}
        for key in sorted(keys):
            tallies[template].count(
                f"{template} {key[1]}", expected[key], [m.message_id for m in by_key[key]]
            )
    for template, method, events in (
        ("changed", "REQUEST", programme.changed),
        ("cancelled", "CANCEL", programme.cancelled),
    ):
        tally = tallies[template]
        for event_id in events:
            involved = programme.involved.get(event_id, [])
            for email in involved:
                arrived = [
                    m
                    for m in by_key[(template, email)]
                    if m.calendar_uid and m.calendar_uid.startswith(event_id)
                ]
                wrong = [m for m in arrived if method and m.calendar_method != method]
                tally.count(f"{template} {email}", 1, [m.message_id for m in arrived])
                if wrong:
                    tally.duplicated += len(wrong)
                    tally.examples.append(f"{template} {email}: METHOD {wrong[0].calendar_method}")
    return dict(tallies)


def check_webhooks(
    system: System, records: Records, subscriptions: dict[str, dict[str, Any]]
) -> tuple[dict[str, Tally], list[str]]:
    """Each partner-visible record of a subscription's topics reached it (a 2xx
    answer) under exactly one webhook-id; per subscription, the records of each
    subject arrived in version order."""
    tallies: dict[str, Tally] = {}
    disorder: list[str] = []
    requests = list(system.receiver.requests)
    for name, topics in SUBSCRIPTIONS.items():
        got: dict[str, list[str]] = defaultdict(list)
        delivered: dict[str, bool] = defaultdict(bool)
        first: dict[str, tuple[float, dict[str, Any]]] = {}
        for r in requests:
            if not r.path.endswith(f"/{name}"):
                continue
            body = json.loads(r.body)
            key = _identity(body["type"], body["data"])
            got[key].append(r.headers.get("webhook-id", r.headers.get("Webhook-Id", "")))
            if 200 <= r.status < 300:
                delivered[key] = True
                if key not in first:
                    first[key] = (r.at, {"data": body["data"]})
        tally = Tally()
        for topic in topics:
            rows = records.by_topic.get(topic, [])
            for row in rows:
                key = _identity(topic, row["data"])
                ids = got.get(key, [])
                tally.count(f"{name} {topic} {row['ce_id']}", 1, ids if delivered[key] else [])
            arrivals = [
                {"data": first[k][1]["data"], "at": first[k][0]}
                for k in (_identity(topic, row["data"]) for row in rows)
                if k in first
            ]
            disorder += [f"{name}: {d}" for d in _disorder(topic, arrivals, lambda a: a["at"])]
        tallies[name] = tally
    return tallies, disorder


def _identity(topic: str, data: dict[str, Any]) -> str:
    return f"{topic}|{json.dumps(data, sort_keys=True, separators=(',', ':'))}"


def check_read_models(
    workload: Workload, system: System, invitations: dict[str, list[dict]]
) -> list[str]:
    """Events' participation counts equal the invitations service's; the documents
    service's access table holds exactly the accepted invitees."""
    disagreements = []
    with MongoClient(system.mongo_uri("documents")) as client:
        access = client[database("documents")]["invitees"]
        for event_id, items in invitations.items():
            event = workload.events.call("GET", f"/v1/events/{event_id}").json()
            counts = Counter(inv["status"] for inv in items)
            shown = event.get("participation") or {}
            for status in ("accepted", "waitlisted"):
                if shown.get(status, 0) != counts.get(status, 0):
                    disagreements.append(
                        f"event {event_id}: events says {status}={shown.get(status, 0)}, "
                        f"invitations {counts.get(status, 0)}"
                    )
            accepted = {inv["id"] for inv in items if inv["status"] == "accepted"}
            readers = {
                row["_id"] for row in access.find({"event_id": event_id, "status": "accepted"})
            }
            if accepted != readers:
                disagreements.append(
                    f"event {event_id}: documents access {len(readers)} rows, "
                    f"accepted invitees {len(accepted)} ({len(accepted ^ readers)} differ)"
                )
    return disagreements


def database(service: str) -> str:
    """The database a service uses by default (the campaign sets no MLP_<SERVICE>_DB)."""
    return Settings(service=service).database


def consumer_groups() -> dict[str, list[str]]:
    """Each service's consumer group (named after it) and the topics it consumes."""
    return {
        s.name: import_module(f"services.{s.name}.handlers").subscriptions.topics
        for s in catalog.DEPLOYED
    }


def check_errors(calls: Calls, injected: list[Injected]) -> tuple[Counter[int], list[str]]:
    """Every 5xx answer was a 503 inside an outage window."""
    windows = [(i.began, (i.ended or i.began) + GRACE_S) for i in injected]
    statuses: Counter[int] = Counter()
    unexplained = []
    for call in calls.log:
        if call.status < 500:
            continue
        statuses[call.status] += 1
        inside = any(a <= call.at <= b for a, b in windows)
        if call.status != 503 or not inside:
            unexplained.append(f"{call.status} {call.method} {call.service} {call.path}")
    return statuses, unexplained


def dead_letters(system: System) -> dict[str, int]:
    """Each service's dead-letter topic: its records not redriven (the console's depth)."""
    depth = {}
    for s in catalog.DEPLOYED:
        with MongoClient(system.mongo_uri(s.name)) as client:
            log = RedriveLog(client[database(s.name)])
            depth[dead_letter_topic(s.name)] = dlq_depth(system.settings(), s.name, log).depth
    return depth


def partner_topics() -> list[str]:
    return [t.name for t in TOPICS if t.partner_visible]

"""``python -m bench.pipeline``: the whole pipeline as a secretariat and an invitee meet it.

Starts Kafka and MongoDB (``bench.stack.infrastructure``), an in-memory SMTP
sink, the invitations service (gunicorn ``web`` + ``worker``) and the
notifications worker as real processes, announces a published event on
Kafka as the events service would, and measures in one run, beside baselines:

a. ``--invitations`` officials invited in one request: seconds until the API
   answers and until the last invitation mail is in the sink, against the same
   number of mails of the same size sent straight to the sink by a bare
   smtplib loop on one connection; the Mongo-wire server's CPU time and the
   database commands (``mlp_mongo_commands_total`` of every process) per mail;
b. RSVP accepts through the links, paced at ``--rate``/s (``--acceptances``):
   HTTP call -> confirmation mail in the sink, p50/p99/max, how many arrived;
c. a worker's restart (SIGTERM, SIGKILL) -> its first handled record.

Prints the figures with their aims, writes them to ``var/bench/pipeline.json``
and plots the distributions to ``var/bench/pipeline.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import smtplib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from bench.sink import Arrival, TimingSink
from bench.stack import Infra, begin_run, cpu_seconds, cpu_used, infrastructure
from deploy.local import services
from deploy.local.ports import free_port
from devkit.auth import auth
from devkit.env import service_env
from devkit.kafka import Producer, partner_consumer, payload_of
from devkit.samples import event_payload, issued_payload, official
from devkit.waiting import wait_until
from shared.bus import ensure_topics
from shared.config import Settings

# The aims of issue 13 ("How it is checked").
AIM_INVITE_S = 60.0
AIM_INVITE_VS_BARE = 3.0
AIM_DB_CPU_MS_PER_MAIL = 10.0
AIM_RSVP_P99_MS = 1000.0
AIM_RESTART_S = 5.0
COMMANDS = "mlp_mongo_commands_total"
HANDLED = "mlp_consumer_records_total"


@dataclass
class Pipeline:
    """The running processes and what the measurements need of them."""

    infra: Infra
    base: str
    sink: TimingSink
    producer: Producer
    event_id: str
    processes: dict[str, services.ServiceProcess]
    metrics: dict[str, str]
    timeout_s: float
    serial: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fresh(self, prefix: str) -> str:
        """A recipient address no one else in the run has."""
        with self.lock:
            self.serial += 1
            return f"{prefix}{self.serial}@gov{self.serial % 27}.example.eu"

    def groups(self) -> dict[str, int]:
        """Process groups whose CPU time is measured: the database's and the services'."""
        return {**self.infra.groups, **{n: p.pgid for n, p in self.processes.items()}}


def scrape(urls: dict[str, str], name: str) -> dict[str, dict[str, float]]:
    """Process -> (labels as ``k=v,...``) -> value of the samples called ``name``;
    a process that does not answer (restarting) counts nothing."""
    out: dict[str, dict[str, float]] = {}
    for process, url in urls.items():
        values: dict[str, float] = {}
        with contextlib.suppress(requests.RequestException):
            text = requests.get(url, timeout=5).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == name:
                        key = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                        values[key] = values.get(key, 0.0) + sample.value
        out[process] = values
    return out


def commands_used(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Commands (by name) each process sent between two scrapes."""
    used: dict[str, dict[str, float]] = {}
    for process, values in after.items():
        earlier = before.get(process, {})
        used[process] = {
            labels.removeprefix("command="): value - earlier.get(labels, 0.0)
            for labels, value in values.items()
            if value - earlier.get(labels, 0.0) > 0
        }
    return used


def per_unit(used: dict[str, dict[str, float]], units: int) -> dict[str, Any]:
    """Database commands and transactions per unit of work, summed over the processes."""
    total = sum(sum(v.values()) for v in used.values())
    commits = sum(v.get("commitTransaction", 0.0) for v in used.values())
    aborts = sum(v.get("abortTransaction", 0.0) for v in used.values())
    n = max(1, units)
    by_process = {p: round(sum(v.values()) / n, 2) for p, v in used.items()}
    return {
        "commands": round(total / n, 2),
        "transactions": round(commits / n, 2),
        "aborted_transactions": round(aborts / n, 2),
        "commands_by_process": by_process,
    }


def _people(p: Pipeline, n: int, prefix: str) -> list[dict[str, str]]:
    return [official(i, p.fresh(prefix)) for i in range(n)]


def _invite(p: Pipeline, people: list[dict[str, str]]) -> float:
    """POST the invitations in one request; seconds until the API answered 201."""
    started = time.monotonic()
    response = requests.post(
        f"{p.base}/v1/events/{p.event_id}/invitations",
        json={"invitees": people},
        headers=auth("secretariat"),
        timeout=300,
    )
    if response.status_code != 201 or len(response.json()["created"]) != len(people):
        raise RuntimeError(f"inviting failed: {response.status_code} {response.text[:500]}")
    return time.monotonic() - started


@contextlib.contextmanager
def pipeline(
    infra: Infra, workdir: Path, capacity: int, timeout_s: float = 600.0
) -> Iterator[Pipeline]:
    """Run the invitations web + worker and the notifications worker on ``infra``,
    an event announced with ``capacity`` places, warmed up with one invitation mail."""
    ensure_topics(Settings(service="bench", kafka_bootstrap=infra.kafka_bootstrap))
    logs = workdir / "logs"
    sink = TimingSink().start()
    invitations_env = service_env("invitations", infra.kafka_bootstrap, infra.mongo_uri)
    invitations_env |= infra.mongo_env("invitations")
    invitations_port, invitations_metrics = free_port(), free_port()
    notifications_metrics = free_port()
    invitations_env.update(
        MLP_RSVP_RATE_LIMIT="0",  # one client address drives all the load here
        MLP_PUBLIC_BASE_URL=f"http://127.0.0.1:{invitations_port}",
        MLP_INVITATIONS_WORKER_METRICS_PORT=str(invitations_metrics),
    )
    notifications_env = service_env("notifications", infra.kafka_bootstrap, infra.mongo_uri)
    notifications_env |= infra.mongo_env("notifications")
    notifications_env.update(
        MLP_SMTP_HOST="127.0.0.1",
        MLP_SMTP_PORT=str(sink.port),
        MLP_NOTIFICATIONS_WORKER_METRICS_PORT=str(notifications_metrics),
    )
    processes = {
        "invitations-web": services.web("invitations", invitations_port, invitations_env, logs),
        "invitations-worker": services.worker("invitations", invitations_env, logs),
        "notifications-worker": services.worker("notifications", notifications_env, logs),
    }
    for process in processes.values():
        # A worker keeps its metrics in memory; gunicorn's web chooses a folder of its own.
        process.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    base = f"http://127.0.0.1:{invitations_port}"
    producer = Producer(infra.kafka_bootstrap)
    try:
        for process in processes.values():
            process.start()
        services.wait_ready(processes["invitations-web"], f"{base}/readyz")
        event_id = str(uuid.uuid4())
        deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        payload = event_payload(
            event_id, version=2, capacity=capacity, registration_deadline=deadline
        )
        producer.send("event.published", payload, key=event_id)
        p = Pipeline(
            infra,
            base,
            sink,
            producer,
            event_id,
            processes,
            {
                "invitations-web": f"{base}/metrics",
                "invitations-worker": f"http://127.0.0.1:{invitations_metrics}/metrics",
                "notifications-worker": f"http://127.0.0.1:{notifications_metrics}/metrics",
            },
            timeout_s,
        )
        with MongoClient(infra.mongo_uri_of("invitations")) as client:
            db = client[invitations_env["MLP_INVITATIONS_DB"]]
            if not wait_until(lambda: db.events.find_one({"_id": event_id}), 90, step=0.2):
                raise RuntimeError(f"the event never reached the invitations service:\n{_tails(p)}")
        # Warm up: both consumer groups joined, the first mail went through.
        warm = _people(p, 1, "warmup")
        _invite(p, warm)
        if not wait_until(lambda: sink.nth([warm[0]["email"]], 0), 120, step=0.1):
            raise RuntimeError(f"no warm-up mail reached the sink:\n{_tails(p)}")
        yield p
    finally:
        producer.close()
        for process in processes.values():
            process.stop()
        sink.stop()


def _tails(p: Pipeline) -> str:
    return "\n".join(f"--- {n}\n{proc.tail(15)}" for n, proc in p.processes.items())


def _wait_mails(p: Pipeline, recipients: list[str], nth: int, timeout_s: float) -> list[Arrival]:
    """Wait until every recipient has an ``nth`` mail, or the time is up; those that came."""
    wait_until(lambda: len(p.sink.nth(recipients, nth)) >= len(recipients), timeout_s, step=0.1)
    return p.sink.nth(recipients, nth)


def measure_invitations(p: Pipeline, n: int) -> dict[str, Any]:
    """``n`` invitations in one request -> every invitation mail in the sink."""
    people = _people(p, n, "official")
    recipients = [person["email"] for person in people]
    issued = partner_consumer(p.infra.kafka_bootstrap, "internal.invitation.issued")
    commands_before = scrape(p.metrics, COMMANDS)
    cpu_before = cpu_seconds(p.groups())
    started = time.monotonic()
    api_s = _invite(p, people)
    arrived = _wait_mails(p, recipients, 0, p.timeout_s)
    cpu = cpu_used(cpu_before, cpu_seconds(p.groups()))
    used = commands_used(commands_before, scrape(p.metrics, COMMANDS))
    # The RSVP links, as only the invitees (and this topic) ever see them.
    links: dict[str, str] = {}
    wanted = set(recipients)
    deadline = time.monotonic() + 60
    while len(links) < len(wanted) and time.monotonic() < deadline:
        for batch in issued.poll(timeout_ms=200).values():
            for record in batch:
                data = payload_of(record)
                if data["email"] in wanted:
                    links[data["email"]] = data["rsvp_url"]
    issued.close()
    last_s = max(a.at for a in arrived) - started if arrived else float("nan")
    mails = max(1, len(arrived))
    return {
        "invitations": n,
        "mails_arrived": len(arrived),
        "api_s": round(api_s, 2),
        "last_mail_s": round(last_s, 2),
        "mails_per_s": round(len(arrived) / last_s, 1) if arrived else 0.0,
        "mean_mail_bytes": round(statistics.mean(a.size for a in arrived)) if arrived else 0,
        "cpu_s": cpu,
        "cpu_ms_per_mail": {k: round(v * 1000 / mails, 2) for k, v in cpu.items()},
        "db_cpu_ms_per_mail": _db_cpu_ms(p.infra, cpu, mails),
        "db_per_mail": per_unit(used, len(arrived)),
        "commands": used,
        "arrivals_s": sorted(round(a.at - started, 3) for a in arrived),
        "links": [(email, links[email]) for email in recipients if email in links],
    }


def _db_cpu_ms(infra: Infra, cpu: dict[str, float], mails: int) -> float | None:
    """CPU-ms of every database server per mail (None when the servers are not ours)."""
    servers = [cpu[name] for name in infra.mongo_groups if name in cpu]
    return round(sum(servers) * 1000 / mails, 2) if servers else None


def measure_bare_loop(sink: TimingSink, n: int, size: int) -> dict[str, Any]:
    """The baseline: ``n`` mails of ``size`` bytes sent to the sink by a bare
    smtplib loop on one connection; seconds until the last arrived."""
    recipients = [f"bare{i}.{uuid.uuid4().hex[:6]}@bare.example" for i in range(n)]
    messages = []
    for i, to in enumerate(recipients):
        msg = EmailMessage()
        msg["From"] = "MLP Ops <no-reply@mlp-ops.local>"
        msg["To"] = to
        msg["Subject"] = f"Bare loop mail {i}"
        head = len(msg.as_bytes(policy=SMTP))
        pad = max(1, size - head - 120)
        msg.set_content("\n".join("x" * 76 for _ in range(pad // 77 + 1)))
        messages.append(msg)
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=30) as smtp:
        for msg, to in zip(messages, recipients, strict=True):
            smtp.sendmail("no-reply@mlp-ops.local", [to], msg.as_bytes(policy=SMTP))
    arrived = sink.nth(recipients, 0)
    last_s = max(a.at for a in arrived) - started
    return {
        "mails": n,
        "mails_arrived": len(arrived),
        "mean_mail_bytes": round(statistics.mean(a.size for a in arrived)),
        "last_mail_s": round(last_s, 3),
        "mails_per_s": round(n / last_s, 1),
        "arrivals_s": sorted(round(a.at - started, 4) for a in arrived),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_rsvp(p: Pipeline, links: list[tuple[str, str]], rate: float) -> dict[str, Any]:
    """Accept through each link, paced at ``rate``/s: HTTP call -> confirmation mail."""
    sent_at: dict[str, float] = {}
    http_ms: list[float] = []
    failures: list[str] = []
    local = threading.local()

    def accept(email: str, url: str) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        t0 = time.monotonic()
        sent_at[email] = t0
        token = url.rsplit("/", 1)[1]
        r = local.session.post(f"{p.base}/v1/rsvp/{token}", json={"response": "accept"}, timeout=60)
        http_ms.append((time.monotonic() - t0) * 1000)
        if r.status_code != 200:
            failures.append(f"{r.status_code} {r.text[:200]}")

    commands_before = scrape(p.metrics, COMMANDS)
    cpu_before = cpu_seconds(p.groups())
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for i, (email, url) in enumerate(links):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(accept, email, url)
    if failures:
        raise RuntimeError(f"{len(failures)} RSVP calls failed, e.g. {failures[0]}")
    recipients = [email for email, _ in links]
    arrived = _wait_mails(p, recipients, 1, min(p.timeout_s, 120.0))
    cpu = cpu_used(cpu_before, cpu_seconds(p.groups()))
    used = commands_used(commands_before, scrape(p.metrics, COMMANDS))
    latencies = [(a.at - sent_at[a.recipient]) * 1000 for a in arrived]
    n = max(1, len(arrived))
    return {
        "acceptances": len(links),
        "rate_per_s": rate,
        "confirmations_arrived": len(arrived),
        "http_p50_ms": round(statistics.median(http_ms), 1),
        "http_p99_ms": round(percentile(http_ms, 0.99), 1),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "cpu_ms_per_confirmation": {k: round(v * 1000 / n, 2) for k, v in cpu.items()},
        "db_per_confirmation": per_unit(used, len(arrived)),
        "latencies_ms": sorted(round(v, 1) for v in latencies),
    }


def _handled(p: Pipeline, process: str) -> float:
    values = scrape({process: p.metrics[process]}, HANDLED)[process]
    return sum(v for k, v in values.items() if "outcome=handled" in k)


def measure_restart(p: Pipeline, service: str, how: signal.Signals) -> dict[str, Any]:
    """Stop ``service``'s worker (``SIGTERM``: gracefully; ``SIGKILL``: a crash),
    start it again, produce a record for it at once: seconds from the new
    process's start until the record's effect shows (a mail for the
    notifications worker, its handled-records counter for the invitations one)."""
    name = f"{service}-worker"
    process = p.processes[name]
    if how == signal.SIGKILL:
        process.kill()
    else:
        process.stop()
    process.start()
    started = time.monotonic()
    effect: Callable[[], bool]
    if service == "notifications":
        email = p.fresh("restart")
        invitation = str(uuid.uuid4())
        payload = issued_payload(p.event_id, invitation, email)
        p.producer.send("internal.invitation.issued", payload, key=p.event_id)

        def effect() -> bool:
            return bool(p.sink.nth([email], 0))
    else:
        event_id = str(uuid.uuid4())
        p.producer.send("event.published", event_payload(event_id, version=2), key=event_id)

        def effect() -> bool:
            return _handled(p, name) >= 1

    ok = wait_until(effect, min(p.timeout_s, 180.0), step=0.1)
    elapsed = time.monotonic() - started
    return {
        "worker": name,
        "signal": how.name,
        "handled": bool(ok),
        "first_record_s": round(elapsed, 2) if ok else None,
    }


def verdicts(figures: dict[str, Any]) -> list[tuple[str, Any, str, bool | None]]:
    """(figure, value, aim, met) for every aim of the run."""
    inv, bare, rsvp = figures["invitations"], figures["bare_loop"], figures["rsvp"]
    ratio = inv["last_mail_s"] / bare["last_mail_s"] if bare["last_mail_s"] else float("nan")
    figures["invite_vs_bare"] = round(ratio, 1)
    complete = inv["mails_arrived"] == inv["invitations"]
    rows: list[tuple[str, Any, str, bool | None]] = [
        ("invitation API answered (s)", inv["api_s"], "", None),
        (
            f"last of {inv['invitations']} invitation mails in sink (s)",
            inv["last_mail_s"],
            f"< {AIM_INVITE_S:.0f}",
            complete and inv["last_mail_s"] < AIM_INVITE_S,
        ),
        (
            f"bare smtplib loop, {bare['mails']} mails (s)",
            bare["last_mail_s"],
            "baseline",
            None,
        ),
        (
            "pipeline / bare loop",
            figures["invite_vs_bare"],
            f"<= {AIM_INVITE_VS_BARE:.0f}x",
            complete and ratio <= AIM_INVITE_VS_BARE,
        ),
        (
            "database CPU per invitation mail (ms)",
            inv["db_cpu_ms_per_mail"],
            f"<= {AIM_DB_CPU_MS_PER_MAIL:.0f}",
            None
            if inv["db_cpu_ms_per_mail"] is None
            else inv["db_cpu_ms_per_mail"] <= AIM_DB_CPU_MS_PER_MAIL,
        ),
        ("database commands per invitation mail", inv["db_per_mail"]["commands"], "", None),
        ("transactions per invitation mail", inv["db_per_mail"]["transactions"], "", None),
        (
            f"RSVP -> confirmation p50 ({rsvp['confirmations_arrived']}/"
            f"{rsvp['acceptances']} arrived, ms)",
            rsvp["p50_ms"],
            "",
            None,
        ),
        (
            "RSVP -> confirmation p99 (ms)",
            rsvp["p99_ms"],
            f"< {AIM_RSVP_P99_MS:.0f}",
            rsvp["p99_ms"] is not None
            and rsvp["confirmations_arrived"] == rsvp["acceptances"]
            and rsvp["p99_ms"] < AIM_RSVP_P99_MS,
        ),
        ("RSVP -> confirmation max (ms)", rsvp["max_ms"], "", None),
        ("database commands per confirmation", rsvp["db_per_confirmation"]["commands"], "", None),
        ("transactions per confirmation", rsvp["db_per_confirmation"]["transactions"], "", None),
    ]
    for r in figures["restarts"]:
        rows.append(
            (
                f"{r['worker']} {r['signal']} -> first handled record (s)",
                r["first_record_s"],
                f"< {AIM_RESTART_S:.0f}",
                r["first_record_s"] is not None and r["first_record_s"] < AIM_RESTART_S,
            )
        )
    return rows


def plot(figures: dict[str, Any], path: Path) -> None:
    """The RSVP -> mail latency distribution and the mail arrival curves, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inv, bare, rsvp = figures["invitations"], figures["bare_loop"], figures["rsvp"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    latencies = rsvp["latencies_ms"]
    if latencies:
        left.hist(latencies, bins=min(50, max(5, len(latencies) // 10)), color="tab:blue")
        cdf = left.twinx()
        cdf.plot(latencies, [(i + 1) / len(latencies) for i in range(len(latencies))], "k-")
        cdf.set_ylabel("cumulative share")
        cdf.set_ylim(0, 1.02)
    left.axvline(AIM_RSVP_P99_MS, color="tab:red", linestyle="--", label="aim: p99 < 1 s")
    left.set_xlabel("RSVP HTTP call -> confirmation mail in sink (ms)")
    left.set_ylabel("confirmations")
    left.set_title(
        f"{rsvp['confirmations_arrived']}/{rsvp['acceptances']} confirmations"
        f" at {rsvp['rate_per_s']:.0f}/s"
    )
    left.legend(loc="upper center")
    for label, arrivals in (
        (f"pipeline ({inv['invitations']} in one request)", inv["arrivals_s"]),
        (f"bare smtplib loop ({bare['mails']})", bare["arrivals_s"]),
    ):
        right.plot(arrivals, range(1, len(arrivals) + 1), label=label)
    right.axvline(AIM_INVITE_S, color="tab:red", linestyle="--", label="aim: < 60 s")
    right.set_xlabel("seconds since the request (the loop's start)")
    right.set_ylabel("invitation mails in the sink")
    right.set_title("invitation mail arrivals")
    right.legend(loc="lower right")
    fig.suptitle(f"bench.pipeline {figures['when']} ({figures['infra']})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(
    infra: Infra,
    workdir: Path,
    *,
    invitations: int,
    acceptances: int,
    rate: float,
    restarts: list[tuple[str, signal.Signals]],
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """Every measurement, on one running pipeline; the figures."""
    acceptances = min(acceptances, invitations)
    with pipeline(infra, workdir, capacity=invitations + 100, timeout_s=timeout_s) as p:
        print(f"Inviting {invitations} officials in one request ...", flush=True)
        inv = measure_invitations(p, invitations)
        links = inv.pop("links")
        print(f"Bare smtplib loop, {invitations} mails ...", flush=True)
        bare = measure_bare_loop(p.sink, invitations, inv["mean_mail_bytes"] or 2000)
        print(f"{acceptances} RSVP accepts at {rate:.0f}/s ...", flush=True)
        rsvp = measure_rsvp(p, links[:acceptances], rate)
        measured = []
        for service, how in restarts:
            print(f"Restarting the {service} worker ({how.name}) ...", flush=True)
            measured.append(measure_restart(p, service, how))
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "infra": infra.description,
        "invitations": inv,
        "bare_loop": bare,
        "rsvp": rsvp,
        "restarts": measured,
    }


def report(figures: dict[str, Any]) -> str:
    rows = verdicts(figures)
    width = max(len(r[0]) for r in rows)
    lines = ["pipeline benchmark (real processes, Kafka, Mongo-wire server, SMTP sink)"]
    for name, value, aim, met in rows:
        verdict = "" if met is None else ("pass" if met else "MISS")
        shown = "n/a" if value is None else value
        lines.append(f"  {name:<{width}}  {shown!s:>9}  {aim:<9} {verdict}")
    figures["aims"] = [
        {"figure": name, "value": value, "aim": aim, "met": met}
        for name, value, aim, met in rows
        if aim and aim != "baseline"
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--invitations", type=int, default=5000, help="invited in one request")
    parser.add_argument("--acceptances", type=int, default=1000, help="RSVP accepts")
    parser.add_argument("--rate", type=float, default=20.0, help="RSVP accepts per second")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for mails")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 50 invitations, 20 acceptances"
    )
    parser.add_argument("--output", type=Path, default=Path("var/bench/pipeline.json"))
    parser.add_argument("--plot", type=Path, default=Path("var/bench/pipeline.png"))
    args = parser.parse_args(argv)
    if args.quick:
        args.invitations, args.acceptances = 50, 20
    return args


RESTARTS = [
    ("notifications", signal.SIGTERM),
    ("notifications", signal.SIGKILL),
    ("invitations", signal.SIGTERM),
    ("invitations", signal.SIGKILL),
]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    load_before = begin_run()
    with (
        tempfile.TemporaryDirectory(prefix="mlp-bench-pipeline-") as tmp,
        # Each service its own database server, as in production.
        infrastructure(Path(tmp), own_mongo=("invitations", "notifications")) as infra,
    ):
        figures = run(
            infra,
            Path(tmp),
            invitations=args.invitations,
            acceptances=args.acceptances,
            rate=args.rate,
            restarts=RESTARTS,
            timeout_s=args.timeout,
        )
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(report(figures))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    plot(figures, args.plot)
    print(f"Figures in {args.output}, plot in {args.plot}")


if __name__ == "__main__":
    main()

"""``make chaos`` (``python -m chaos``): the fault campaign.

Starts the whole system (:mod:`chaos.system`), prints the fault schedule, drives
the workload (:mod:`chaos.workload`) while the faults (:mod:`chaos.faults`) are
injected, waits for quiescence (every outbox empty, every consumer group's lag
0, every mail and webhook delivery settled), checks what came out
(:mod:`chaos.verify`) and writes the report to ``var/chaos/report.json`` and
``report.md``. Exit status 0 only with nothing lost, duplicated or out of
order and every other check passed.

``--broken`` runs a deliberately broken build (workers commit before handling,
:mod:`chaos.broken`): that run must report losses.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench.stack import begin_run
from chaos import verify
from chaos.faults import Injector, default_workers, schedule
from chaos.system import System, running
from chaos.workload import Sizes, Workload, WorkloadError
from deploy import catalog
from deploy.local.errors import PrerequisiteError, StartError
from shared.ops import consumer_lag, outbox_backlog

QUIET_POLLS = 3  # consecutive quiet looks, QUIET_STEP_S apart, make quiescence
QUIET_STEP_S = 5.0


def backlog(system: System) -> dict[str, int]:
    """What is still to do, as the operator console counts it (:mod:`shared.ops`):
    outbox rows, consumer lag, pending mails and webhook deliveries."""
    left: dict[str, int] = {}
    for s in catalog.DEPLOYED:
        with MongoClient(system.mongo_uri(s.name), serverSelectionTimeoutMS=5000) as client:
            left[f"outbox {s.name}"] = outbox_backlog(client[verify.database(s.name)]).pending
    with MongoClient(system.mongo_uri("notifications"), serverSelectionTimeoutMS=5000) as client:
        notifications = client[verify.database("notifications")]
        left["mails pending"] = notifications["mails"].count_documents({"status": "pending"})
        left["deliveries pending"] = notifications["deliveries"].count_documents(
            {"status": "pending"}
        )
    lag = consumer_lag(system.settings(), verify.consumer_groups())
    left["consumer lag"] = sum(row.lag for row in lag)
    return left


def wait_quiescent(system: System, timeout_s: float) -> tuple[float | None, dict[str, int]]:
    """Seconds until nothing was left to do, or None when the time ran out."""
    started = time.monotonic()
    quiet = 0
    left: dict[str, int] = {}
    while time.monotonic() - started < timeout_s:
        try:
            left = backlog(system)
        except Exception as exc:  # the database or a broker still coming back
            left = {"unreachable": 1}
            print(f"  quiescence: {exc.__class__.__name__}: {exc}", flush=True)
        quiet = quiet + 1 if not any(left.values()) else 0
        if quiet >= QUIET_POLLS:
            return round(time.monotonic() - started - (QUIET_POLLS - 1) * QUIET_STEP_S, 1), left
        busy = {k: v for k, v in left.items() if v}
        if busy:
            print(f"  quiescence: waiting for {busy}", flush=True)
        time.sleep(QUIET_STEP_S)
    return None, left


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    sizes = Sizes(
        events=args.events,
        invitations=args.invitations,
        rsvps=args.rsvps,
        documents=args.documents,
        changes=args.changes,
        cancellations=args.cancellations,
        patience_s=args.patience,
    )
    began = time.monotonic()
    with running(workdir, broken=args.broken) as system:
        up_s = round(time.monotonic() - began, 1)
        faults = [] if args.no_faults else schedule(args.seed, args.window, default_workers(system))
        print(f"Fault schedule (seed {args.seed}, {len(faults)} faults):")
        for fault in faults:
            print(f"  {fault.describe()}")
        urls = {name: system.url(name) for name in system.stack.service_ports}
        workload = Workload(urls, system.receiver.url, system.sink, sizes, args.seed)
        injector = Injector(system, faults)
        t0 = time.monotonic()
        with injector.injecting(t0):
            failure = ""
            try:
                programme = workload.run()
            except WorkloadError as exc:
                failure = str(exc)
                programme = workload.programme
                print(f"The workload stopped: {failure}", flush=True)
            workload_s = round(time.monotonic() - t0, 1)
            print("Waiting for the last faults to end ...", flush=True)
            injector.wait()
            print("Waiting for quiescence ...", flush=True)
            quiescence_s, left = wait_quiescent(system, args.quiesce_timeout)
            print("Checking ...", flush=True)
            records = verify.read_topics(system.cluster.bootstrap, verify.partner_topics())
            invitations = verify.invitations_by_event(workload, programme.events)
            mails = verify.check_mails(system.sink.snapshot(), invitations, records, programme)
            subscriptions = programme.subscriptions
            webhooks, webhook_disorder = verify.check_webhooks(system, records, subscriptions)
            read_models = verify.check_read_models(workload, system, invitations)
            statuses, unexplained = verify.check_errors(workload.calls, injector.injected)
            dlq = verify.dead_letters(system)
            toxics_left = system.toxiproxy.toxics()
    tallies = {**{f"mail {k}": v for k, v in mails.items()}, **webhooks}
    out_of_order = records.out_of_order + webhook_disorder
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "broken_build": args.broken,
        "seed": args.seed,
        "sizes": asdict(sizes),
        "lost": sum(t.lost for t in tallies.values()),
        "duplicated": sum(t.duplicated for t in tallies.values()),
        "out_of_order": len(out_of_order),
        "faults_injected": sum(1 for i in injector.injected if not i.error),
        "resent_same_effect": sum(t.resent for t in tallies.values()),
        "unexplained_5xx": len(unexplained),
        "read_model_disagreements": len(read_models),
        "dead_lettered": sum(dlq.values()),
        "quiescent": quiescence_s is not None,
        "workload_failure": failure,
        "timings_s": {
            "start_up": up_s,
            "workload": workload_s,
            "to_quiescence_after_workload": quiescence_s,
            "whole_run": round(time.monotonic() - began, 1),
            "steps": programme.steps,
        },
        "operations": {
            "events": len(programme.events),
            "invitations": sum(len(v) for v in invitations.values()),
            "rsvp_answers": len(programme.answers),
            "documents_published": len(programme.documents),
            "event_changes": len(programme.changed),
            "cancellations": len(programme.cancelled),
            "webhook_subscriptions": len(programme.subscriptions),
            "http_calls": len(workload.calls.log),
            "http_5xx": dict(statuses),
            "http_unanswered": sum(1 for c in workload.calls.log if c.status == 0),
        },
        "faults": [i.as_dict(t0) for i in sorted(injector.injected, key=lambda i: i.began)],
        "effects": {name: asdict(t) for name, t in tallies.items()},
        "out_of_order_examples": out_of_order[:20],
        "unexplained_5xx_examples": unexplained[:20],
        "read_model_examples": read_models[:20],
        "dead_letter_topics": dlq,
        "restarted_by_supervisor": injector.supervised,
        "left_at_end": left,
        "toxics_left": {k: v for k, v in toxics_left.items() if v},
    }


def passed(report: dict[str, Any]) -> bool:
    return (
        report["lost"] == 0
        and report["duplicated"] == 0
        and report["out_of_order"] == 0
        and report["unexplained_5xx"] == 0
        and report["read_model_disagreements"] == 0
        and report["dead_lettered"] == 0
        and report["quiescent"]
        and not report["workload_failure"]
    )


def markdown(report: dict[str, Any]) -> str:
    ops = report["operations"]
    lines = [
        f"# Fault campaign {report['when']}"
        + (" (broken build)" if report["broken_build"] else ""),
        "",
        f"**{'PASSED' if passed(report) else 'FAILED'}**: lost {report['lost']}, duplicated "
        f"{report['duplicated']}, out of order {report['out_of_order']}, faults injected "
        f"{report['faults_injected']}; resent as the same effect {report['resent_same_effect']}; "
        f"unexplained 5xx {report['unexplained_5xx']}; read-model disagreements "
        f"{report['read_model_disagreements']}; dead-lettered {report['dead_lettered']}.",
        "",
        "Timings (s): "
        + ", ".join(f"{k} {v}" for k, v in report["timings_s"].items() if k != "steps"),
        "",
        "| operations driven | count |",
        "|---|---:|",
        *(f"| {k} | {v} |" for k, v in ops.items()),
        "",
        "| effect | expected | seen | lost | duplicated | resent |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {t['expected']} | {t['seen']} | {t['lost']} | {t['duplicated']} "
            f"| {t['resent']} |"
            for name, t in report["effects"].items()
        ),
        "",
        "| t (s) | fault | target | lasted (s) | result |",
        "|---:|---|---|---:|---|",
        *(
            f"| {f['began_s']} | {f['kind']} | {f['target']} | "
            f"{round((f['ended_s'] or f['began_s']) - f['began_s'], 1)} | "
            f"{f['error'] or f['detail']} |"
            for f in report["faults"]
        ),
    ]
    for key in (
        "out_of_order_examples",
        "unexplained_5xx_examples",
        "read_model_examples",
        "restarted_by_supervisor",
    ):
        if report[key]:
            lines += ["", f"{key.replace('_', ' ')}:", *(f"- {x}" for x in report[key])]
    examples = [e for t in report["effects"].values() for e in t["examples"]]
    if examples:
        lines += ["", "examples of lost or duplicated effects:", *(f"- {e}" for e in examples[:20])]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    d = Sizes()
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=d.events)
    parser.add_argument("--invitations", type=int, default=d.invitations)
    parser.add_argument("--rsvps", type=int, default=d.rsvps)
    parser.add_argument("--documents", type=int, default=d.documents)
    parser.add_argument("--changes", type=int, default=d.changes)
    parser.add_argument("--cancellations", type=int, default=d.cancellations)
    parser.add_argument("--window", type=float, default=900.0, help="seconds the faults span")
    parser.add_argument(
        "--patience", type=float, default=d.patience_s, help="seconds to wait for a needed mail"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--quiesce-timeout", type=float, default=1200.0)
    parser.add_argument("--no-faults", action="store_true", help="the workload alone")
    parser.add_argument("--broken", action="store_true", help="workers commit before handling")
    parser.add_argument(
        "--small",
        action="store_true",
        help="a quick run: 20 events, 400 invitations, 200 answers, 40 papers, 300 s of faults",
    )
    parser.add_argument("--output", type=Path, default=Path("var/chaos"))
    args = parser.parse_args(argv)
    if args.small:
        args.events, args.invitations, args.rsvps, args.documents = 20, 400, 200, 40
        args.changes, args.cancellations = 5, 3
        args.window = min(args.window, 300.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    begin_run()
    with tempfile.TemporaryDirectory(prefix="mlp-chaos-") as tmp:
        try:
            report = run(args, Path(tmp))
        except (PrerequisiteError, StartError) as exc:
            print(exc, file=sys.stderr)
            return 1
        report["machine"] = {"cpus": os.cpu_count(), "load_after": round(os.getloadavg()[0], 2)}
    name = "report-broken" if args.broken else "report"
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.output / f"{name}.md").write_text(text)
    print(text)
    print(f"Report in {args.output}/{name}.json and {name}.md")
    return 0 if passed(report) else 1


if __name__ == "__main__":
    raise SystemExit(main())

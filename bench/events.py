"""``python -m bench.events``: benchmark the events service against a plain baseline.

Starts Kafka and MongoDB (or uses external ones, ``MLP_BENCH_INFRA=external``),
runs the events service as real gunicorn and worker processes, and measures:

- ``POST /v1/events`` throughput and latency under a closed-loop load, against a
  minimal Flask+pymongo app under the same gunicorn configuration;
- the delay from a POST's return to a partner consumer's receipt of its
  ``event.created`` record, under that load and paced at ``--rate`` req/s,
  against raw kafka-python produce-to-consume latency at the same rate.

Prints a table and writes the figures to ``var/bench/events.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench import load
from bench.stack import Infra, begin_run, cpu_seconds, cpu_used, infrastructure
from deploy.local.ports import free_port
from deploy.local.services import ServiceProcess, gunicorn, python_module, wait_ready
from devkit.auth import JWT_SECRET, auth
from devkit.samples import event_body as sample_event
from shared.bus import ensure_topics
from shared.config import Settings

EVENTS_DB = "bench_events"
BASELINE_DB = "bench_baseline"
RAW_TOPIC = "bench.raw-latency"
WARMUP = 20
AIM_RATIO = 0.5
AIM_P99_MS = 250.0


def event_body(i: int) -> dict[str, Any]:
    """A valid ``POST /v1/events`` body, different for every ``i``."""
    return sample_event(title=f"Skills forecasting: Estonia's OSKA system (bench {i})")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=1000, help="events per closed-loop run")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--rate", type=float, default=50.0, help="paced run, requests/s")
    parser.add_argument("--paced-seconds", type=float, default=10.0, help="paced run length")
    parser.add_argument("--output", type=Path, default=Path("var/bench/events.json"))
    return parser.parse_args(argv)


def service_env(infra: Infra, metrics_dir: Path | None = None) -> dict[str, str]:
    """The environment of a service process; ``metrics_dir`` for gunicorn's workers."""
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        {
            "MLP_ENV": "development",
            "MLP_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "MLP_MONGO_URI": infra.mongo_uri,
            "MLP_EVENTS_DB": EVENTS_DB,
            "MLP_BENCH_DB": BASELINE_DB,
            "MLP_JWT_SECRET": JWT_SECRET,  # devkit.auth's, which mints the bench's token
            "MLP_LOG_LEVEL": "WARNING",
            "PYTHONPATH": ".",
        }
    )
    if metrics_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env


def reset_databases(uri: str) -> None:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=10_000)
    try:
        for name in (EVENTS_DB, BASELINE_DB):
            client.drop_database(name)
    finally:
        client.close()


def measured_load(
    groups: dict[str, int], url: str, count: int, concurrency: int, **kwargs: Any
) -> dict[str, Any]:
    """A closed-loop run, with the CPU time each process group (and this client) spent."""
    before = cpu_seconds(groups) | {"client": sum(os.times()[:2])}
    result = load.run_load(url, event_body, count, concurrency, **kwargs)
    used = cpu_used(before, cpu_seconds(groups) | {"client": sum(os.times()[:2])})
    n = max(1, len(result.ok))
    per_request = {name: round(seconds * 1000 / n, 2) for name, seconds in used.items()}
    return {"result": result, "cpu_s": used, "cpu_ms_per_request": per_request}


def _id_of(body: dict[str, Any]) -> str | None:
    return body.get("id")


def bench_events(
    infra: Infra, args: argparse.Namespace, work: Path, log_dir: Path
) -> dict[str, Any]:
    """Run the events service and measure writes and API-to-partner delivery."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = gunicorn(
        "events-web",
        "services.events.app:create_app()",
        port,
        service_env(infra, work / "metrics-events"),
        log_dir,
    )
    worker = python_module("events-worker", "services.events.worker", service_env(infra), log_dir)
    processes: list[ServiceProcess] = [web, worker]
    receiver = load.Receiver(infra.kafka_bootstrap, "event.created")
    headers = auth("secretariat", sub="bench-secretariat", email="bench@mlp.example")
    url = f"{base}/v1/events"
    try:
        for process in processes:
            process.start()
        wait_ready(web, f"{base}/readyz")
        receiver.start()

        def delivered(result: load.LoadResult, timeout_s: float) -> dict[str, Any]:
            keys = {s.key for s in result.ok if s.key}
            got = receiver.wait_for(keys, timeout_s)
            if not worker.alive:
                raise RuntimeError(f"The events worker died:\n{worker.tail()}")
            return {
                "received": got,
                "expected": len(keys),
                "latency": load.summary_ms(load.delivery_latencies(result.ok, receiver.received)),
            }

        print(f"Events service up on {base}; warming up ...", flush=True)
        warm = load.run_load(url, event_body, WARMUP, 2, headers=headers, key_of=_id_of)
        if warm.errors or delivered(warm, 60)["received"] != WARMUP:
            raise RuntimeError(f"Warm-up failed; web log:\n{web.tail()}\nworker:\n{worker.tail()}")

        print(f"Closed loop: {args.events} POSTs from {args.concurrency} threads ...", flush=True)
        groups = infra.groups | {"web": web.pgid, "worker": worker.pgid}
        run = measured_load(
            groups, url, args.events, args.concurrency, headers=headers, key_of=_id_of
        )
        closed = run.pop("result")
        closed_report = closed.report() | run | {"partner": delivered(closed, 120)}

        paced_count = max(1, round(args.rate * args.paced_seconds))
        print(f"Paced: {paced_count} POSTs at {args.rate:g} req/s ...", flush=True)
        paced = load.run_load(
            url,
            event_body,
            paced_count,
            args.concurrency,
            headers=headers,
            rate=args.rate,
            key_of=_id_of,
        )
        paced_report = paced.report() | {"partner": delivered(paced, 60)}
        paced_report["rate_target"] = args.rate
        return {"closed_loop": closed_report, "paced": paced_report}
    finally:
        receiver.close()
        for process in reversed(processes):
            process.stop()


def bench_baseline(
    infra: Infra, args: argparse.Namespace, work: Path, log_dir: Path
) -> dict[str, Any]:
    """Run the minimal Flask+pymongo app under the same gunicorn configuration."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = gunicorn(
        "baseline-web",
        "bench.baseline_app:create_app()",
        port,
        service_env(infra, work / "metrics-baseline"),
        log_dir,
    )
    try:
        web.start()
        wait_ready(web, f"{base}/readyz")
        print(f"Baseline: {args.events} POSTs from {args.concurrency} threads ...", flush=True)
        load.run_load(f"{base}/insert", event_body, WARMUP, 2)
        run = measured_load(
            infra.groups | {"web": web.pgid}, f"{base}/insert", args.events, args.concurrency
        )
        return {"closed_loop": run.pop("result").report() | run}
    finally:
        web.stop()


def bench_raw_kafka(infra: Infra, args: argparse.Namespace) -> dict[str, Any]:
    print(f"Raw Kafka: {args.events} records at {args.rate:g}/s, flushed each ...", flush=True)
    latencies = load.raw_kafka_latency(infra.kafka_bootstrap, RAW_TOPIC, args.events, args.rate)
    return {"rate": args.rate, "latency": load.summary_ms(latencies)}


def _ms(d: dict[str, Any]) -> str:
    return f"{d['p50_ms']:.0f} / {d['p99_ms']:.0f}"


def render(results: dict[str, Any]) -> str:
    ev, base, raw = results["events"], results["baseline"], results["raw_kafka"]
    closed, paced = ev["closed_loop"], ev["paced"]
    ratio = results["ratios"]["write_throughput"]
    rows = [
        ("", "events API", "baseline", "ratio"),
        (
            "write throughput (req/s)",
            f"{closed['requests_per_s']:.1f}",
            f"{base['closed_loop']['requests_per_s']:.1f}",
            f"{ratio:.2f}",
        ),
        (
            "POST p50 / p99 (ms)",
            _ms(closed["latency"]),
            _ms(base["closed_loop"]["latency"]),
            "",
        ),
        ("errors", str(closed["errors"]), str(base["closed_loop"]["errors"]), ""),
        *(
            (
                f"CPU ms/request: {name}",
                f"{closed['cpu_ms_per_request'].get(name, 0):.2f}",
                f"{base['closed_loop']['cpu_ms_per_request'].get(name, 0):.2f}",
                "",
            )
            for name in closed["cpu_ms_per_request"]
        ),
        ("", "", "", ""),
        ("", "API→partner", "raw Kafka", ""),
        (
            "closed loop p50 / p99 (ms)",
            _ms(closed["partner"]["latency"]),
            "",
            f"{closed['partner']['received']}/{closed['partner']['expected']} recv",
        ),
        (
            f"paced {paced['rate_target']:g}/s p50 / p99 (ms)",
            _ms(paced["partner"]["latency"]),
            _ms(raw["latency"]),
            f"{paced['partner']['received']}/{paced['partner']['expected']} recv",
        ),
        (
            "paced POST p50 / p99 (ms)",
            _ms(paced["latency"]),
            "",
            f"{paced['requests_per_s']:.1f} req/s",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.append("")
    lines += [f"{'PASS' if v['pass'] else 'MISS'}  {v['aim']}: {v['got']}" for v in results["aims"]]
    return "\n".join(lines)


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    ev = results["events"]
    ratio = results["ratios"]["write_throughput"]
    p99 = ev["paced"]["partner"]["latency"]["p99_ms"]
    closed_p, paced_p = ev["closed_loop"]["partner"], ev["paced"]["partner"]
    n = results["config"]["events"]
    return [
        {
            "aim": f"write throughput >= {AIM_RATIO} x baseline",
            "pass": ratio >= AIM_RATIO,
            "got": f"{ratio:.2f} x",
        },
        {
            "aim": f"API→partner p99 < {AIM_P99_MS:.0f} ms at {ev['paced']['rate_target']:g} req/s",
            "pass": p99 < AIM_P99_MS,
            "got": f"p99 {p99:.0f} ms",
        },
        {
            "aim": "partner receives every created event",
            "pass": closed_p["received"] == n and paced_p["received"] == paced_p["expected"],
            "got": f"{closed_p['received']}/{n} and {paced_p['received']}/{paced_p['expected']}",
        },
    ]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    load_before = begin_run()
    log_dir = Path("var/bench/logs").resolve()
    started = datetime.now(UTC)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlp-bench-")))
        infra = stack.enter_context(infrastructure(work))
        ensure_topics(Settings(service="bench", kafka_bootstrap=infra.kafka_bootstrap))
        reset_databases(infra.mongo_uri)
        t0 = time.monotonic()
        events = bench_events(infra, args, work, log_dir)
        baseline = bench_baseline(infra, args, work, log_dir)
        raw = bench_raw_kafka(infra, args)
        duration = time.monotonic() - t0
    base_rps = baseline["closed_loop"]["requests_per_s"]
    results: dict[str, Any] = {
        "started_at": started.isoformat(),
        "duration_s": round(duration, 1),
        "config": {
            "events": args.events,
            "concurrency": args.concurrency,
            "rate": args.rate,
            "infra": infra.description,
            "web_workers": int(os.environ.get("MLP_WEB_WORKERS", "2")),
            "web_threads": int(os.environ.get("MLP_WEB_THREADS", "4")),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": load_before,
        },
        "events": events,
        "baseline": baseline,
        "raw_kafka": raw,
        "ratios": {
            "write_throughput": round(events["closed_loop"]["requests_per_s"] / base_rps, 3)
            if base_rps
            else 0.0,
        },
    }
    results["aims"] = verdicts(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    cfg = results["config"]
    print(
        f"\n{cfg['events']} events, {cfg['concurrency']} threads, {cfg['infra']}, "
        f"gunicorn {cfg['web_workers']}x{cfg['web_threads']} on {cfg['cpus']} CPUs\n"
    )
    print(render(results))
    print(f"\nWritten to {args.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("Interrupted; every process the benchmark started is stopped.", file=sys.stderr)
        sys.exit(130)

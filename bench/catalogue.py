"""``python -m bench.catalogue``: search latency of the catalogue over a generated programme.

Starts Kafka and MongoDB (or uses external ones, ``MLP_BENCH_INFRA=external``),
fills the catalogue's search read model with a generated programme — by default
10,000 practices, 5,000 events and 20,000 papers (four per event), built by the
same ``domain`` functions the handlers use — runs the catalogue's web process
(gunicorn, the platform's configuration), and measures, for one client sending
one query at a time:

- ``GET /v1/search`` (the JSON API) and ``GET /search`` (the rendered page) p50/p99;
- beside them, in the same run, the bare baseline: the same query's index
  lookup (its lead term) as a plain pymongo ``find`` of the ids on the indexed
  term field, read to the end — what any search over this server pays.

The queries are words of generated event and practice summaries (as a visitor
types a word they read), alone, two together, or with a country, type or year
filter; a tenth as many broad ones (a single title word) are reported apart. Summaries
draw their words evenly from a vocabulary of 3,000; half the events present one
practice; a paper carries its event's title, tags and summary words, an event those
of the practice presented there (as the service indexes them). Prints a table and
writes the figures to ``var/bench/catalogue.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from pymongo import MongoClient

from bench.load import summary_ms
from bench.stack import Infra, begin_run, infrastructure
from deploy.local.ports import free_port
from deploy.local.services import gunicorn, wait_ready
from devkit.auth import JWT_SECRET
from services.catalogue import domain
from services.catalogue.store import CatalogueStore
from shared.payloads.catalogue import POLICY_AREAS, TARGET_GROUPS
from shared.payloads.documents import KINDS
from shared.payloads.events import FORMATS

DB = "bench_catalogue"
AIM_P99_MS = 100.0


def _words(text: str) -> list[str]:
    return text.split()


COUNTRIES = _words(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
)
THEMES = _words(
    "skills forecasting employment youth guarantee apprenticeship activation pension "
    "disability integration migrants refugees gender pay gap taxation carers childcare "
    "platform work short time work retraining digital green transition public employment "
    "services profiling case management long term unemployment social economy housing "
    "inclusion minimum income older workers lifelong learning vocational training "
    "entrepreneurship start up wage subsidy sheltered work violence asylum equality"
)
SYLLABLES = _words("ka lo mi ne ru sa te vi zo pa de fi gu ho ja ke li mo nu po ri su ta ve")
VOCABULARY_SIZE = 3000
SUMMARY_WORDS = 25


def vocabulary(rng: random.Random) -> list[str]:
    """Distinct invented words of three or four syllables (no stop word, no plural s)."""
    words: set[str] = set()
    while len(words) < VOCABULARY_SIZE:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((3, 4)))))
    return sorted(words)


def generate(
    practices: int, events: int, papers_per_event: int, seed: int = 12
) -> tuple[list[dict[str, Any]], list[str]]:
    """The search entries of a generated programme, and the summaries' words per entry."""
    rng = random.Random(seed)
    words = vocabulary(rng)

    def summary() -> str:
        return " ".join(rng.choice(words) for _ in range(SUMMARY_WORDS))

    def title() -> str:
        return " ".join(rng.sample(THEMES, 4)).capitalize()

    entries: list[dict[str, Any]] = []
    practice_rows = []
    for i in range(practices):
        start = rng.randint(1995, 2026)
        practice = {
            "id": f"practice-{i}",
            "publication": "published",
            "title": title(),
            "country": rng.choice(COUNTRIES),
            "summary": summary(),
            "objectives": " ".join(rng.choice(words) for _ in range(8)),
            "policy_area": rng.choice(POLICY_AREAS),
            "target_groups": rng.sample(TARGET_GROUPS, 2),
            "tags": rng.sample(THEMES, 3),
            "start_year": start,
            "transfers": [],
        }
        practice_rows.append(practice)
        entries.append(domain.practice_entry(practice))
    for i in range(events):
        year = rng.randint(2005, 2027)
        day = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        host = rng.choice(COUNTRIES)
        event = {
            "id": f"event-{i}",
            "status": "completed" if year < 2026 else "published",
            "visibility": "public",
            "title": title(),
            "summary": summary(),
            "format": rng.choice(FORMATS),
            "host_country": host,
            "guest_countries": rng.sample([c for c in COUNTRIES if c != host], 5),
            "starts_on": day,
            "ends_on": day,
            "tags": rng.sample(THEMES, 2),
        }
        presented = [practice_rows[i % practices]] if practices and i % 2 == 0 else []
        entries.append(domain.event_entry(event, presented))
        for j in range(papers_per_event):
            paper = {
                "id": f"paper-{i}-{j}",
                "event_id": event["id"],
                "status": "published",
                "kind": rng.choice(KINDS),
                "title": f"{rng.choice(KINDS).replace('_', ' ').capitalize()}: {title()}",
                "language": "en",
                "country": rng.choice(event["guest_countries"] + [host]),
            }
            entries.append(domain.paper_entry(paper, event, presented))
    return entries, words


def queries(entries: list[dict[str, Any]], count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Search arguments as visitors send them: a word read in a summary, maybe two,
    maybe with a filter on the entry's country, type or year."""
    rng = random.Random(seed)
    described = [e for e in entries if e["type"] in {"event", "practice"}]  # papers have none
    out = []
    for _ in range(count):
        entry = rng.choice(described)
        summary_words = domain.words(entry["summary"])
        args: dict[str, Any] = {"q": rng.choice(summary_words)}
        roll = rng.random()
        if roll < 0.15:
            args["q"] = " ".join(rng.sample(summary_words, 2))
        elif roll < 0.35:
            args["country"] = rng.choice(entry["countries"])
        elif roll < 0.5:
            args["type"] = entry["type"]
        elif roll < 0.6 and entry.get("year"):
            args["year"] = entry["year"]
        out.append(args)
    return out


def broad_queries(count: int, seed: int = 5) -> list[dict[str, Any]]:
    """Single title words: each is in about one title in fifteen (and inherited by
    papers), the broad end of what visitors type."""
    rng = random.Random(seed)
    return [{"q": rng.choice(THEMES)} for _ in range(count)]


def load_programme(uri: str, entries: list[dict[str, Any]]) -> float:
    """Insert the entries into a fresh catalogue database (indexes first); seconds taken."""
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=10_000)
    try:
        client.drop_database(DB)
        store = CatalogueStore(client[DB])
        store.ensure_indexes()
        started = time.monotonic()
        for i in range(0, len(entries), 2000):
            store.insert_entries(entries[i : i + 2000])
        return time.monotonic() - started
    finally:
        client.close()


def timed_gets(session: requests.Session, url: str, params: list[dict[str, Any]]) -> dict:
    latencies, errors, results = [], 0, []
    for args in params:
        started = time.perf_counter()
        response = session.get(url, params=args, timeout=30)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            errors += 1
        elif response.headers.get("Content-Type", "").startswith("application/json"):
            results.append(response.json()["total"])
    out = {"latency": summary_ms(latencies), "errors": errors}
    if results:
        out["matches"] = {"median": sorted(results)[len(results) // 2], "max": max(results)}
    return out


def baseline(uri: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    """The engine's floor: each query's index lookup (its lead term, as the service
    asks it) as a plain pymongo ``find`` of the ids, read to the end."""
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=10_000)
    entries = client[DB]["entries"]
    latencies = []
    try:
        for args in params:
            field, value = domain.lead_predicate(domain.query_terms(args["q"]), {})
            started = time.perf_counter()
            list(entries.find({field: value}, {"_id": 1}))
            latencies.append(time.perf_counter() - started)
    finally:
        client.close()
    return {"latency": summary_ms(latencies)}


def service_env(infra: Infra) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        {
            "MLP_ENV": "development",
            "MLP_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "MLP_MONGO_URI": infra.mongo_uri,
            "MLP_CATALOGUE_DB": DB,
            "MLP_JWT_SECRET": JWT_SECRET,
            "MLP_LOG_LEVEL": "WARNING",
            "PYTHONPATH": ".",
        }
    )
    return env


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalogue", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--practices", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--papers-per-event", type=int, default=4)
    parser.add_argument("--queries", type=int, default=200, help="measured queries per target")
    parser.add_argument("--output", type=Path, default=Path("var/bench/catalogue.json"))
    return parser.parse_args(argv)


def _ms(d: dict[str, Any]) -> str:
    return f"{d['p50_ms']:.1f} / {d['p99_ms']:.1f}"


def render(results: dict[str, Any]) -> str:
    api, page, base = results["api"], results["page"], results["baseline"]
    broad = results["broad"]
    rows = [
        ("", "p50 / p99 (ms)", "max (ms)", "errors"),
        (
            "GET /v1/search (JSON API)",
            _ms(api["latency"]),
            f"{api['latency']['max_ms']:.1f}",
            str(api["errors"]),
        ),
        (
            "GET /search (rendered page)",
            _ms(page["latency"]),
            f"{page['latency']['max_ms']:.1f}",
            str(page["errors"]),
        ),
        ("baseline: pymongo find", _ms(base["latency"]), f"{base['latency']['max_ms']:.1f}", ""),
        (
            "broad title word: API",
            _ms(broad["api"]["latency"]),
            f"{broad['api']['latency']['max_ms']:.1f}",
            str(broad["api"]["errors"]),
        ),
        (
            "broad title word: baseline",
            _ms(broad["baseline"]["latency"]),
            f"{broad['baseline']['latency']['max_ms']:.1f}",
            "",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    matches = api.get("matches", {})
    wide = broad["api"].get("matches", {})
    lines.append(
        f"\nmatches per query: median {matches.get('median')}, max {matches.get('max')}"
        f" (broad: median {wide.get('median')}, max {wide.get('max')})"
    )
    lines += [f"{'PASS' if v['pass'] else 'MISS'}  {v['aim']}: {v['got']}" for v in results["aims"]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    load_before = begin_run()
    log_dir = Path("var/bench/logs").resolve()
    started = datetime.now(UTC)
    print(
        f"Generating {args.practices} practices, {args.events} events and "
        f"{args.events * args.papers_per_event} papers ...",
        flush=True,
    )
    entries, _ = generate(args.practices, args.events, args.papers_per_event)
    params = queries(entries, args.queries)
    warmup = queries(entries, 20, seed=99)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlp-bench-")))
        infra = stack.enter_context(infrastructure(work))
        print(f"Loading {len(entries)} search entries ...", flush=True)
        load_s = load_programme(infra.mongo_uri, entries)
        port = free_port()
        web = gunicorn(
            "catalogue-web",
            "services.catalogue.app:create_app()",
            port,
            service_env(infra),
            log_dir,
        )
        stack.callback(web.stop)
        web.start()
        base = f"http://127.0.0.1:{port}"
        wait_ready(web, f"{base}/readyz")
        session = requests.Session()
        timed_gets(session, f"{base}/v1/search", warmup)
        timed_gets(session, f"{base}/search", warmup)
        print(f"{len(params)} queries: API, page, baseline ...", flush=True)
        api = timed_gets(session, f"{base}/v1/search", params)
        page = timed_gets(session, f"{base}/search", params)
        bare = baseline(infra.mongo_uri, params)
        broad_params = broad_queries(max(10, len(params) // 10))
        print(f"{len(broad_params)} broad queries: API, baseline ...", flush=True)
        broad = timed_gets(session, f"{base}/v1/search", broad_params)
        broad_bare = baseline(infra.mongo_uri, broad_params)
    p99 = api["latency"]["p99_ms"]
    results: dict[str, Any] = {
        "started_at": started.isoformat(),
        "config": {
            "practices": args.practices,
            "events": args.events,
            "papers": args.events * args.papers_per_event,
            "entries": len(entries),
            "queries": len(params),
            "load_s": round(load_s, 1),
            "infra": infra.description,
            "web_workers": int(os.environ.get("MLP_WEB_WORKERS", "2")),
            "web_threads": int(os.environ.get("MLP_WEB_THREADS", "4")),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": load_before,
        },
        "api": api,
        "page": page,
        "baseline": bare,
        "broad": {"api": broad, "baseline": broad_bare},
        "aims": [
            {
                "aim": f"API search p99 < {AIM_P99_MS:.0f} ms",
                "pass": p99 < AIM_P99_MS,
                "got": f"p99 {p99:.1f} ms (baseline p99 {bare['latency']['p99_ms']:.1f} ms)",
            }
        ],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    cfg = results["config"]
    print(
        f"\n{cfg['entries']} entries ({cfg['practices']} practices, {cfg['events']} events, "
        f"{cfg['papers']} papers; loaded in {cfg['load_s']} s), {cfg['queries']} queries, "
        f"{cfg['infra']}, gunicorn {cfg['web_workers']}x{cfg['web_threads']} on {cfg['cpus']} "
        "CPUs, one client\n"
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

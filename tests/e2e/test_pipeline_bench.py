"""The whole-pipeline benchmark (``python -m bench.pipeline``) at a tiny size, so
that it cannot rot: every measurement runs against real processes and its
figures add up (every mail sent arrived, every command was counted)."""

from __future__ import annotations

import json
import signal

import pytest

from bench import pipeline
from bench.stack import Infra

pytestmark = pytest.mark.infra


def test_pipeline_bench_measures_real_figures(topics, mongo, tmp_path):
    process = getattr(mongo, "process", None)  # a local server: its CPU time is measured
    groups = {"mongo": process.pid} if process is not None else {}
    infra = Infra(topics, mongo.uri, "tests", groups)

    figures = pipeline.run(
        infra,
        tmp_path,
        invitations=20,
        acceptances=10,
        rate=20.0,
        restarts=[("notifications", signal.SIGTERM)],
        timeout_s=60.0,
    )

    inv, bare, rsvp = figures["invitations"], figures["bare_loop"], figures["rsvp"]
    assert inv["mails_arrived"] == 20 and len(inv["arrivals_s"]) == 20
    assert 0 < inv["api_s"] <= inv["last_mail_s"]
    assert inv["mean_mail_bytes"] > 1000  # real invitation mails, with their calendar file
    # Every process counted its database commands, transactions among them.
    assert set(inv["commands"]) == {"invitations-web", "invitations-worker", "notifications-worker"}
    assert all(inv["commands"].values())
    assert inv["db_per_mail"]["commands"] > inv["db_per_mail"]["transactions"] > 0
    if groups:
        assert inv["db_cpu_ms_per_mail"] > 0
    assert bare["mails_arrived"] == 20
    assert abs(bare["mean_mail_bytes"] - inv["mean_mail_bytes"]) < 0.1 * inv["mean_mail_bytes"]
    assert rsvp["acceptances"] == rsvp["confirmations_arrived"] == 10
    assert len(rsvp["latencies_ms"]) == 10 and 0 < rsvp["p50_ms"] <= rsvp["max_ms"]
    assert rsvp["db_per_confirmation"]["transactions"] > 0
    [restart] = figures["restarts"]
    assert restart["handled"] and restart["first_record_s"] > 0

    text = pipeline.report(figures)
    assert "RSVP -> confirmation p99" in text and figures["aims"]
    json.dumps(figures)  # what main() writes
    pipeline.plot(figures, tmp_path / "pipeline.png")
    assert (tmp_path / "pipeline.png").stat().st_size > 10_000

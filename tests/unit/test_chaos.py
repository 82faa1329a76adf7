"""The fault campaign's own logic (``make chaos`` runs the campaign; these keep
its schedule, counting and order checks honest without running it)."""

from __future__ import annotations

import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from chaos import campaign, faults, verify
from chaos.faults import Injector, schedule
from chaos.mailsink import parse
from chaos.workload import Sizes
from deploy.local.ports import restartable_port
from deploy.local.services import ServiceProcess
from services.notifications import domain, mail
from tests.helpers import wait_for

WORKERS = {
    "events": ["events-worker"],
    "invitations": ["invitations-worker", "invitations-worker-2"],
    "notifications": ["notifications-worker", "notifications-worker-2"],
}


def test_the_schedule_holds_every_fault_the_campaign_promises_and_is_the_same_for_a_seed():
    faults = schedule(7, 900.0, WORKERS)
    assert faults == schedule(7, 900.0, WORKERS)
    assert faults != schedule(8, 900.0, WORKERS)
    kinds = Counter(f.kind for f in faults)
    assert kinds["kill-broker"] == 5
    assert kinds["kill-worker"] == 3 * len(WORKERS)
    assert kinds["kill-web"] == kinds["restart-mongo"] == kinds["smtp-down"] == 1
    assert kinds["webhooks-503"] == 1
    toxics = {(f.kind, f.target) for f in faults if f.kind in ("latency", "reset_peer", "timeout")}
    assert toxics == {
        (k, t) for k in ("latency", "reset_peer", "timeout") for t in ("kafka", "mongo")
    }
    assert all(10 <= f.duration_s <= 30 for f in faults if f.kind == "kill-broker")
    assert next(f for f in faults if f.kind == "smtp-down").duration_s == 60
    assert next(f for f in faults if f.kind == "webhooks-503").duration_s == 120
    # Both workers of a service with two are killed.
    killed = {f.target for f in faults if f.kind == "kill-worker"}
    assert {"invitations-worker", "invitations-worker-2"} <= killed
    assert all(0 < f.at_s <= 900.0 for f in faults)
    assert faults == sorted(faults, key=lambda f: f.at_s)


def test_a_tally_tells_lost_from_duplicated_from_resent():
    tally = verify.Tally()
    tally.count("a", 1, ["<m1>"])  # once: fine
    tally.count("b", 1, [])  # never came
    tally.count("c", 1, ["<m2>", "<m2>"])  # the same mail twice
    tally.count("d", 1, ["<m3>", "<m4>"])  # two mails where one was due
    assert (tally.expected, tally.seen) == (4, 4)  # distinct effects
    assert (tally.lost, tally.duplicated, tally.resent) == (1, 1, 1)
    assert len(tally.examples) == 2


def test_a_subject_whose_version_goes_back_is_out_of_order():
    rows = [
        {"partition": 0, "offset": 0, "data": {"invitation_id": "i1", "version": 1}},
        {"partition": 0, "offset": 1, "data": {"invitation_id": "i2", "version": 1}},
        {"partition": 0, "offset": 2, "data": {"invitation_id": "i1", "version": 3}},
        {"partition": 0, "offset": 3, "data": {"invitation_id": "i1", "version": 2}},
        {"partition": 0, "offset": 4, "data": {"invitation_id": "i2", "version": 2}},
    ]
    found = verify._disorder("invitation.accepted", rows, lambda r: (r["partition"], r["offset"]))
    assert found == ["invitation.accepted invitation_id=i1: version 2 after 3"]
    # Two notifications about one event each count their own versions (the
    # broken-build run first counted them as the event's, out of order).
    outcomes = [
        {"offset": k, "data": {"notification_id": n, "event_id": "e", "version": v}}
        for k, (n, v) in enumerate((("n1", 2), ("n2", 1)))
    ]
    assert verify._disorder("notification.sent", outcomes, lambda r: r["offset"]) == []


def test_the_sink_reads_template_message_id_calendar_and_rsvp_link_of_a_real_mail():
    event = {"title": "Peer review", "starts_on": "2027-03-10", "ends_on": "2027-03-11"}
    link = "http://127.0.0.1:8002/v1/rsvp/tok.en-1"
    rendered = mail.render("invitation", "de", {"event": event, "rsvp_url": link}, action_url=link)
    key = domain.idempotency_key("ce-1", "ana@example.ee", "invitation")
    raw = mail.build_message(
        rendered=rendered,
        sender="MLP <n@x.eu>",
        recipient="Ana@Example.EE",
        recipient_name="Ana",
        message_id=domain.message_id(key),
    )
    got = parse("Ana@Example.EE", raw, 1.0)
    assert (got.recipient, got.template, got.rsvp_link) == ("ana@example.ee", "invitation", link)
    assert got.message_id == domain.message_id(key)
    cancel = mail.render("cancelled", "fr", {"event": event})
    ics = mail.calendar(
        method="CANCEL",
        uid="ev-1.inv-1@mlp-ops",
        sequence=3,
        event=event,
        attendee_email="ana@example.ee",
        attendee_name="Ana",
        organizer="n@x.eu",
        url=None,
        language="fr",
    )
    raw = mail.build_message(
        rendered=cancel,
        sender="MLP <n@x.eu>",
        recipient="ana@example.ee",
        recipient_name="Ana",
        message_id="<k@x>",
        ics=ics,
        ics_method="CANCEL",
    )
    got = parse("ana@example.ee", raw, 1.0)
    assert (got.template, got.calendar_method, got.calendar_uid) == (
        "cancelled",
        "CANCEL",
        "ev-1.inv-1@mlp-ops",
    )


def _report(**overrides):
    report = {
        "when": "2026-12-01T00:00:00+00:00",
        "broken_build": False,
        "lost": 0,
        "duplicated": 0,
        "out_of_order": 0,
        "faults_injected": 3,
        "resent_same_effect": 0,
        "unexplained_5xx": 0,
        "read_model_disagreements": 0,
        "dead_lettered": 0,
        "quiescent": True,
        "workload_failure": "",
        "timings_s": {"workload": 1.0},
        "operations": {"events": 1},
        "effects": {"mail invitation": vars(verify.Tally(expected=1, seen=1))},
        "faults": [],
        "out_of_order_examples": [],
        "unexplained_5xx_examples": [],
        "read_model_examples": [],
        "restarted_by_supervisor": [],
    }
    return {**report, **overrides}


def test_a_run_passes_only_with_nothing_lost_duplicated_or_out_of_order():
    assert campaign.passed(_report())
    assert "**PASSED**" in campaign.markdown(_report())
    for failing in ({"lost": 1}, {"duplicated": 2}, {"out_of_order": 1}, {"quiescent": False}):
        assert not campaign.passed(_report(**failing))
        assert "**FAILED**" in campaign.markdown(_report(**failing))
    assert campaign.passed(_report(resent_same_effect=1))  # the same Message-ID twice


def test_the_default_sizes_are_the_issues_minimums():
    sizes = Sizes()
    assert (sizes.events, sizes.invitations, sizes.rsvps, sizes.documents) == (
        200,
        10_000,
        3000,
        500,
    )
    assert (sizes.changes, sizes.cancellations) == (50, 10)
    # More accepts in the first round than places: some wait and are promoted.
    first_round_accepts = (sizes.answers_per_event * 4 // 5) * 3 // 4
    assert first_round_accepts > sizes.capacity


def test_restartable_ports_are_distinct_free_and_outside_the_ephemeral_range():
    ports = [restartable_port() for _ in range(20)]
    assert len(set(ports)) == 20
    assert all(20000 <= p < 32768 for p in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[0]))  # free when given


def test_the_supervisor_restarts_a_process_that_died_but_not_one_stopped_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The default run's processes, stopped when the campaign ended, were restarted
    # by the supervisor and left running, and listed as findings of the run.
    monkeypatch.setattr(faults, "SUPERVISE_EVERY_S", 0.1)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    process = ServiceProcess(sleeper, {}, tmp_path / "sleeper.log").start()
    system = cast(Any, SimpleNamespace(processes={"events-worker": process}))
    injector = Injector(system, [])
    try:
        with injector.injecting(time.monotonic()):
            process.signal(signal.SIGKILL)  # it dies by itself, as far as anyone knows
            wait_for(lambda: len(injector.supervised) == 1 and process.alive, timeout_s=10)
            assert "events-worker exited (-9), started again" in injector.supervised[0]
        assert not injector.supervisor.is_alive()
        assert process.stop(timeout=5) is not None
        time.sleep(0.5)  # five supervision periods
        assert not process.alive
        assert len(injector.supervised) == 1
    finally:
        process.kill()

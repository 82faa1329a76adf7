"""``make demo`` against the running system: events, invitations, notifications
and surveys as processes and the SMTP sink. It loads the programme, and the two
past events it surveys end with published results that the programme's
figures per year show and the chart draws."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import requests

from deploy.local import demo
from deploy.local.ports import free_port
from devkit.auth import auth


def test_the_demo_fills_two_surveys_and_the_programme_figures_show_them(
    start_service, topics, smtp_sink
):
    port = free_port()
    env = {
        "notifications": {"MLP_SMTP_PORT": str(smtp_sink.port), "MLP_MAIL_POLL_SECONDS": "0.1"},
        "surveys": {"MLP_SURVEYS_PUBLIC_URL": f"http://127.0.0.1:{port}"},
    }
    services = {
        name: start_service(
            name, topics, env=env.get(name), port=port if name == "surveys" else None
        )
        for name in ("events", "invitations", "notifications", "surveys")
    }
    headers = auth("secretariat", sub="demo-secretariat")
    clients = demo.Clients(
        events=demo.EventsClient(services["events"].base_url, headers),
        invitations=demo.InvitationsClient(services["invitations"].base_url, headers),
        surveys=demo.SurveysClient(services["surveys"].base_url, headers),
    )
    counts = demo.load(clients, smtp_sink.maildir)
    assert counts["created"] == len(demo.PROGRAMME) and counts["surveyed"] == 2
    surveyed = [item for item in demo.PROGRAMME if item.participants]
    for item in surveyed:
        year = int(item.body["starts_on"][:4])
        figures = clients.surveys.programme(year=year)
        [event] = figures["events"]
        assert event["title"] == item.body["title"]
        assert 0 < figures["responses"] <= len(item.participants) == figures["invited"]
        shares = {q["id"]: q.get("agree_share") for q in figures["questions"]}
        assert all(0 <= shares[s] <= 1 for s in ("knowledge", "understanding", "needs_matched"))
        chart = requests.get(
            f"{clients.surveys.base_url}/v1/survey-results.svg", params={"year": year}, timeout=30
        )
        root = ET.fromstring(chart.content)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        bars = {
            g.get("id").split("-")[1]
            for g in root.iter("{http://www.w3.org/2000/svg}g")
            if (g.get("id") or "").startswith("bar-")
        }
        assert bars == {"knowledge", "understanding", "needs_matched"}  # one bar per statement
    demo.report(clients)
    again = demo.load(clients, smtp_sink.maildir)  # a second run changes nothing
    assert again["skipped"] == len(demo.PROGRAMME) and again["created"] == 0

"""``make demo`` against the running system: every service as processes, the
SMTP sink, Kafka and MongoDB. It loads the programme and exercises every
service: invitations answered through the RSVP links mailed to people, papers
uploaded, reviewed and published, registrations to the public conference
confirmed and cancelled through their mailed links, a peer review run by
nominations (quotas, coordinators nominate, the secretariat approves, nominees
answer through their RSVP links), two past events surveyed
through the survey links with published results the programme's figures show
and the chart draws, practices with their follow-ups in the catalogue, mails in
the sink, a partner's webhook subscription with signed deliveries. A second run
creates nothing new."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import requests

from deploy.catalog import names
from deploy.local import demo
from deploy.local.ports import free_port
from devkit import mail
from devkit.auth import auth


def test_the_demo_exercises_every_service_and_runs_again_without_duplicates(
    start_service, topics, smtp_sink, capsys
):
    ports = {"invitations": free_port(), "surveys": free_port()}
    env = {
        "invitations": {"MLP_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['invitations']}"},
        "notifications": {"MLP_SMTP_PORT": str(smtp_sink.port), "MLP_MAIL_POLL_SECONDS": "0.1"},
        "surveys": {"MLP_SURVEYS_PUBLIC_URL": f"http://127.0.0.1:{ports['surveys']}"},
    }
    services = {
        name: start_service(name, topics, env=env.get(name), port=ports.get(name))
        for name in names()
    }
    secretariat = auth("secretariat", sub="demo-secretariat")
    clients = demo.Clients(
        events=demo.EventsClient(services["events"].base_url, secretariat),
        invitations=demo.InvitationsClient(services["invitations"].base_url, secretariat),
        documents=demo.DocumentsClient(services["documents"].base_url, secretariat),
        notifications=demo.NotificationsClient(
            services["notifications"].base_url, auth("partner", sub="demo-partner")
        ),
        surveys=demo.SurveysClient(services["surveys"].base_url, secretariat),
        catalogue=demo.CatalogueClient(services["catalogue"].base_url, secretariat),
    )
    assert {c.service for c in clients.all()} == set(names())  # every service is exercised
    counts = demo.load(clients, smtp_sink.maildir)
    assert counts["created"] == len(demo.PROGRAMME) and counts["skipped"] == 0
    assert counts["surveyed"] == 2
    said = capsys.readouterr().out

    kurzarbeit = clients.events.find(demo.KURZARBEIT)
    by_status = clients.invitations.counts(kurzarbeit)
    answers = [p.answer for p in demo.KURZARBEIT_PEOPLE]
    assert by_status == {
        "accepted": answers.count("accept"),
        "declined": answers.count("decline"),
        "pending": answers.count(None),
    }
    papers = {p["title"]: p["status"] for p in clients.documents.papers(kurzarbeit)}
    assert papers == {
        paper.title: "published" if paper.publish else "approved"
        for paper in demo.KURZARBEIT_PAPERS
    }
    conference = clients.events.find(demo.CONFERENCE)
    registered = clients.invitations.registrations(conference)["counts"]["by_status"]
    people = demo.CONFERENCE_PEOPLE
    assert registered == {
        "accepted": sum(p.confirms and not p.cancels for p in people),
        "cancelled": sum(p.cancels for p in people),
        "unconfirmed": sum(not p.confirms for p in people),
    }
    peer_review = clients.events.find(demo.NOMINATED)
    nominations = clients.invitations.nominations(peer_review)["counts"]
    assert {c: row["places"] for c, row in nominations.items()} == demo.NOMINATION_QUOTAS
    # Lithuania's declining nominee gave the place back.
    assert nominations["LT"]["remaining"] == 1
    assert nominations["LT"]["by_status"] == {"approved": 1, "declined": 1}
    nominees = [p.answer for p in demo.NOMINEES]
    nominated = {
        "accepted": nominees.count("accept"),
        "declined": nominees.count("decline"),
        "pending": nominees.count(None),
    }
    assert clients.invitations.counts(peer_review) == nominated
    for item in (item for item in demo.PROGRAMME if item.participants):
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
        bars = {
            g.get("id").split("-")[1]
            for g in ET.fromstring(chart.content).iter("{http://www.w3.org/2000/svg}g")
            if (g.get("id") or "").startswith("bar-")
        }
        assert bars == {"knowledge", "understanding", "needs_matched"}  # one bar per statement
    assert all(clients.catalogue.find(p.body["title"]) for p in demo.PRACTICES)
    mails_before = demo.settled_mail(smtp_sink.maildir)
    # The demo's own mails: the session's broker may hold other tests' records that
    # the notifications group has not read yet, which the demo's worker mails too.
    subjects = [
        mail.subject(m)
        for m in mail.messages(smtp_sink.maildir)
        if mail.recipient(m).endswith(".demo.mlp.example")
    ]
    german = sum(p.language == "de" for p in (*demo.KURZARBEIT_PEOPLE, *demo.NOMINEES))
    assert sum(s.startswith("Bitte antworten Sie bis zum") for s in subjects) == german
    assert any(s.startswith("Merci de répondre avant le") for s in subjects)
    [(succeeded, valid, received)] = re.findall(
        r"webhooks: \d+ deliveries \((\d+) succeeded\), (\d+) of (\d+) received with a valid",
        said,
    )
    assert int(succeeded) >= len(demo.KURZARBEIT_PEOPLE) and valid == received == succeeded
    assert clients.notifications.subscriptions() == []  # the demo's receiver is gone

    again = demo.load(clients, smtp_sink.maildir)  # a second run changes nothing
    assert again["skipped"] == len(demo.PROGRAMME) and again["created"] == 0
    assert clients.invitations.counts(kurzarbeit) == by_status
    assert clients.invitations.registrations(conference)["counts"]["by_status"] == registered
    assert clients.invitations.counts(peer_review) == nominated
    assert len(clients.documents.papers(kurzarbeit)) == len(demo.KURZARBEIT_PAPERS)
    assert demo.settled_mail(smtp_sink.maildir) == mails_before

"""``make demo`` against the running system: events, invitations, documents and
notifications as processes, the SMTP sink, Kafka and MongoDB. It loads the
programme and exercises every service: invitations answered through the RSVP
links mailed to people, papers uploaded, reviewed and published, registrations
to the public conference confirmed and cancelled through their mailed links,
a peer review run by nominations (quotas, coordinators nominate, the
secretariat approves, nominees answer through their RSVP links), mails in the
sink, a partner's webhook subscription with signed deliveries. A second run
creates nothing new."""

from __future__ import annotations

import re

from deploy.local import demo
from deploy.local.ports import free_port
from devkit import mail
from devkit.auth import auth


def test_the_demo_exercises_every_service_and_runs_again_without_duplicates(
    start_service, topics, smtp_sink, capsys
):
    invitations_port = free_port()
    env = {
        "invitations": {"MLP_PUBLIC_BASE_URL": f"http://127.0.0.1:{invitations_port}"},
        "notifications": {"MLP_SMTP_PORT": str(smtp_sink.port), "MLP_MAIL_POLL_SECONDS": "0.1"},
    }
    services = {
        name: start_service(
            name,
            topics,
            env=env.get(name),
            port=invitations_port if name == "invitations" else None,
        )
        for name in ("events", "invitations", "documents", "notifications")
    }
    secretariat = auth("secretariat", sub="demo-secretariat")
    clients = demo.Clients(
        events=demo.EventsClient(services["events"].base_url, secretariat),
        invitations=demo.InvitationsClient(services["invitations"].base_url, secretariat),
        documents=demo.DocumentsClient(services["documents"].base_url, secretariat),
        notifications=demo.NotificationsClient(
            services["notifications"].base_url, auth("partner", sub="demo-partner")
        ),
    )
    counts = demo.load(clients, smtp_sink.maildir)
    assert counts["created"] == len(demo.PROGRAMME) and counts["skipped"] == 0
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
    mails_before = demo.settled_mail(smtp_sink.maildir)
    subjects = [mail.subject(m) for m in mail.messages(smtp_sink.maildir)]
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

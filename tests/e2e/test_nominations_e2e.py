"""National nominations end to end: the events, invitations and notifications
services as real processes (gunicorn ``web`` and ``worker``), real Kafka and
MongoDB, and the SMTP sink, where coordinators and nominees find their mails.

A peer review with quotas LT 2 / DE 2 / EE 4: the coordinators are asked, the
LT coordinator nominates 2 (a third is 409), the DE coordinator cannot see
LT's nominations, the secretariat approves → invitation mails with RSVP links;
a nominee declines → LT's remaining places go back to 1 and its coordinator
is told; every step is in the invitation's audit trail."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import requests

from deploy.local.ports import free_port
from devkit import mail
from devkit.auth import auth
from devkit.samples import event_body
from tests.helpers import not_yet_published_there, wait_for

SEC = auth("secretariat", sub="secretariat-1")
LT = auth("coordinator", country="LT", sub="ncp-lt")
DE = auth("coordinator", country="DE", sub="ncp-de")
COORDINATORS = {
    "LT": ("ncp@socmin.example.lt", "fr"),
    "DE": ("nkp@bmas.example.de", "de"),
    "EE": ("ncp@sm.example.ee", "en"),
}
QUOTAS = {"LT": {"places": 2}, "DE": {"places": 2}, "EE": {"places": 4}}


def _nominee(n: int) -> dict:
    return {
        "email": f"nominee.{n}@socmin.example.lt",
        "name": f"Nominee {n}",
        "organisation": "Ministry of Social Security and Labour",
        "role": "government_official",
        "language": "en",
    }


def _to(sink, email: str) -> list:
    return [m for m in sink.messages() if mail.recipient(m) == email]


def _put_quotas_when_known(base_url: str, event_id: str, body: dict) -> requests.Response:
    """The invitations service learns of the event from event.published (a draft
    from event.created before it): retry until then."""
    deadline = time.monotonic() + 90
    while True:
        response = requests.put(
            f"{base_url}/v1/events/{event_id}/quotas", json=body, headers=SEC, timeout=30
        )
        if not not_yet_published_there(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def test_a_peer_review_run_by_nominations(start_service, topics, smtp_sink, monkeypatch):
    monkeypatch.setenv("MLP_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("MLP_MAIL_POLL_SECONDS", "0.1")
    events = start_service("events", topics)
    port = free_port()  # the RSVP links the mails carry point at this web
    invitations = start_service(
        "invitations",
        topics,
        port=port,
        env={"MLP_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
    )
    start_service("notifications", topics)
    api = invitations.base_url

    starts = date.today() + timedelta(days=90)
    created = requests.post(
        f"{events.base_url}/v1/events",
        json=event_body(
            title="Peer review: activation of the long-term unemployed",
            host_country="EE",
            guest_countries=["LT", "DE"],
            starts_on=starts.isoformat(),
            ends_on=(starts + timedelta(days=1)).isoformat(),
            registration_deadline=(datetime.now(UTC) + timedelta(days=60)).isoformat(),
            visibility="invitation_only",
            registration="nomination",
            nomination_deadline=(datetime.now(UTC) + timedelta(days=30)).isoformat(),
            capacity=12,
        ),
        headers=SEC,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert requests.post(f"{events.base_url}/v1/events/{event_id}/publish", headers=SEC).ok

    # The secretariat keeps the registry of national contact points.
    for country, (email, language) in COORDINATORS.items():
        body = {"country": country, "email": email, "name": f"NCP {country}", "language": language}
        added = requests.post(f"{api}/v1/coordinators", json=body, headers=SEC, timeout=30)
        assert added.status_code == 201, added.text

    # A quota for a country that is neither host nor guest: 422, nothing written.
    bad = _put_quotas_when_known(api, event_id, {**QUOTAS, "FR": {"places": 1}})
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    assert "FR" in bad.json()["errors"]
    shown = requests.get(f"{api}/v1/events/{event_id}/quotas", headers=SEC, timeout=30).json()
    assert shown["countries"] == {}
    put = requests.put(f"{api}/v1/events/{event_id}/quotas", json=QUOTAS, headers=SEC, timeout=30)
    assert put.status_code == 200, put.text
    assert {c: q["remaining"] for c, q in put.json()["countries"].items()} == {
        "DE": 2,
        "EE": 4,
        "LT": 2,
    }

    # Each coordinator is asked in their language, their country by name.
    asked = {
        country: wait_for(lambda e=email: _to(smtp_sink, e), timeout_s=90)[0]
        for country, (email, _) in COORDINATORS.items()
    }
    assert mail.subject(asked["LT"]).startswith("Lituanie : merci de désigner jusqu'à 2")
    assert mail.subject(asked["DE"]).startswith("Deutschland: Bitte benennen Sie bis zu 2")
    assert mail.subject(asked["EE"]).startswith("Estonia: please nominate up to 4")

    # LT nominates two; a third is beyond the quota.
    url = f"{api}/v1/events/{event_id}/nominations"
    ids = []
    for n in (1, 2):
        nominated = requests.post(url, json=_nominee(n), headers=LT, timeout=30)
        assert nominated.status_code == 201, nominated.text
        ids.append(nominated.json()["id"])
    third = requests.post(url, json=_nominee(3), headers=LT, timeout=30)
    assert third.status_code == 409
    assert third.headers["Content-Type"] == "application/problem+json"
    # Without a country claim: 403, nothing written.
    nowhere = requests.post(url, json=_nominee(4), headers=auth("coordinator"), timeout=30)
    assert nowhere.status_code == 403

    # The DE coordinator sees none of LT's.
    theirs = requests.get(url, headers=DE, timeout=30).json()
    assert theirs["total"] == 0 and theirs["quota"]["remaining"] == 2
    assert requests.get(f"{api}/v1/nominations/{ids[0]}", headers=DE, timeout=30).status_code == 404
    assert requests.get(f"{url}?country=LT", headers=DE, timeout=30).status_code == 403

    # The secretariat approves: invitation mails with RSVP links go to the nominees.
    for nomination_id in ids:
        approved = requests.post(
            f"{api}/v1/nominations/{nomination_id}/approve", headers=SEC, timeout=30
        )
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
    invited = {
        n: wait_for(lambda n=n: _to(smtp_sink, _nominee(n)["email"]), timeout_s=90)[0]
        for n in (1, 2)
    }
    for message in invited.values():
        assert "you are invited to Peer review" in mail.subject(message)
        assert "national contact point nominated you" in mail.text(message)
        assert mail.links(message, "/v1/rsvp/")
    lt_email = COORDINATORS["LT"][0]
    # Its coordinator hears of each approval, in French.
    wait_for(
        lambda: sum(mail.subject(m).startswith("Retenue") for m in _to(smtp_sink, lt_email)) == 2,
        timeout_s=90,
    )

    # Nominee 1 declines through the link: LT has one place again, and is told.
    rsvp = mail.links(invited[1], "/v1/rsvp/")[0]
    declined = requests.post(rsvp, json={"response": "decline"}, timeout=30)
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    mine = requests.get(url, headers=LT, timeout=30).json()
    assert mine["quota"]["remaining"] == 1
    assert sorted(i["status"] for i in mine["items"]) == ["approved", "declined"]
    freed = wait_for(
        lambda: [m for m in _to(smtp_sink, lt_email) if "de nouveau libre" in mail.subject(m)],
        timeout_s=90,
    )
    assert "Lituanie" in mail.subject(freed[0]) and "1" in mail.text(freed[0])
    # The place is LT's to give again.
    assert requests.post(url, json=_nominee(5), headers=LT, timeout=30).status_code == 201

    # The whole story is in the invitation's audit trail.
    nomination = requests.get(f"{api}/v1/nominations/{ids[0]}", headers=SEC, timeout=30).json()
    trail = requests.get(
        f"{api}/v1/invitations/{nomination['invitation_id']}/history", headers=SEC, timeout=30
    ).json()["items"]
    assert [(h["action"], h["by"]) for h in trail] == [
        ("nominate", "ncp-lt"),
        ("approve", "secretariat-1"),
        ("answer", "invitee"),
    ]
    # Participation records state their origin.
    records = requests.get(
        f"{api}/v1/events/{event_id}/invitations?origin=nomination", headers=SEC, timeout=30
    ).json()
    assert records["counts"]["by_status"] == {"pending": 1, "declined": 1}

"""Load a realistic mutual-learning programme into the running system and
exercise every service with it (``make demo``).

Everything goes through the services' public HTTP APIs with development tokens,
so every change is announced on Kafka like any other; what people do, they do
through the personal links the notifications service mailed them, read from
the local SMTP sink's Maildir (``MLP_MAIL_DIR``): those links exist nowhere
else, since the services store only their hashes.

1. The programme: events from the record (the gender-equality programme's
   exchange-of-good-practice seminars are those of the record, host, month and
   topic, each placed on the second Tuesday and Wednesday of its month; follow-up
   events name the peer review they continue), plus a public conference and a
   peer review run by national nominations; the events the demo works with lie
   a few months ahead of the day it runs, so they are open whenever it does.
   Two past events also get their participant survey: the secretariat invites
   the participants and records their acceptance on their behalf (as for an
   answer given by phone), completes the event, and each participant answers
   through the survey link mailed to them; the secretariat closes the surveys
   and publishes the results, so ``/v1/survey-results?year=2024`` shows the
   programme's figures.
2. A partner subscribes to webhooks: a receiver the demo runs on 127.0.0.1
   (``devkit.webhooks.Receiver``) gets every delivery, signed.
3. The peer review on short-time work: the secretariat invites officials of the
   host and peer countries and an expert; each answers through the RSVP link
   in their mail (most accept, one declines, one has not answered yet).
4. Its papers: the host country paper and comments papers are uploaded,
   submitted and approved (each step names the version read), so accepted
   participants are mailed; the host country paper is published to everyone.
5. The public conference with open registration: people register without an
   account, confirm through the mailed link (one never does), and one
   cancels through the link in their confirmation.
6. The peer review run by nominations: the secretariat registers the national
   contact points and sets each country's places, coordinators nominate their
   officials, the secretariat approves, and the nominees answer through their
   RSVP links (one declines, which gives the place back).
7. The programme's record in the catalogue: two published papers of past
   events, and the practices presented there with their follow-ups (OSKA, the
   Lithuanian PES model with "LT adopted 2017", ...).
8. What each service now holds, and where to look; ``main`` last has headless
   Chromium write screenshots of the website's main pages under
   ``var/screenshots/`` (skipped with a sentence where no browser is installed).

Running it again creates nothing twice: events are found by title, invitations
registrations and nominations by address, papers by kind and title, practices by title; the
webhook subscription (its receiver lives only as long as the demo) is removed
at the end.
"""

from __future__ import annotations

import calendar
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from deploy.local.settings import LocalStack
from devkit import browser, mail
from devkit.auth import auth
from devkit.webhooks import Receiver
from shared.config import Env

TIMEOUT_S = 10.0
WAIT_S = 120.0  # for a service to learn of an event, or for mails and deliveries
SCREENSHOTS = Path("var/screenshots")


def upcoming(
    days_ahead: int, length: int, timezone: str, answer_days: int
) -> tuple[tuple[str, str], str]:
    """An event's days ``days_ahead`` from today and its deadline at 23:59 local
    time ``answer_days`` before it starts (the RSVP page shows it in that zone)."""
    starts = date.today() + timedelta(days=days_ahead)
    ends = starts + timedelta(days=length - 1)
    local = datetime.combine(starts - timedelta(days=answer_days), day_time(23, 59))
    return (starts.isoformat(), ends.isoformat()), local.replace(
        tzinfo=ZoneInfo(timezone)
    ).isoformat()


@dataclass(frozen=True)
class DemoEvent:
    """One programme event and the status it should end in."""

    body: dict[str, Any]
    status: str = "published"  # draft | published | completed | cancelled
    reason: str = ""
    participants: tuple[str, ...] = ()  # countries of those who attend and are surveyed
    follows_up: tuple[str, ...] = ()  # titles of earlier demo events it continues
    steps: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        steps = {
            "draft": (),
            "published": ("publish",),
            "completed": ("publish", "complete"),
            "cancelled": ("publish", "cancel"),
        }[self.status]
        object.__setattr__(self, "steps", steps)


def _event(
    title: str,
    summary: str,
    fmt: str,
    programme: str,
    host: str,
    guests: list[str],
    dates: tuple[str, str],
    city: str,
    timezone: str,
    languages: list[str],
    deadline: str | None,
    tags: list[str],
    *,
    capacity: int | None = 40,
    visibility: str = "public",
    online: bool = False,
    registration: str = "invitation",
    nomination_deadline: str | None = None,
) -> dict[str, Any]:
    body = {
        "title": title,
        "summary": summary,
        "format": fmt,
        "programme": programme,
        "host_country": host,
        "guest_countries": guests,
        "starts_on": dates[0],
        "ends_on": dates[1],
        "timezone": timezone,
        "venue": {"city": city, "country": host, "online": online},
        "languages": languages,
        "capacity": capacity,
        "registration_deadline": deadline,
        "visibility": visibility,
        "tags": tags,
    }
    if registration != "invitation":
        body["registration"] = registration
    if nomination_deadline:
        body["nomination_deadline"] = nomination_deadline
    return body


KURZARBEIT_DAYS, KURZARBEIT_DEADLINE = upcoming(120, 2, "Europe/Berlin", 25)
CONFERENCE_DAYS, CONFERENCE_DEADLINE = upcoming(150, 1, "Europe/Brussels", 10)
NOMINATED_DAYS, NOMINATED_DEADLINE = upcoming(90, 2, "Europe/Tallinn", 21)
_, NOMINATION_DEADLINE = upcoming(90, 2, "Europe/Tallinn", 35)
KURZARBEIT = "Germany's Kurzarbeit: short-time work as a crisis instrument"
CONFERENCE = "Mutual Learning Programme annual conference: skills for the twin transition"
NOMINATED = "Estonia's work ability reform: back to work with a reduced capacity"

PROGRAMME: tuple[DemoEvent, ...] = (
    DemoEvent(
        _event(
            "Skills forecasting: Estonia's OSKA system",
            "Peer review of OSKA, Estonia's labour-market and skills forecasting system run by "
            "the Education and Youth Board: sector panels of employers, trainers and ministries "
            "agree on future skills needs, which steer study places and adult learning.",
            "peer_review",
            "employment",
            "EE",
            ["LV", "FI", "PT", "IE", "BE", "HR"],
            ("2024-10-15", "2024-10-16"),
            "Tallinn",
            "Europe/Tallinn",
            ["en", "et"],
            None,  # invited by hand: the survey demo invites its participants afterwards
            ["skills", "forecasting", "anticipation"],
        ),
        status="completed",
        participants=("EE",) * 5 + ("LV", "LV", "FI", "FI", "PT", "IE", "BE", "HR"),
    ),
    DemoEvent(
        _event(
            "Lithuania's PES client-service model",
            "Peer review of the Lithuanian Employment Service's segmented client-service model: "
            "profiling at registration, case managers for people furthest from the labour "
            "market, and digital self-service for the job-ready.",
            "peer_review",
            "employment",
            "LT",
            ["EE", "PL", "SK", "SI", "AT", "NL", "CY"],
            ("2025-04-08", "2025-04-09"),
            "Vilnius",
            "Europe/Vilnius",
            ["en", "lt"],
            None,
            ["pes", "profiling", "case_management"],
            visibility="invitation_only",
        ),
        status="completed",
        participants=("LT",) * 6 + ("EE", "EE", "PL", "PL", "SK", "SI", "AT", "NL", "CY"),
    ),
    DemoEvent(
        _event(
            "Finland's youth guarantee and the Ohjaamo one-stop guidance centres",
            "Peer review of how Finland delivers its youth guarantee through Ohjaamo centres, "
            "where employment, education, social and health services meet young people under "
            "thirty under one roof.",
            "peer_review",
            "employment",
            "FI",
            ["SE", "DK", "EE", "LV", "RO", "IT", "FR"],
            ("2026-09-29", "2026-09-30"),
            "Helsinki",
            "Europe/Helsinki",
            ["en", "fi"],
            "2026-09-04T17:00:00+03:00",
            ["youth_guarantee", "neet", "one_stop_shop"],
        ),
        status="completed",
    ),
    DemoEvent(
        _event(
            "Austria's dual apprenticeship and the training guarantee",
            "Learning exchange on Austria's apprenticeship system: company-based training "
            "with part-time vocational school, supra-company apprenticeships under the "
            "training guarantee up to age 25, and the role of the social partners.",
            "learning_exchange",
            "employment",
            "AT",
            ["HU", "SK", "HR", "RS"],
            ("2027-03-16", "2027-03-17"),
            "Vienna",
            "Europe/Vienna",
            ["en", "de"],
            "2027-02-19T17:00:00+01:00",
            ["apprenticeship", "vet", "training_guarantee"],
            capacity=25,
            visibility="invitation_only",
        ),
    ),
    DemoEvent(
        _event(
            KURZARBEIT,
            "Peer review of the German short-time work allowance (Kurzarbeitergeld): how the "
            "Federal Employment Agency scaled it in the 2009 and 2020 crises, its costs, "
            "deadweight and the link to training during reduced hours.",
            "peer_review",
            "employment",
            "DE",
            ["FR", "IT", "ES", "PT", "NL", "CZ", "SI", "LU"],
            KURZARBEIT_DAYS,
            "Nuremberg",
            "Europe/Berlin",
            ["en", "de"],
            KURZARBEIT_DEADLINE,
            ["short_time_work", "job_retention", "crisis"],
        ),
    ),
    DemoEvent(
        _event(
            "Portugal's Decent Work Agenda: platform work and young workers",
            "Dissemination seminar presenting the results of the mutual learning on "
            "Portugal's 2023 Decent Work Agenda, including the presumption of employment for "
            "platform workers, to national labour inspectors, social partners and NGOs.",
            "dissemination_seminar",
            "employment",
            "PT",
            [],
            ("2027-05-11", "2027-05-11"),
            "Lisbon",
            "Europe/Lisbon",
            ["pt", "en"],
            "2027-04-23T18:00:00+01:00",
            ["platform_work", "decent_work", "labour_inspection"],
            capacity=120,
        ),
    ),
    DemoEvent(
        _event(
            "Spain's Riders Law and algorithmic management",
            "Thematic event on Spain's 2021 Riders Law: the presumption of employment for "
            "delivery riders and the workers' right to know the algorithms that manage them.",
            "thematic_event",
            "employment",
            "ES",
            ["FR", "IT", "BE", "NL", "PT", "CY", "IE"],
            ("2027-06-08", "2027-06-09"),
            "Madrid",
            "Europe/Madrid",
            ["en", "es"],
            "2027-05-14T17:00:00+02:00",
            ["platform_work", "algorithmic_management"],
            capacity=50,
        ),
    ),
    DemoEvent(
        _event(
            CONFERENCE,
            "Public conference closing the year's cycle: results of its peer reviews on "
            "skills, youth employment and job retention, with ministers, social partners and "
            "the European Commission.",
            "conference",
            "employment",
            "BE",
            ["EE", "LT", "FI", "AT", "DE", "PT", "ES", "IE", "SE", "GR", "FR", "IT", "PL"],
            CONFERENCE_DAYS,
            "Brussels",
            "Europe/Brussels",
            ["en", "fr", "de"],
            CONFERENCE_DEADLINE,
            ["skills", "green_transition", "digital_transition"],
            capacity=300,
            registration="open",
        ),
    ),
    DemoEvent(
        _event(
            NOMINATED,
            "Peer review of Estonia's 2016 work ability reform: the Unemployment Insurance "
            "Fund assesses what people with a reduced capacity for work can do, pays the work "
            "ability allowance and supports them back to work. Each country's participants are "
            "nominated by its national contact point within the places the secretariat set.",
            "peer_review",
            "employment",
            "EE",
            ["LT", "DE", "LV", "FI"],
            NOMINATED_DAYS,
            "Tallinn",
            "Europe/Tallinn",
            ["en", "et"],
            NOMINATED_DEADLINE,
            ["work_ability", "disability", "activation"],
            capacity=16,
            visibility="invitation_only",
            registration="nomination",
            nomination_deadline=NOMINATION_DEADLINE,
        ),
    ),
    DemoEvent(
        _event(
            "Ireland's Intreo one-stop shop for jobseekers",
            "Peer review of Intreo, Ireland's integrated employment and income-support "
            "service, and of the Pathways to Work strategy's activation measures.",
            "peer_review",
            "employment",
            "IE",
            ["BE", "NL", "LT", "MT"],
            ("2027-09-21", "2027-09-22"),
            "Dublin",
            "Europe/Dublin",
            ["en", "ga"],
            "2027-08-27T17:00:00+01:00",
            ["pes", "activation", "one_stop_shop"],
            visibility="invitation_only",
        ),
        status="draft",
    ),
    DemoEvent(
        _event(
            "Slovenia's long-term care reform and informal carers",
            "Learning exchange on Slovenia's 2023 Long-Term Care Act: cash and in-kind "
            "benefits, the new status of family carer and the effect on women's employment.",
            "learning_exchange",
            "gender_equality",
            "SI",
            ["HR", "AT", "IT"],
            ("2027-02-23", "2027-02-24"),
            "Ljubljana",
            "Europe/Ljubljana",
            ["en", "sl"],
            "2027-01-29T17:00:00+01:00",
            ["long_term_care", "carers", "work_life_balance"],
            capacity=20,
        ),
        status="cancelled",
        reason="The host ministry asked to postpone while the care-insurance contribution "
        "is renegotiated; a new date will be proposed in 2027.",
    ),
)


def _second_tuesday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(calendar.TUESDAY - first.weekday()) % 7 + 7)


def _seminar(
    host: str,
    year: int,
    month: int,
    title: str,
    summary: str,
    city: str,
    timezone: str,
    tags: list[str],
    guests: tuple[str, ...] = (),
) -> DemoEvent:
    """An exchange-of-good-practice seminar of the gender-equality programme, completed."""
    starts = _second_tuesday(year, month)
    deadline = (starts - timedelta(days=21)).isoformat() + "T17:00:00+00:00"
    return DemoEvent(
        _event(
            title,
            summary,
            "good_practice_seminar",
            "gender_equality",
            host,
            list(guests),
            (starts.isoformat(), (starts + timedelta(days=1)).isoformat()),
            city,
            timezone,
            ["en"],
            deadline,
            tags,
        ),
        status="completed",
    )


# The gender-equality programme's exchange-of-good-practice seminars, 2014-2018.
GENDER_EQUALITY_SEMINARS: tuple[DemoEvent, ...] = (
    _seminar(
        "AT",
        2014,
        6,
        "Gender impact assessment in Austria",
        "Exchange of good practice on Austria's gender impact assessment of laws, "
        "budgets and programmes.",
        "Vienna",
        "Europe/Vienna",
        ["gender_impact_assessment", "gender_budgeting"],
    ),
    _seminar(
        "GB",
        2014,
        9,
        "Female entrepreneurship in the United Kingdom",
        "Exchange of good practice on support for women starting and growing businesses.",
        "London",
        "Europe/London",
        ["female_entrepreneurship", "start_ups"],
    ),
    _seminar(
        "FI",
        2014,
        10,
        "The role of men in gender equality: Finland",
        "Exchange of good practice on engaging men and boys in gender equality, from "
        "fathers' leave to equality work in schools.",
        "Helsinki",
        "Europe/Helsinki",
        ["men_and_gender_equality", "fathers"],
    ),
    _seminar(
        "DK",
        2015,
        9,
        "Gender segregation in the labour market and education: Denmark",
        "Exchange of good practice on reducing gender segregation in education choices "
        "and occupations.",
        "Copenhagen",
        "Europe/Copenhagen",
        ["gender_segregation", "education"],
    ),
    _seminar(
        "FR",
        2015,
        10,
        "Support for single parents: France",
        "Exchange of good practice on income support, childcare and employment services "
        "for single parents.",
        "Paris",
        "Europe/Paris",
        ["single_parents", "childcare"],
    ),
    _seminar(
        "GB",
        2016,
        4,
        "Female genital mutilation, forced marriage and other harmful practices",
        "Exchange of good practice on preventing female genital mutilation, forced "
        "marriage and other harmful practices, with Italy.",
        "London",
        "Europe/London",
        ["fgm", "forced_marriage", "harmful_practices"],
        guests=("IT",),
    ),
    _seminar(
        "SI",
        2016,
        6,
        "Women in political decision-making: Slovenia",
        "Exchange of good practice on quotas and measures for women's participation in "
        "political decision-making.",
        "Ljubljana",
        "Europe/Ljubljana",
        ["political_participation", "quotas"],
    ),
    _seminar(
        "BE",
        2016,
        10,
        "Belgium's 2012 Gender Pay Gap Law",
        "Exchange of good practice on the Belgian law of 22 April 2012 that makes "
        "pay-gap analysis part of social dialogue: biennial company reports, "
        "gender-neutral job classification and a reference person for pay equity.",
        "Brussels",
        "Europe/Brussels",
        ["gender_pay_gap", "pay_transparency", "social_dialogue"],
    ),
    _seminar(
        "SE",
        2017,
        6,
        "Individual taxation in Sweden",
        "Exchange of good practice on Sweden's individual income taxation, introduced in "
        "1971, and its effect on second earners' work incentives and women's employment.",
        "Stockholm",
        "Europe/Stockholm",
        ["taxation", "second_earners"],
    ),
    _seminar(
        "DK",
        2017,
        9,
        "Sexual harassment and digital sexual abuse: Denmark",
        "Exchange of good practice on preventing sexual harassment and digital sexual "
        "abuse, with France's campaign against harassment on public transport.",
        "Copenhagen",
        "Europe/Copenhagen",
        ["sexual_harassment", "digital_abuse", "public_transport"],
        guests=("FR",),
    ),
    _seminar(
        "GR",
        2018,
        2,
        "Greece: protocol on support for victims of violence in asylum and migration",
        "Exchange of good practice on the Greek Protocol of Cooperation on support "
        "services for victims of gender-based violence in asylum and migration, from "
        "reception centres to shelters, health care and legal aid.",
        "Athens",
        "Europe/Athens",
        ["gender_based_violence", "asylum", "referral"],
    ),
)
FOLLOW_UPS: tuple[DemoEvent, ...] = (
    DemoEvent(
        _event(
            "OSKA at home: dissemination seminar on skills forecasting",
            "Dissemination seminar in Estonia on the results of the OSKA peer review, for "
            "sector skills councils, schools, employers and the unemployment insurance fund.",
            "dissemination_seminar",
            "employment",
            "EE",
            [],
            ("2025-03-11", "2025-03-11"),
            "Tartu",
            "Europe/Tallinn",
            ["et", "en"],
            "2025-02-21T17:00:00+02:00",
            ["skills", "forecasting", "dissemination"],
            capacity=80,
        ),
        status="completed",
        follows_up=("Skills forecasting: Estonia's OSKA system",),
    ),
)
PROGRAMME = PROGRAMME + GENDER_EQUALITY_SEMINARS + FOLLOW_UPS


class DemoError(Exception):
    """The demo could not be loaded; the message is one sentence."""


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
    """``probe()`` once it answers something true; a :class:`DemoError` naming
    ``what`` when it has not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(
                f"Gave up waiting for {what}; are all services and the SMTP sink running?"
            )
        time.sleep(0.5)


class ServiceClient:
    """HTTP calls to one service of the running system, with one caller's token."""

    def __init__(self, service: str, base_url: str, headers: dict[str, str]) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers)

    def _call(
        self, method: str, path: str, *, allow: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        """The answer to one request; an error status not in ``allow`` stops the demo."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT_S, **kwargs)
        except requests.ConnectionError as exc:
            raise DemoError(
                f"The {self.service} service is not answering at {self.base_url}; "
                "start it with `make run`."
            ) from exc
        if response.status_code >= 400 and response.status_code not in allow:
            detail = response.text.strip()[:500]
            raise DemoError(f"{method} {path} answered {response.status_code}: {detail}")
        return response

    def check(self) -> None:
        self._call("GET", "/healthz")

    def until_known(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The answer once the service has learnt of the event the path names
        (404 and 409 until its records arrive); a 409 that stays stops the demo."""
        deadline = time.monotonic() + WAIT_S
        while True:
            response = self._call(method, path, allow=(404, 409), **kwargs)
            if response.status_code < 400:
                return response
            if time.monotonic() > deadline:
                raise DemoError(
                    f"{method} {path} still answers {response.status_code}: {response.text}"
                )
            time.sleep(0.5)


class EventsClient(ServiceClient):
    """The few calls of the events API the demo needs."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__("events", base_url, headers)

    def find(self, title: str) -> str | None:
        """The id of the event called ``title``, if there is one."""
        params: dict[str, str | int] = {"q": title[:200], "page_size": 500}
        items = self._call("GET", "/v1/events", params=params).json()["items"]
        return next((item["id"] for item in items if item["title"] == title), None)

    def exists(self, title: str) -> bool:
        return self.find(title) is not None

    def create(self, body: dict[str, Any]) -> tuple[str, str]:
        response = self._call("POST", "/v1/events", json=body)
        return response.json()["id"], response.headers["ETag"]

    def transition(self, event_id: str, action: str, etag: str, reason: str = "") -> str:
        body = {"reason": reason} if action == "cancel" else None
        response = self._call(
            "POST", f"/v1/events/{event_id}/{action}", json=body, headers={"If-Match": etag}
        )
        return response.headers["ETag"]

    def total(self) -> int:
        return self._call("GET", "/v1/events", params={"page_size": 1}).json()["total"]


class InvitationsClient(ServiceClient):
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__("invitations", base_url, headers)

    def invite(self, event_id: str, people: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Invite ``people`` once the service knows the event is published; the
        invitations created now (the others were invited by an earlier run)."""
        path = f"/v1/events/{event_id}/invitations"
        return self.until_known("POST", path, json={"invitees": people}).json()["created"]

    def accept_for(self, invitation_id: str) -> None:
        """Record the invitee's acceptance on their behalf (as a secretariat does
        for an answer given by phone)."""
        path = f"/v1/invitations/{invitation_id}/response"
        self._call("POST", path, json={"response": "accept"})

    def counts(self, event_id: str) -> dict[str, int]:
        """The event's invitations by status."""
        path = f"/v1/events/{event_id}/invitations"
        answer = self._call("GET", path, params={"page_size": 1}).json()
        return answer.get("counts", {}).get("by_status", {})

    def registrations(self, event_id: str) -> dict[str, Any]:
        """The event's registrations and their counts (the secretariat's list)."""
        path = f"/v1/events/{event_id}/registrations"
        return self._call("GET", path, params={"page_size": 500}).json()

    def register(self, event_id: str, body: dict[str, Any]) -> None:
        """Register as the person's browser does: no token (202 whatever happened)."""
        path = f"{self.base_url}/v1/events/{event_id}/registrations"
        deadline = time.monotonic() + WAIT_S
        while True:
            answer = follow(path, body)
            if answer.status_code == 202:
                return
            if answer.status_code not in (404, 409) or time.monotonic() > deadline:
                raise DemoError(f"A registration was answered {answer.status_code}: {answer.text}")
            time.sleep(0.5)  # the service has not learnt of the event yet

    def as_caller(self, headers: dict[str, str]) -> InvitationsClient:
        """The same service with another caller's token (a coordinator's)."""
        return InvitationsClient(self.base_url, headers)

    def add_coordinator(self, body: dict[str, str]) -> bool:
        """Register a national contact point; False when an earlier run did."""
        return self._call("POST", "/v1/coordinators", json=body, allow=(409,)).status_code == 201

    def set_quotas(self, event_id: str, quotas: dict[str, int]) -> dict[str, Any]:
        """Each country's places, once the service knows the event is published."""
        body = {country: {"places": places} for country, places in quotas.items()}
        return self.until_known("PUT", f"/v1/events/{event_id}/quotas", json=body).json()

    def nominations(self, event_id: str) -> dict[str, Any]:
        """The caller's view: a coordinator their country's, the secretariat all."""
        path = f"/v1/events/{event_id}/nominations"
        return self._call("GET", path, params={"page_size": 500}).json()

    def nominate(self, event_id: str, body: dict[str, Any]) -> bool:
        """Nominate (as a coordinator); False when an earlier run did."""
        path = f"/v1/events/{event_id}/nominations"
        return self._call("POST", path, json=body, allow=(409,)).status_code == 201

    def approve(self, nomination_id: str) -> None:
        self._call("POST", f"/v1/nominations/{nomination_id}/approve")


class DocumentsClient(ServiceClient):
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__("documents", base_url, headers)

    def papers(self, event_id: str) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"event_id": event_id, "page_size": 500}
        return self._call("GET", "/v1/documents", params=params).json()["items"]

    def upload(self, event_id: str, paper: Paper) -> str:
        """Upload a paper as a draft once the service knows the event; its id."""
        form = {"kind": paper.kind, "title": paper.title, "language": paper.language}
        if paper.country:
            form["country"] = paper.country
        files = {"file": (paper.filename, pdf(paper.title, paper.lines), "application/pdf")}
        path = f"/v1/events/{event_id}/documents"
        return self.until_known("POST", path, data=form, files=files).json()["id"]

    def review(self, document_id: str, publish: bool) -> str:
        """Submit and approve the version read (the approval names its ETag),
        then publish when asked; the paper's status."""
        path = f"/v1/documents/{document_id}"
        read = self._call("GET", path)
        status, seen = read.json()["status"], read.headers["ETag"]
        steps = {"draft": "submit", "submitted": "approve"}
        if publish:
            steps["approved"] = "publish"
        while status in steps:
            done = self._call("POST", f"{path}/{steps[status]}", headers={"If-Match": seen})
            status, seen = done.json()["status"], done.headers["ETag"]
        return str(status)


class NotificationsClient(ServiceClient):
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__("notifications", base_url, headers)

    def subscriptions(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/subscriptions").json()["items"]

    def subscribe(self, url: str, topics: Iterable[str], description: str) -> dict[str, Any]:
        body = {"url": url, "topics": sorted(topics), "description": description}
        return self._call("POST", "/v1/subscriptions", json=body).json()

    def unsubscribe(self, subscription_id: str) -> None:
        self._call("DELETE", f"/v1/subscriptions/{subscription_id}", allow=(404,))

    def deliveries(self, subscription_id: str) -> list[dict[str, Any]]:
        path = f"/v1/subscriptions/{subscription_id}/deliveries"
        return self._call("GET", path, params={"page_size": 500}).json()["items"]


class CatalogueClient(ServiceClient):
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__("catalogue", base_url, headers)

    def find(self, title: str) -> str | None:
        params: dict[str, str | int] = {"q": title[:200], "page_size": 500}
        items = self._call("GET", "/v1/practices", params=params).json()["items"]
        return next((item["id"] for item in items if item["title"] == title), None)

    def create(self, body: dict[str, Any]) -> tuple[str, str]:
        """Create the practice once the catalogue knows its events (it learns of them
        from the topics: a moment after the events service announced them)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            response = self._call("POST", "/v1/practices", allow=(422,), json=body)
            if response.status_code == 201:
                return response.json()["id"], response.headers["ETag"]
            if "events" not in response.json().get("errors", {}) or time.monotonic() > deadline:
                raise DemoError(f"POST /v1/practices answered 422: {response.text[:500]}")
            time.sleep(0.5)

    def publish(self, practice_id: str, etag: str) -> None:
        path = f"/v1/practices/{practice_id}/publish"
        self._call("POST", path, headers={"If-Match": etag})

    def transfer(self, practice_id: str, body: dict[str, Any]) -> None:
        self._call("POST", f"/v1/practices/{practice_id}/transfers", json=body)


class SurveysClient(ServiceClient):
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__("surveys", base_url, headers)

    def answer(self, link: str, answers: dict[str, Any]) -> None:
        """Submit through the participant's link, as their browser would (no token)."""
        body = {"answers": [{"question_id": k, "value": v} for k, v in answers.items()]}
        try:
            response = requests.post(link, json=body, timeout=TIMEOUT_S)
        except requests.ConnectionError as exc:
            raise DemoError(
                f"The survey link {link.split('?')[0][:60]}... is not answering."
            ) from exc
        if response.status_code not in (201, 409):  # 409: answered in an earlier run
            raise DemoError(f"A survey link answered {response.status_code}: {response.text}")

    def close_and_publish(self, event_id: str) -> dict[str, Any]:
        self._call("POST", f"/v1/events/{event_id}/survey/close", allow=(409,))
        self._call("POST", f"/v1/events/{event_id}/survey/results/publish", allow=(409,))
        return self._call("GET", f"/v1/events/{event_id}/survey/results").json()

    def programme(self, **filters: Any) -> dict[str, Any]:
        return self._call("GET", "/v1/survey-results", params=filters).json()


@dataclass(frozen=True)
class Clients:
    events: EventsClient
    invitations: InvitationsClient
    documents: DocumentsClient
    notifications: NotificationsClient  # as the partner that subscribes to webhooks
    surveys: SurveysClient
    catalogue: CatalogueClient
    # A coordinator's token for a country (the national contact point's).
    coordinator: Callable[[str], dict[str, str]] = field(
        default=lambda country: auth("coordinator", country=country, sub=f"demo-ncp-{country}")
    )

    def all(self) -> tuple[ServiceClient, ...]:
        return (
            self.events,
            self.invitations,
            self.documents,
            self.notifications,
            self.surveys,
            self.catalogue,
        )


# --- the people and papers of the events the demo works with -------------------


@dataclass(frozen=True)
class Person:
    name: str
    country: str
    organisation: str
    language: str
    answer: str | None = "accept"  # accept | decline | None (has not answered yet)
    role: str = "government_official"

    @property
    def email(self) -> str:
        local = ".".join(self.name.lower().replace("dr. ", "").split())
        return f"{local}@{self.country.lower()}.demo.mlp.example"

    def invitee(self) -> dict[str, str]:
        return {
            "email": self.email,
            "name": self.name,
            "country": self.country,
            "organisation": self.organisation,
            "role": self.role,
            "language": self.language,
        }


KURZARBEIT_PEOPLE = (
    Person("Katharina Weber", "DE", "Bundesministerium für Arbeit und Soziales", "de"),
    Person("Jonas Becker", "DE", "Bundesagentur für Arbeit", "de"),
    Person("Claire Martin", "FR", "Ministère du Travail et de l'Emploi", "fr"),
    Person("Luc Schmit", "LU", "Agence pour le développement de l'emploi", "fr", "decline"),
    Person("Giulia Rossi", "IT", "Ministero del Lavoro e delle Politiche Sociali", "en"),
    Person("Javier Garcia", "ES", "Servicio Público de Empleo Estatal", "en"),
    Person("Ines Costa", "PT", "Instituto do Emprego e Formação Profissional", "en", None),
    Person("Sanne de Vries", "NL", "UWV", "en"),
    Person("Dr. Anna Novak", "SI", "Independent expert", "en", role="expert"),
)


@dataclass(frozen=True)
class Registrant:
    """Someone who registers for the public conference (no account: a mailed link)."""

    name: str
    country: str
    organisation: str
    stakeholder_type: str
    language: str
    confirms: bool = True
    cancels: bool = False

    @property
    def email(self) -> str:
        return f"{'.'.join(self.name.lower().split())}@{self.country.lower()}.demo.mlp.example"

    def registration(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "organisation": self.organisation,
            "stakeholder_type": self.stakeholder_type,
            "country": self.country,
            "language": self.language,
            "consent": {"privacy_notice": "2026-01", "accepted": True},
        }


CONFERENCE_PEOPLE = (
    Registrant("Marie Dubois", "BE", "Ligue des familles", "ngo", "fr"),
    Registrant("Thomas Huber", "AT", "Arbeiterkammer Wien", "social_partner", "de"),
    Registrant("Sofia Andersson", "SE", "Uppsala University", "academia", "en", cancels=True),
    Registrant("Pieter Janssens", "BE", "Stad Gent", "regional_local_authority", "en"),
    Registrant("Aoife Byrne", "IE", "Department of Social Protection", "national_government", "en"),
    Registrant("Elena Popescu", "RO", "OECD", "international_organisation", "en", confirms=False),
)


@dataclass(frozen=True)
class Coordinator:
    """A country's national contact point, in the secretariat's registry."""

    country: str
    name: str
    language: str

    @property
    def email(self) -> str:
        return f"ncp@{self.country.lower()}.demo.mlp.example"


NOMINATION_QUOTAS = {"EE": 4, "LT": 2, "DE": 2, "LV": 2, "FI": 2}
COORDINATORS = (
    Coordinator("EE", "Kadri Tamm", "en"),
    Coordinator("LT", "Rūta Kazlauskienė", "en"),
    Coordinator("DE", "Stefan Hoffmann", "de"),
    Coordinator("LV", "Ilze Bērziņa", "en"),
    Coordinator("FI", "Mikko Virtanen", "en"),
)
NOMINEES = (
    Person("Mart Kask", "EE", "Eesti Töötukassa", "en"),
    Person("Liis Saar", "EE", "Sotsiaalministeerium", "en"),
    Person("Tomas Petrauskas", "LT", "Užimtumo tarnyba", "en"),
    Person("Ona Jankauskiene", "LT", "Socialinės apsaugos ir darbo ministerija", "en", "decline"),
    Person("Julia Schneider", "DE", "Deutsche Rentenversicherung", "de"),
    Person("Andris Ozols", "LV", "Nodarbinātības valsts aģentūra", "en", None),
    Person("Aino Korhonen", "FI", "Työ- ja elinkeinoministeriö", "en"),
)


@dataclass(frozen=True)
class Paper:
    kind: str
    title: str
    language: str
    country: str | None
    lines: tuple[str, ...]
    publish: bool = False

    @property
    def filename(self) -> str:
        return f"{self.kind}-{(self.country or 'all').lower()}.pdf"


KURZARBEIT_PAPERS = (
    Paper(
        "host_country_paper",
        "Kurzarbeit: Germany's short-time work allowance",
        "en",
        "DE",
        (
            "How the Federal Employment Agency scaled short-time work in 2009 and 2020,",
            "what it cost, and how training during reduced hours was encouraged.",
        ),
        publish=True,
    ),
    Paper(
        "comments_paper",
        "Comments from France: activite partielle",
        "fr",
        "FR",
        ("The French scheme of partial activity compared with Kurzarbeit.",),
    ),
    Paper(
        "comments_paper",
        "Comments from Italy: Cassa Integrazione Guadagni",
        "en",
        "IT",
        ("Italy's wage guarantee fund and its reform in 2022.",),
    ),
)


# --- the programme's record: papers and practices of past events ---------------

PAPERS: tuple[tuple[str, Paper], ...] = (
    (
        "Belgium's 2012 Gender Pay Gap Law",
        Paper(
            "discussion_paper",
            "Discussion paper: the Belgian Gender Pay Gap Law",
            "en",
            "BE",
            ("Pay transparency through social dialogue: the law of 22 April 2012.",),
            publish=True,
        ),
    ),
    (
        "Skills forecasting: Estonia's OSKA system",
        Paper(
            "host_country_paper",
            "Host country paper: OSKA",
            "en",
            "EE",
            ("Sector expert panels agree on future skills needs.",),
            publish=True,
        ),
    ),
)


@dataclass(frozen=True)
class DemoPractice:
    """A practice of the programme's history: where it was presented, its follow-ups."""

    body: dict[str, Any]
    presented_at: tuple[str, ...]  # titles of demo events
    transfers: tuple[dict[str, Any], ...] = ()


PRACTICES: tuple[DemoPractice, ...] = (
    DemoPractice(
        {
            "title": "OSKA: Estonia's skills forecasting system",
            "country": "EE",
            "summary": "OSKA anticipates labour and skills needs: sector expert panels of "
            "employers, trainers and ministries agree on future needs, which steer study "
            "places, curricula and adult learning.",
            "objectives": "Match education and training to the labour market's future needs.",
            "main_activities": "Sector studies every five years, an annual labour-market "
            "forecast, expert panels per sector.",
            "outcomes": "Study places and curricula adjusted by sector; career guidance uses "
            "the forecasts.",
            "lessons_learned": "Employers' ownership of the panels makes the forecasts used.",
            "policy_area": "training",
            "target_groups": ["all", "young_people"],
            "start_year": 2015,
            "status": "ongoing",
            "evidence": "evaluation",
            "organisations": ["Education and Youth Board (Harno)", "Ministry of Education"],
            "languages": ["et", "en"],
            "tags": ["skills", "forecasting", "anticipation"],
        },
        presented_at=("Skills forecasting: Estonia's OSKA system",),
    ),
    DemoPractice(
        {
            "title": "The Lithuanian PES client-service model",
            "country": "LT",
            "summary": "The Lithuanian Employment Service's segmented client-service model, "
            "built after studying Bavaria's: profiling at registration, case managers for "
            "people furthest from the labour market, digital self-service for the job-ready.",
            "objectives": "Serve each jobseeker according to distance from the labour market.",
            "main_activities": "Profiling, individual action plans, case management, e-services.",
            "outcomes": "Piloted in three local offices, then rolled out nationwide in 2017.",
            "lessons_learned": "Pilot first; train counsellors before changing the workflow.",
            "policy_area": "labour_market_services",
            "target_groups": ["jobseekers", "long_term_unemployed"],
            "start_year": 2016,
            "status": "ongoing",
            "evidence": "monitoring",
            "organisations": ["Užimtumo tarnyba (Employment Service of Lithuania)"],
            "languages": ["lt", "en"],
            "tags": ["pes", "profiling", "case_management"],
        },
        presented_at=("Lithuania's PES client-service model",),
        transfers=(
            {
                "country": "LT",
                "stage": "adopted",
                "year": 2017,
                "note": "Modelled on Bavaria's client-service model; piloted in three "
                "offices, then rolled out nationwide.",
            },
        ),
    ),
    DemoPractice(
        {
            "title": "Belgium's Gender Pay Gap Law of 22 April 2012",
            "country": "BE",
            "summary": "The law makes pay-gap analysis part of social dialogue: biennial "
            "company reports on pay by gender, gender-neutral job classification checked by "
            "the authorities, and a reference person for pay equity in larger firms.",
            "objectives": "Close the gender pay gap through transparency and social dialogue.",
            "main_activities": "Biennial analysis reports, sector job-classification "
            "reviews, a mediator for pay equity.",
            "outcomes": "Pay-gap figures discussed in works councils; classifications revised.",
            "lessons_learned": "Transparency works when the social partners own it.",
            "policy_area": "gender_equality",
            "target_groups": ["women", "employers"],
            "start_year": 2012,
            "status": "ongoing",
            "evidence": "monitoring",
            "organisations": ["Institute for the Equality of Women and Men"],
            "languages": ["fr", "nl", "de"],
            "tags": ["gender_pay_gap", "pay_transparency", "social_dialogue"],
        },
        presented_at=("Belgium's 2012 Gender Pay Gap Law",),
    ),
    DemoPractice(
        {
            "title": "Sweden's individual taxation",
            "country": "SE",
            "summary": "Since 1971 Sweden taxes each spouse's income separately, removing the "
            "joint-taxation penalty on second earners' work.",
            "objectives": "Make paid work pay for both partners of a couple.",
            "main_activities": "Separate assessment of each partner's earned income.",
            "outcomes": "Associated with the rise of women's employment in the 1970s.",
            "lessons_learned": "Tax design shapes second earners' labour supply.",
            "policy_area": "gender_equality",
            "target_groups": ["women", "parents"],
            "start_year": 1971,
            "status": "ongoing",
            "evidence": "impact_evaluation",
            "languages": ["sv", "en"],
            "tags": ["taxation", "second_earners"],
        },
        presented_at=("Individual taxation in Sweden",),
    ),
    DemoPractice(
        {
            "title": "Greece's Protocol of Cooperation for victims of violence in asylum "
            "and migration",
            "country": "GR",
            "summary": "An inter-agency protocol for identifying and referring survivors of "
            "gender-based violence among asylum seekers and migrants: reception centres, "
            "shelters, health care and legal aid working to one procedure.",
            "objectives": "Identify survivors early and refer them to the right services.",
            "main_activities": "A referral pathway, focal points in reception centres, "
            "joint training.",
            "policy_area": "integration",
            "target_groups": ["migrants_refugees", "victims_of_violence", "women"],
            "start_year": 2017,
            "status": "ongoing",
            "evidence": "none",
            "languages": ["el", "en"],
            "tags": ["gender_based_violence", "asylum", "referral"],
        },
        presented_at=(
            "Greece: protocol on support for victims of violence in asylum and migration",
        ),
    ),
)

# --- participants and their answers -------------------------------------------

FIRST_NAMES = ("Kadri", "Jonas", "Ieva", "Aino", "Marta", "Tomasz", "Ana", "Seán", "Lena")
IDEAS = (
    "Sector skills panels that bring employers and trainers to one table.",
    "Using forecasts to plan study places and adult learning offers.",
    "Profiling at registration and early case management.",
    "Digital self-service for job-ready clients, to free counsellors' time.",
    "How the social partners are involved in the governance.",
)
NEXT = (
    "Present the model to my ministry's steering group.",
    "Propose a pilot in two regions next year.",
    "Share the host country's papers with our PES managers.",
    "Stay in touch with the host team about the evaluation.",
)
WEIGHTS = {5: 40, 4: 52, 3: 5, 2: 2, 1: 1}  # about the 9 in 10 who agree of past surveys


def participants_of(item: DemoEvent) -> list[dict[str, str]]:
    """The invitees who attended ``item``: officials of its countries, one expert."""
    people = []
    for n, country in enumerate(item.participants):
        role = "expert" if n == len(item.participants) - 1 else "government_official"
        language = {"DE": "de", "AT": "de", "BE": "fr", "LU": "fr"}.get(country, "en")
        people.append(
            {
                "email": f"{country.lower()}.participant{n}@demo.mlp.example",
                "name": f"{FIRST_NAMES[n % len(FIRST_NAMES)]} ({country})",
                "country": country,
                "organisation": "Ministry of Labour" if role != "expert" else "Independent",
                "role": role,
                "language": language,
            }
        )
    return people


def answers_of(rng: random.Random) -> dict[str, Any]:
    """One participant's realistic answers to the standard questions."""
    points, weights = zip(*WEIGHTS.items(), strict=True)

    def agreement() -> int:
        return rng.choices(points, weights)[0]

    knowledge = agreement()
    answers: dict[str, Any] = {
        "knowledge": knowledge,
        "understanding": agreement(),
        "needs_matched": agreement(),
        "overall": max(1, min(5, knowledge + rng.choice((-1, 0, 0, 1)))),
        "use_learning": rng.choices(("yes", "partly", "no"), (60, 35, 5))[0],
    }
    if rng.random() < 0.7:
        answers["explore_further"] = rng.choice(IDEAS)
    if rng.random() < 0.6:
        answers["next_steps"] = rng.choice(NEXT)
    return answers


def pdf(title: str, lines: Iterable[str]) -> bytes:
    """A one-page PDF that says ``title`` and ``lines`` (the documents service
    checks what a file is by its content, so a paper must be a real PDF)."""

    def text(value: str) -> str:
        plain = value.encode("latin-1", "replace").decode("latin-1")
        return plain.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    body = ["BT", "/F1 16 Tf", "72 770 Td", f"({text(title)}) Tj", "/F1 11 Tf"]
    body += [part for line in lines for part in ("0 -22 Td", f"({text(line)}) Tj")]
    stream = "\n".join([*body, "ET"]).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


# --- what people do through their mail -------------------------------------------


def links_in_mail(maildir: Path, emails: Iterable[str], path: str) -> dict[str, str]:
    """Each address's newest link containing ``path`` in the Maildir."""
    wanted = set(emails)
    return mail.latest_links(
        (m for m in mail.messages(maildir) if mail.recipient(m) in wanted), path
    )


def mailed_links(maildir: Path, emails: Iterable[str], path: str, what: str) -> dict[str, str]:
    """Each address's newest link containing ``path``, once every one has arrived."""
    wanted = set(emails)
    if not wanted:
        return {}
    return wait_for(
        f"{what} in {maildir}",
        lambda: (found := links_in_mail(maildir, wanted, path)) and wanted <= set(found) and found,
    )


def settled_mail(maildir: Path, quiet_s: float = 3.0) -> int:
    """How many messages the Maildir holds once no new one came for ``quiet_s``
    (the notifications worker sends what the demo caused a little later)."""
    deadline = time.monotonic() + WAIT_S
    count, since = len(mail.messages(maildir)), time.monotonic()
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.5)
        now = len(mail.messages(maildir))
        if now != count:
            count, since = now, time.monotonic()
    return count


def follow(link: str, body: dict[str, Any]) -> requests.Response:
    """What the person's browser sends when they use their personal link (no token)."""
    try:
        return requests.post(link, json=body, timeout=TIMEOUT_S)
    except requests.ConnectionError as exc:
        raise DemoError(
            f"A personal link {link.split('/v1/')[0]}/v1/... is not answering."
        ) from exc


# --- the steps -------------------------------------------------------------------


@dataclass
class Report:
    """What the demo did, for the closing summary."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "skipped": 0, "surveyed": 0}
    )
    events: dict[str, str] = field(default_factory=dict)  # title -> id
    lines: list[str] = field(default_factory=list)
    changed: bool = False  # whether this run announced anything (else no webhook is due)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line)


def load_programme(clients: Clients, maildir: Path, report: Report) -> None:
    """Create every demo event that is not there yet; those with participants are
    attended and surveyed before and after they complete."""
    for item in PROGRAMME:
        title = item.body["title"]
        known = clients.events.find(title)
        if known:
            report.counts["skipped"] += 1
            report.events[title] = known
            print(f"  = {title} (already there)")
            continue
        body = dict(item.body)
        if item.follows_up:
            body["follows_up"] = [report.events[t] for t in item.follows_up]
        event_id, etag = clients.events.create(body)
        emails: list[str] = []
        for step in item.steps:
            if step == "complete" and item.participants:
                emails = attend(clients, item, event_id)
            etag = clients.events.transition(event_id, step, etag, item.reason)
        report.events[title] = event_id
        report.changed = True
        report.counts["created"] += 1
        report.counts[item.status] = report.counts.get(item.status, 0) + 1
        print(f"  + {title} [{item.body['format']}, {item.status}] {event_id}")
        if emails:
            results = fill_survey(clients, event_id, emails, maildir, title)
            report.counts["surveyed"] += 1
            print(f"    survey: {results['responses']} of {results['invited']} answered")


PARTNER_DESCRIPTION = "MLP Ops demo partner"
PARTNER_TOPICS = (
    "event.published",
    "invitation.sent",
    "invitation.accepted",
    "invitation.declined",
    "invitation.waitlisted",
    "document.published",
)


def subscribe_partner(clients: Clients, receiver: Receiver) -> dict[str, Any]:
    """The partner's webhook subscription to the demo's receiver (an earlier
    run's, whose receiver is gone, is replaced)."""
    for old in clients.notifications.subscriptions():
        if old.get("description") == PARTNER_DESCRIPTION:
            clients.notifications.unsubscribe(old["id"])
    return clients.notifications.subscribe(receiver.url, PARTNER_TOPICS, PARTNER_DESCRIPTION)


def answer_invitations(
    clients: Clients, maildir: Path, event_id: str, people: Iterable[Person], report: Report
) -> None:
    """Invite ``people``; each answers through the RSVP link in their mail."""
    people = list(people)
    created = clients.invitations.invite(event_id, [p.invitee() for p in people])
    invited_now = [invitation["email"] for invitation in created]
    report.changed |= bool(invited_now)
    links = mailed_links(maildir, invited_now, "/v1/rsvp/", "the invitation mails")
    links.update(links_in_mail(maildir, (p.email for p in people), "/v1/rsvp/"))
    for person in people:
        link = links.get(person.email)
        if person.answer and link:
            answered = follow(link, {"response": person.answer})
            if answered.status_code != 200:
                raise DemoError(f"An RSVP link answered {answered.status_code}: {answered.text}")
    by_status = clients.invitations.counts(event_id)
    report.say(
        f"    invitations: {len(invited_now)} sent now; "
        + ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    )
    french = next((p for p in people if p.language == "fr" and p.email in links), None)
    if french:
        report.say(f"    {french.name}'s RSVP page (in French): {links[french.email]}")


def circulate_papers(
    clients: Clients, event_id: str, papers: Iterable[Paper], report: Report
) -> None:
    """Upload the papers not there yet; review each; publish those meant for everyone."""
    known = {(p["kind"], p["title"]): p["id"] for p in clients.documents.papers(event_id)}
    statuses = Counter()
    for paper in papers:
        document_id = known.get((paper.kind, paper.title))
        if document_id is None:
            document_id = clients.documents.upload(event_id, paper)
            report.changed = True
        statuses[clients.documents.review(document_id, paper.publish)] += 1
    report.say(
        "    papers: "
        + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        + f" ({clients.documents.base_url}/v1/documents?event_id={event_id})"
    )


def register_for_conference(
    clients: Clients, maildir: Path, event_id: str, people: Iterable[Registrant], report: Report
) -> None:
    """People register without an account and confirm through the mailed link
    (one never does: the registration expires); one later cancels through the
    link in their confirmation mail, which frees the seat."""
    people = list(people)
    known = {r["email"] for r in clients.invitations.registrations(event_id)["items"]}
    fresh = [p for p in people if p.email not in known]
    for person in fresh:
        clients.invitations.register(event_id, person.registration())
    report.changed |= bool(fresh)
    confirming = [p.email for p in fresh if p.confirms]
    for link in mailed_links(
        maildir, confirming, "/v1/registrations/confirm/", "the confirmation links"
    ).values():
        confirmed = follow(link, {})
        if confirmed.status_code != 200:
            raise DemoError(
                f"A confirmation link answered {confirmed.status_code}: {confirmed.text}"
            )
    cancelling = [p.email for p in fresh if p.confirms and p.cancels]
    for link in mailed_links(
        maildir, cancelling, "/v1/registrations/cancel/", "the cancellation links"
    ).values():
        cancelled = follow(link, {})
        if cancelled.status_code != 200:
            raise DemoError(
                f"A cancellation link answered {cancelled.status_code}: {cancelled.text}"
            )
    listed = clients.invitations.registrations(event_id)
    by_status = listed.get("counts", {}).get("by_status", {})
    by_type = listed.get("counts", {}).get("by_stakeholder_type", {})
    report.say(
        f"    registrations: {len(fresh)} now; "
        + ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
        + "; by stakeholder type: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(by_type.items()))
    )


def run_nominations(clients: Clients, maildir: Path, event_id: str, report: Report) -> None:
    """The peer review run by nominations: the secretariat registers the
    national contact points and sets each country's places (they are mailed a
    request); each coordinator nominates their officials, the secretariat
    approves, and the nominees answer through the RSVP links in their
    invitation mails (one declines, which gives the place back to Lithuania)."""
    for person in COORDINATORS:
        body = {"country": person.country, "email": person.email, "name": person.name}
        report.changed |= clients.invitations.add_coordinator({**body, "language": person.language})
    quotas = clients.invitations.set_quotas(event_id, NOMINATION_QUOTAS)
    nominated = [
        p.email
        for p in NOMINEES
        if clients.invitations.as_caller(clients.coordinator(p.country)).nominate(
            event_id, {k: v for k, v in p.invitee().items() if k != "country"}
        )
    ]
    report.changed |= bool(nominated)
    for item in clients.invitations.nominations(event_id)["items"]:
        if item["status"] == "nominated" and not item.get("substitute"):
            clients.invitations.approve(item["id"])
    links = mailed_links(maildir, nominated, "/v1/rsvp/", "the nominees' invitation mails")
    for person in NOMINEES:
        link = links.get(person.email)
        if person.answer and link:
            answered = follow(link, {"response": person.answer})
            if answered.status_code != 200:
                raise DemoError(f"An RSVP link answered {answered.status_code}: {answered.text}")
    counts = clients.invitations.nominations(event_id)["counts"]
    report.say(
        f"    nominations: {len(nominated)} now; "
        + "; ".join(
            f"{country} {row.get('remaining', 0)} of {row.get('places', 0)} places left ("
            + ", ".join(f"{n} {s}" for s, n in sorted(row.get("by_status", {}).items()))
            + ")"
            for country, row in sorted(counts.items())
        )
    )
    coordinators = sum(q["coordinators"] for q in quotas["countries"].values())
    report.say(f"    coordinators asked for nominations: {coordinators}")


def await_deliveries(
    clients: Clients, subscription: dict[str, Any], receiver: Receiver, report: Report
) -> None:
    """Wait until the subscription's deliveries are done; check the receiver's signatures."""
    if not report.changed:
        report.say("  webhooks: nothing new to deliver (the demo had run before)")
        return

    def settled() -> list[dict[str, Any]] | None:
        log = clients.notifications.deliveries(subscription["id"])
        return log if log and all(d["status"] != "pending" for d in log) else None

    log = wait_for("the webhook deliveries", settled)
    verifier = Webhook(subscription["secret"])
    valid = 0
    for received in receiver.requests:
        try:
            verifier.verify(received.body, received.headers)
            valid += 1
        except WebhookVerificationError:
            pass
    by_status = Counter(d["status"] for d in log)
    report.say(
        f"  webhooks: {len(log)} deliveries ("
        + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
        + f"), {valid} of {len(receiver.requests)} received with a valid signature"
    )


def attend(clients: Clients, item: DemoEvent, event_id: str) -> list[str]:
    """Invite the event's participants and record their acceptance; their e-mails."""
    people = participants_of(item)
    for created in clients.invitations.invite(event_id, people):
        clients.invitations.accept_for(created["id"])
    return [p["email"] for p in people]


def fill_survey(
    clients: Clients, event_id: str, emails: list[str], maildir: Path, seed: str
) -> dict[str, Any]:
    """Most participants answer through their mailed link (a few never do); then
    the secretariat closes the survey and publishes its results."""
    rng = random.Random(seed)
    links = mailed_links(maildir, emails, "/v1/survey-responses/", "the survey mails")
    for email in emails:
        if rng.random() < 0.85:
            clients.surveys.answer(links[email], answers_of(rng))
    return clients.surveys.close_and_publish(event_id)


def survey_figures(clients: Clients, report: Report) -> None:
    """The programme's figures per year of the published surveys."""
    for year in sorted(
        {int(item.body["starts_on"][:4]) for item in PROGRAMME if item.participants}
    ):
        figures = clients.surveys.programme(year=year)
        shares = ", ".join(
            f"{q['id']} {round(q['agree_share'] * 100)}%"
            for q in figures["questions"]
            if q["type"] == "agreement" and q.get("agree_share") is not None
        )
        report.say(
            f"  surveys {year}: {figures['responses']} responses; agree or strongly agree: {shares}"
        )
    base = clients.surveys.base_url
    report.say(f"  {base}/v1/survey-results?year=2024 and {base}/v1/survey-results.svg?year=2024")


def record_practices(clients: Clients, report: Report) -> None:
    """Publish the past events' papers and the practices presented there, with
    their follow-ups (what is there already is left alone)."""
    for event_title, paper in PAPERS:
        circulate_papers(clients, report.events[event_title], (paper,), report)
    for item in PRACTICES:
        title = item.body["title"]
        if clients.catalogue.find(title):
            print(f"  = {title} (already there)")
            continue
        body = {**item.body, "events": [report.events[t] for t in item.presented_at]}
        practice_id, etag = clients.catalogue.create(body)
        clients.catalogue.publish(practice_id, etag)
        for transfer in item.transfers:
            clients.catalogue.transfer(practice_id, transfer)
        report.changed = True
        follow_up = ", ".join(f"{t['country']} {t['stage']} {t['year']}" for t in item.transfers)
        print(f"  + {title} [published{'; ' + follow_up if follow_up else ''}]")


def screenshots(site: str, clients: Clients) -> list[Path]:
    """Screenshots of the website's main pages, once the catalogue shows them."""
    why = browser.missing()
    if why is not None:
        print(f"No screenshots: {why}.")
        return []

    def known(what: str, found: str | None) -> str:
        if found is None:
            raise DemoError(f"The demo's {what} is missing.")
        return found

    practice = known("LT practice", clients.catalogue.find(PRACTICES[1].body["title"]))
    seminar = known("BE seminar", clients.events.find("Belgium's 2012 Gender Pay Gap Law"))
    follow_up = known("OSKA follow-up", clients.events.find(FOLLOW_UPS[0].body["title"]))
    pages = {
        "home": f"{site}/?lang=en",
        "search": f"{site}/search?lang=en&q=gender",
        "event": f"{site}/events/{seminar}?lang=en",
        "practice": f"{site}/practices/{practice}?lang=en",
        "practice-fr": f"{site}/practices/{practice}?lang=fr",
        "follow-up-de": f"{site}/events/{follow_up}?lang=de",
        "country": f"{site}/countries/LT?lang=en",
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the worker indexes what the APIs announced
        if all(requests.get(url, timeout=TIMEOUT_S).ok for url in pages.values()):
            break
        time.sleep(1)
    written = []
    with browser.chromium() as driver:
        for name, url in pages.items():
            written.append(browser.screenshot(driver, url, SCREENSHOTS / f"{name}.png"))
    return written


def load(clients: Clients, maildir: Path) -> dict[str, int]:
    """Load the programme and exercise every service with it; counts by outcome."""
    for client in clients.all():
        client.check()
    report = Report()
    load_programme(clients, maildir, report)
    receiver = Receiver()
    try:
        subscription = subscribe_partner(clients, receiver)
        print(f"Exercising every service with '{KURZARBEIT}':")
        kurzarbeit = report.events[KURZARBEIT]
        answer_invitations(clients, maildir, kurzarbeit, KURZARBEIT_PEOPLE, report)
        circulate_papers(clients, kurzarbeit, KURZARBEIT_PAPERS, report)
        print(f"The public conference with open registration, '{CONFERENCE}':")
        conference = report.events[CONFERENCE]
        register_for_conference(clients, maildir, conference, CONFERENCE_PEOPLE, report)
        print(f"The peer review run by nominations, '{NOMINATED}':")
        run_nominations(clients, maildir, report.events[NOMINATED], report)
        print("The programme's record: papers, practices and their follow-ups:")
        record_practices(clients, report)
        await_deliveries(clients, subscription, receiver, report)
        clients.notifications.unsubscribe(subscription["id"])
    finally:
        receiver.close()
    survey_figures(clients, report)
    report.say(f"  mails in the SMTP sink: {settled_mail(maildir)} (Maildir {maildir})")
    return report.counts


def main() -> int:
    stack = LocalStack.from_environ()
    base_url = Env().str("EVENTS_URL", stack.service_url("events"))
    secretariat = auth(
        "secretariat",
        sub="demo-secretariat",
        email="secretariat@mlp.example",
        secret=stack.jwt_secret,
    )
    partner = auth(
        "partner", sub="demo-partner", email="partner@mlp.example", secret=stack.jwt_secret
    )
    clients = Clients(
        events=EventsClient(base_url, secretariat),
        invitations=InvitationsClient(stack.service_url("invitations"), secretariat),
        documents=DocumentsClient(stack.service_url("documents"), secretariat),
        notifications=NotificationsClient(stack.service_url("notifications"), partner),
        surveys=SurveysClient(stack.service_url("surveys"), secretariat),
        catalogue=CatalogueClient(stack.service_url("catalogue"), secretariat),
        coordinator=lambda country: auth(
            "coordinator", country=country, sub=f"demo-ncp-{country}", secret=stack.jwt_secret
        ),
    )
    print(f"Loading {len(PROGRAMME)} demo events into {base_url} ...")
    try:
        counts = load(clients, stack.mail_dir)
        shots = screenshots(clients.catalogue.base_url, clients)
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return 1
    by_status = ", ".join(
        f"{counts[s]} {s}" for s in ("published", "completed", "draft", "cancelled") if s in counts
    )
    print(
        f"Done: {counts['created']} events created"
        + (f" ({by_status})" if by_status else "")
        + f", {counts['surveyed']} surveyed, {counts['skipped']} already there."
    )
    if shots:
        print(f"Screenshots: {', '.join(str(s) for s in shots)}")
    print(f"The website: {clients.catalogue.base_url}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

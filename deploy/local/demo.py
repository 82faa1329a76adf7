"""Load a realistic mutual-learning programme into the running system (``make demo``).

Everything goes through the services' public HTTP APIs with a development
secretariat token, so everything is announced on Kafka like any other change:
the events (the events service), two published papers (the documents service),
and the practices of the programme's history with their follow-ups (the
catalogue). Running it again skips what is already there. Last, headless
Chromium writes screenshots of the website's main pages under
``var/screenshots/`` (skipped with a sentence where no browser is installed).

The gender-equality programme's exchange-of-good-practice seminars are those of
the record (host, month, topic); the record gives the month, so each is placed
on the second Tuesday and Wednesday of it.

Two past events also get their participant survey: the secretariat invites
the participants and records their acceptance on their behalf (the demo cannot
click the RSVP links people get by mail, and that endpoint exists for answers
given by phone), completes the event, and each participant then answers
through the personal survey link the notifications service mailed them, read
from the local SMTP sink's Maildir (``MLP_MAIL_DIR``): the link exists nowhere
else, since the surveys service stores only its hash. The secretariat closes
the surveys and publishes the results, so ``/v1/survey-results?year=2024``
shows the programme's figures.
"""

from __future__ import annotations

import calendar
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests

from deploy.local.settings import LocalStack
from devkit import browser, mail
from devkit.auth import auth
from devkit.samples import PDF_BYTES
from shared.config import Env

TIMEOUT_S = 10.0
WAIT_S = 120.0  # for a service to learn of an event, or for the survey mails
SCREENSHOTS = Path("var/screenshots")


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
) -> dict[str, Any]:
    return {
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
            "Germany's Kurzarbeit: short-time work as a crisis instrument",
            "Peer review of the German short-time work allowance (Kurzarbeitergeld): how the "
            "Federal Employment Agency scaled it in the 2009 and 2020 crises, its costs, "
            "deadweight and the link to training during reduced hours.",
            "peer_review",
            "employment",
            "DE",
            ["FR", "IT", "ES", "PT", "NL", "CZ", "SI", "LU"],
            ("2027-04-20", "2027-04-21"),
            "Nuremberg",
            "Europe/Berlin",
            ["en", "de"],
            "2027-03-26T17:00:00+01:00",
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
            "Mutual Learning Programme annual conference 2027: skills for the twin transition",
            "Public conference closing the 2027 cycle: results of the year's peer reviews on "
            "skills, youth employment and job retention, with ministers, social partners and "
            "the European Commission.",
            "conference",
            "employment",
            "BE",
            ["EE", "LT", "FI", "AT", "DE", "PT", "ES", "IE", "SE", "GR", "FR", "IT", "PL"],
            ("2027-11-18", "2027-11-18"),
            "Brussels",
            "Europe/Brussels",
            ["en", "fr", "de"],
            "2027-10-29T17:00:00+01:00",
            ["skills", "green_transition", "digital_transition"],
            capacity=300,
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
PAPERS: tuple[tuple[str, dict[str, str]], ...] = (
    (
        "Belgium's 2012 Gender Pay Gap Law",
        {
            "kind": "discussion_paper",
            "title": "Discussion paper: the Belgian Gender Pay Gap Law",
            "language": "en",
            "country": "BE",
        },
    ),
    (
        "Skills forecasting: Estonia's OSKA system",
        {
            "kind": "host_country_paper",
            "title": "Host country paper: OSKA",
            "language": "en",
            "country": "EE",
        },
    ),
)


class ApiClient:
    """The few calls of one service's API the demo needs."""

    service = "events"

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers)

    def _call(self, method: str, path: str, ok: tuple[int, ...] = (), **kwargs: Any):
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT_S, **kwargs)
        except requests.ConnectionError as exc:
            raise DemoError(
                f"The {self.service} service is not answering at {self.base_url}; "
                "start it with `make run`."
            ) from exc
        if response.status_code >= 400 and response.status_code not in ok:
            detail = response.text.strip()[:500]
            raise DemoError(f"{method} {path} answered {response.status_code}: {detail}")
        return response

    def check(self) -> None:
        self._call("GET", "/healthz")

    def transition(self, path: str, action: str, etag: str, reason: str = "") -> str:
        body = {"reason": reason} if action == "cancel" else None
        response = self._call("POST", f"{path}/{action}", json=body, headers={"If-Match": etag})
        return response.headers["ETag"]


class EventsClient(ApiClient):
    service = "events"

    def find(self, title: str) -> str | None:
        params: dict[str, str | int] = {"q": title[:200], "page_size": 500}
        items = self._call("GET", "/v1/events", params=params).json()["items"]
        return next((item["id"] for item in items if item["title"] == title), None)

    def exists(self, title: str) -> bool:
        return self.find(title) is not None

    def create(self, body: dict[str, Any]) -> tuple[str, str]:
        response = self._call("POST", "/v1/events", json=body)
        return response.json()["id"], response.headers["ETag"]


class CatalogueClient(ApiClient):
    service = "catalogue"

    def find(self, title: str) -> str | None:
        params = {"q": title[:200], "page_size": 500}
        items = self._call("GET", "/v1/practices", params=params).json()["items"]
        return next((item["id"] for item in items if item["title"] == title), None)

    def create(self, body: dict[str, Any], waited_s: float = 60.0) -> tuple[str, str]:
        """Create the practice once the catalogue knows its events (it learns of them
        from the topics: a moment after the events service announced them)."""
        deadline = time.monotonic() + waited_s
        while True:
            response = self._call("POST", "/v1/practices", ok=(422,), json=body)
            if response.status_code == 201:
                return response.json()["id"], response.headers["ETag"]
            if "events" not in response.json().get("errors", {}) or time.monotonic() > deadline:
                raise DemoError(f"POST /v1/practices answered 422: {response.text[:500]}")
            time.sleep(0.5)

    def transfer(self, practice_id: str, body: dict[str, Any]) -> None:
        self._call("POST", f"/v1/practices/{practice_id}/transfers", json=body)


class DocumentsClient(ApiClient):
    service = "documents"

    def exists(self, event_id: str, title: str) -> bool:
        params = {"event_id": event_id, "page_size": 500}
        items = self._call("GET", "/v1/documents", params=params).json()["items"]
        return any(item["title"] == title for item in items)

    def publish(self, event_id: str, fields: dict[str, str], waited_s: float = 60.0) -> str:
        """Upload a paper once the service knows the event, then take it to published."""
        deadline = time.monotonic() + waited_s
        while True:
            response = self._call(
                "POST",
                f"/v1/events/{event_id}/documents",
                ok=(404,),
                data=fields,
                files={"file": ("paper.pdf", PDF_BYTES, "application/pdf")},
            )
            if response.status_code == 201:
                break
            if time.monotonic() > deadline:
                raise DemoError(f"The documents service never learnt of event {event_id}.")
            time.sleep(0.5)
        document_id, etag = response.json()["id"], response.headers["ETag"]
        for action in ("submit", "approve", "publish"):
            etag = self.transition(f"/v1/documents/{document_id}", action, etag)
        return document_id


class InvitationsClient(ApiClient):
    service = "invitations"

    def invite(self, event_id: str, people: list[dict[str, str]]) -> list[str]:
        """Invite ``people`` once the service knows the event is published (404 and
        409 until its records arrive); their invitation ids."""
        path = f"/v1/events/{event_id}/invitations"
        deadline = time.monotonic() + WAIT_S
        while True:
            response = self._call("POST", path, json={"invitees": people}, ok=(404, 409))
            if response.status_code < 400:
                return [created["id"] for created in response.json()["created"]]
            if time.monotonic() > deadline:
                raise DemoError(
                    f"The invitations service did not take invitations to event {event_id}: "
                    f"{response.json().get('detail')}"
                )
            time.sleep(0.5)

    def accept_for(self, invitation_id: str) -> None:
        """Record the invitee's acceptance on their behalf (as a secretariat does
        for an answer given by phone)."""
        path = f"/v1/invitations/{invitation_id}/response"
        self._call("POST", path, json={"response": "accept"})


class SurveysClient(ApiClient):
    service = "surveys"

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
        self._call("POST", f"/v1/events/{event_id}/survey/close", ok=(409,))
        self._call("POST", f"/v1/events/{event_id}/survey/results/publish", ok=(409,))
        return self._call("GET", f"/v1/events/{event_id}/survey/results").json()

    def programme(self, **filters: Any) -> dict[str, Any]:
        return self._call("GET", "/v1/survey-results", params=filters).json()


@dataclass(frozen=True)
class Clients:
    events: EventsClient
    invitations: InvitationsClient
    surveys: SurveysClient


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


def survey_links(maildir: Path, emails: list[str]) -> dict[str, str]:
    """Each participant's newest survey link, once all have theirs in the Maildir."""
    path = "/v1/survey-responses/"
    deadline = time.monotonic() + WAIT_S
    while True:
        found = mail.latest_links(
            (m for m in mail.messages(maildir) if mail.recipient(m) in emails), path
        )
        if len(found) == len(emails):
            return found
        if time.monotonic() > deadline:
            raise DemoError(
                f"Only {len(found)} of {len(emails)} survey mails reached {maildir}; "
                "are the notifications service and the SMTP sink running?"
            )
        time.sleep(0.5)


def attend(clients: Clients, item: DemoEvent, event_id: str) -> list[str]:
    """Invite the event's participants and record their acceptance; their e-mails."""
    people = participants_of(item)
    for invitation_id in clients.invitations.invite(event_id, people):
        clients.invitations.accept_for(invitation_id)
    return [p["email"] for p in people]


def fill_survey(
    clients: Clients, event_id: str, emails: list[str], maildir: Path, seed: str
) -> dict[str, Any]:
    """Most participants answer through their mailed link (a few never do); then
    the secretariat closes the survey and publishes its results."""
    rng = random.Random(seed)
    links = survey_links(maildir, emails)
    for email in emails:
        if rng.random() < 0.85:
            clients.surveys.answer(links[email], answers_of(rng))
    return clients.surveys.close_and_publish(event_id)


def load(clients: Clients, maildir: Path) -> dict[str, int]:
    """Create every demo event that is not there yet, with its surveys; return
    counts by outcome."""
    for client in (clients.events, clients.invitations, clients.surveys):
        client.check()
    counts = {"created": 0, "skipped": 0, "surveyed": 0}
    for item in PROGRAMME:
        title = item.body["title"]
        if clients.events.exists(title):
            counts["skipped"] += 1
            print(f"  = {title} (already there)")
            continue
        body = dict(item.body)
        if item.follows_up:
            body["follows_up"] = [_required(clients.events.find(t), t) for t in item.follows_up]
        event_id, etag = clients.events.create(body)
        emails: list[str] = []
        for step in item.steps:
            if step == "complete" and item.participants:
                emails = attend(clients, item, event_id)
            etag = clients.events.transition(f"/v1/events/{event_id}", step, etag, item.reason)
        counts["created"] += 1
        counts[item.status] = counts.get(item.status, 0) + 1
        print(f"  + {title} [{item.body['format']}, {item.status}] {event_id}")
        if emails:
            results = fill_survey(clients, event_id, emails, maildir, title)
            counts["surveyed"] += 1
            print(f"    survey: {results['responses']} of {results['invited']} answered")
    return counts


def report(clients: Clients) -> None:
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
        print(f"  {year}: {figures['responses']} responses; agree or strongly agree: {shares}")
    base = clients.surveys.base_url
    print(f"  {base}/v1/survey-results?year=2024 and {base}/v1/survey-results.svg?year=2024")


def _required(event_id: str | None, title: str) -> str:
    if event_id is None:
        raise DemoError(f"The demo event {title!r} is missing.")
    return event_id


def load_papers(events: EventsClient, documents: DocumentsClient) -> int:
    documents.check()
    published = 0
    for event_title, fields in PAPERS:
        event_id = _required(events.find(event_title), event_title)
        if documents.exists(event_id, fields["title"]):
            print(f"  = {fields['title']} (already there)")
            continue
        documents.publish(event_id, fields)
        published += 1
        print(f"  + {fields['title']} [published]")
    return published


def load_practices(events: EventsClient, catalogue: CatalogueClient) -> int:
    catalogue.check()
    created = 0
    for item in PRACTICES:
        title = item.body["title"]
        if catalogue.find(title):
            print(f"  = {title} (already there)")
            continue
        body = {**item.body, "events": [_required(events.find(t), t) for t in item.presented_at]}
        practice_id, etag = catalogue.create(body)
        catalogue.transition(f"/v1/practices/{practice_id}", "publish", etag)
        for transfer in item.transfers:
            catalogue.transfer(practice_id, transfer)
        created += 1
        follow = ", ".join(f"{t['country']} {t['stage']} {t['year']}" for t in item.transfers)
        print(f"  + {title} [published{'; ' + follow if follow else ''}]")
    return created


def screenshots(site: str, events: EventsClient, catalogue: CatalogueClient) -> list[Path]:
    """Screenshots of the website's main pages, once the catalogue shows them."""
    why = browser.missing()
    if why is not None:
        print(f"No screenshots: {why}.")
        return []
    practice = _required(catalogue.find(PRACTICES[1].body["title"]), "LT practice")
    seminar = _required(events.find("Belgium's 2012 Gender Pay Gap Law"), "BE seminar")
    follow = f"{site}/events/{_required(events.find(FOLLOW_UPS[0].body['title']), 'OSKA')}"
    pages = {
        "home": f"{site}/?lang=en",
        "search": f"{site}/search?lang=en&q=gender",
        "event": f"{site}/events/{seminar}?lang=en",
        "practice": f"{site}/practices/{practice}?lang=en",
        "practice-fr": f"{site}/practices/{practice}?lang=fr",
        "follow-up-de": f"{follow}?lang=de",
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


def main() -> int:
    stack = LocalStack.from_environ()
    env = Env()
    base_url = env.str("EVENTS_URL", stack.service_url("events"))
    documents_url = env.str("DOCUMENTS_URL", stack.service_url("documents"))
    catalogue_url = env.str("CATALOGUE_URL", stack.service_url("catalogue"))
    headers = auth(
        "secretariat",
        sub="demo-secretariat",
        email="secretariat@mlp.example",
        secret=stack.jwt_secret,
    )
    clients = Clients(
        events=EventsClient(base_url, headers),
        invitations=InvitationsClient(stack.service_url("invitations"), headers),
        surveys=SurveysClient(stack.service_url("surveys"), headers),
    )
    events = clients.events
    catalogue = CatalogueClient(catalogue_url, headers)
    print(f"Loading {len(PROGRAMME)} demo events into {base_url} ...")
    try:
        counts = load(clients, stack.mail_dir)
        print("The programme's survey figures:")
        report(clients)
        print(f"Publishing {len(PAPERS)} papers through {documents_url} ...")
        load_papers(events, DocumentsClient(documents_url, headers))
        print(f"Recording {len(PRACTICES)} practices in {catalogue_url} ...")
        load_practices(events, catalogue)
        shots = screenshots(catalogue_url, events, catalogue)
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
    print(f"The website: {catalogue_url}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

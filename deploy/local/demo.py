"""Load a realistic mutual-learning programme into the running system (``make demo``).

Everything goes through the services' public HTTP APIs with a development
secretariat token, so the events are announced on Kafka like any other. Running
it again skips the events whose title already exists.

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

import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from deploy.local.settings import LocalStack
from devkit import mail
from devkit.auth import auth
from shared.config import Env

TIMEOUT_S = 10.0
WAIT_S = 120.0  # for a service to learn of an event, or for the survey mails


@dataclass(frozen=True)
class DemoEvent:
    """One programme event and the status it should end in."""

    body: dict[str, Any]
    status: str = "published"  # draft | published | completed | cancelled
    reason: str = ""
    participants: tuple[str, ...] = ()  # countries of those who attend and are surveyed
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
            "Belgium's 2012 Gender Pay Gap Law",
            "Exchange of good practice on the Belgian law of 22 April 2012 that makes pay-gap "
            "analysis part of social dialogue: biennial company reports, gender-neutral job "
            "classification and a reference person for pay equity in larger firms.",
            "good_practice_seminar",
            "gender_equality",
            "BE",
            ["DE", "FR", "IT", "LU", "CZ", "IS"],
            ("2024-06-12", "2024-06-13"),
            "Brussels",
            "Europe/Brussels",
            ["en", "fr", "nl"],
            "2024-05-24T17:00:00+02:00",
            ["gender_pay_gap", "pay_transparency", "social_dialogue"],
        ),
        status="completed",
    ),
    DemoEvent(
        _event(
            "Sweden's individual taxation and women's employment",
            "Good practice seminar on Sweden's move from joint to individual income taxation "
            "in 1971 and its effect on second earners' work incentives and women's labour "
            "market participation.",
            "good_practice_seminar",
            "gender_equality",
            "SE",
            ["DE", "IE", "PL", "MT", "ES", "NO"],
            ("2025-09-23", "2025-09-24"),
            "Stockholm",
            "Europe/Stockholm",
            ["en", "sv"],
            "2025-09-01T17:00:00+02:00",
            ["taxation", "second_earners", "female_employment"],
        ),
        status="completed",
    ),
    DemoEvent(
        _event(
            "Greece: protocol on support for victims of violence in asylum and migration",
            "Thematic event on the Greek inter-agency protocol for identifying and referring "
            "survivors of gender-based violence among asylum seekers and migrants, from "
            "reception centres to shelters, health care and legal aid.",
            "thematic_event",
            "integration",
            "GR",
            ["IT", "ES", "CY", "MT", "BG", "AT", "DE", "NL", "SE"],
            ("2026-05-19", "2026-05-20"),
            "Athens",
            "Europe/Athens",
            ["en", "el"],
            "2026-04-30T17:00:00+03:00",
            ["gender_based_violence", "asylum", "reception", "referral"],
            capacity=60,
        ),
        status="completed",
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


class DemoError(Exception):
    """The demo could not be loaded; the message is one sentence."""


class ServiceClient:
    """HTTP calls to one service of the running system, as the secretariat."""

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


class EventsClient(ServiceClient):
    """The few calls of the events API the demo needs."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__("events", base_url, headers)

    def exists(self, title: str) -> bool:
        params: dict[str, str | int] = {"q": title[:200], "page_size": 500}
        items = self._call("GET", "/v1/events", params=params).json()["items"]
        return any(item["title"] == title for item in items)

    def create(self, body: dict[str, Any]) -> tuple[str, str]:
        response = self._call("POST", "/v1/events", json=body)
        return response.json()["id"], response.headers["ETag"]

    def transition(self, event_id: str, action: str, etag: str, reason: str = "") -> str:
        body = {"reason": reason} if action == "cancel" else None
        response = self._call(
            "POST", f"/v1/events/{event_id}/{action}", json=body, headers={"If-Match": etag}
        )
        return response.headers["ETag"]


class InvitationsClient(ServiceClient):
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__("invitations", base_url, headers)

    def invite(self, event_id: str, people: list[dict[str, str]]) -> list[str]:
        """Invite ``people`` once the service knows the event is published (404 and
        409 until its records arrive); their invitation ids."""
        path = f"/v1/events/{event_id}/invitations"
        deadline = time.monotonic() + WAIT_S
        while True:
            response = self._call("POST", path, json={"invitees": people}, allow=(404, 409))
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
        event_id, etag = clients.events.create(item.body)
        emails: list[str] = []
        for step in item.steps:
            if step == "complete" and item.participants:
                emails = attend(clients, item, event_id)
            etag = clients.events.transition(event_id, step, etag, item.reason)
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


def main() -> int:
    stack = LocalStack.from_environ()
    base_url = Env().str("EVENTS_URL", stack.service_url("events"))
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
    print(f"Loading {len(PROGRAMME)} demo events into {base_url} ...")
    try:
        counts = load(clients, stack.mail_dir)
        print("The programme's survey figures:")
        report(clients)
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return 1
    by_status = ", ".join(
        f"{counts[s]} {s}" for s in ("published", "completed", "draft", "cancelled") if s in counts
    )
    print(
        f"Done: {counts['created']} created"
        + (f" ({by_status})" if by_status else "")
        + f", {counts['surveyed']} surveyed, {counts['skipped']} already there."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The campaign's workload, through the public HTTP APIs only: programme events
created and published, officials invited, RSVP answers (accepts, declines,
changes of mind) through the links in their invitation mails, papers uploaded
and taken through review to publication, event changes and cancellations, and
two partners' webhook subscriptions.

Every HTTP answer is logged (:class:`Calls`) for the 5xx check. A call that
meets a connection error or a 503 is tried again, as a client would; a create
that may have landed before its answer was lost is looked up before it is
tried again, so the workload does not itself duplicate what it drives."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import requests

from chaos.mailsink import MailSink
from deploy.local.demo import pdf
from devkit.auth import auth
from devkit.samples import event_body, official

INVOLVED = ("pending", "sent", "accepted", "waitlisted")  # who hears of changes
ANSWER_MAILS = ("accepted", "promoted", "declined", "waitlisted")
RETRY_FOR_S = 240.0  # a client gives up on a call after this long of outages
TIMEOUT_S = 30.0

# What the two partners subscribe to.
SUBSCRIPTIONS = {
    "ministry-portal": (
        "event.published",
        "event.updated",
        "event.cancelled",
        "invitation.accepted",
        "invitation.declined",
        "invitation.waitlisted",
        "document.published",
    ),
    "research-network": (
        "event.created",
        "event.published",
        "event.updated",
        "event.cancelled",
        "document.uploaded",
        "document.submitted",
        "document.published",
    ),
}


@dataclass(frozen=True)
class Sizes:
    """How much the workload drives (the issue's minimums by default)."""

    events: int = 200
    invitations: int = 10_000
    rsvps: int = 3_000
    documents: int = 500
    changes: int = 50
    cancellations: int = 10
    concurrency: int = 6
    # How long the workload waits for a mail it needs (an RSVP link, an answer's
    # confirmation) before going on without it; the checks count it lost.
    patience_s: float = 900.0

    @property
    def per_event(self) -> int:
        return max(1, self.invitations // self.events)

    @property
    def capacity(self) -> int:
        """Places per event: fewer than the first round of acceptances, so some
        wait and are promoted when others change their minds."""
        return max(1, self.answers_per_event // 2)

    @property
    def answers_per_event(self) -> int:
        return max(2, self.rsvps // self.events)


@dataclass(frozen=True)
class Call:
    at: float  # time.monotonic()
    service: str
    method: str
    path: str
    status: int  # 0: no answer (connection refused, reset, timed out)


@dataclass
class Calls:
    log: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: Call) -> None:
        with self.lock:
            self.log.append(call)


class WorkloadError(Exception):
    """A call kept failing in a way no outage explains."""


class Api:
    """One service's API with one caller's token; every answer logged."""

    def __init__(self, service: str, base: str, headers: dict[str, str], calls: Calls) -> None:
        self.service = service
        self.base = base
        self.headers = headers
        self.calls = calls
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers.update(self.headers)
        return self.local.session

    def once(self, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        """One attempt; ``None`` when no answer came."""
        url = path if path.startswith("http") else f"{self.base}{path}"
        shown = url.split("/v1/", 1)[-1].split("?")[0]
        try:
            response = self._session().request(method, url, timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException:
            self.calls.add(Call(time.monotonic(), self.service, method, shown, 0))
            self.local.__dict__.pop("session", None)  # a fresh connection next time
            return None
        self.calls.add(Call(time.monotonic(), self.service, method, shown, response.status_code))
        return response

    def call(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200, 201, 202),
        wait_on: tuple[int, ...] = (),
        landed: Callable[[], requests.Response | None] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """The answer once it is one of ``ok``: tries again after no answer, a 503
        (or a status of ``wait_on``: the service has not learnt of something yet).
        After an attempt without an answer, ``landed()`` says whether it took
        effect anyway (its answer is then the call's)."""
        deadline = time.monotonic() + RETRY_FOR_S
        delay = 0.5
        unanswered = False
        while True:
            if unanswered and landed is not None:
                found = landed()
                if found is not None:
                    return found
            response = self.once(method, path, **kwargs)
            if response is not None and response.status_code in ok:
                return response
            unanswered = response is None
            # A client tries again after any 5xx; the checks judge each one.
            status = 0 if response is None else response.status_code
            retry = status == 0 or status >= 500 or status in wait_on
            if not retry or time.monotonic() > deadline:
                said = "no answer" if response is None else response.status_code
                text = "" if response is None else response.text[:300]
                raise WorkloadError(f"{method} {self.service} {path}: {said} {text}")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)


@dataclass
class Programme:
    """What the workload did, as the checks need it."""

    run: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {title, etag}
    invitees: dict[str, list[str]] = field(default_factory=dict)  # event id -> emails
    answers: list[tuple[str, str, str]] = field(default_factory=list)  # email, answer, event
    documents: dict[str, str] = field(default_factory=dict)  # document id -> event id
    changed: list[str] = field(default_factory=list)
    # event id -> the addresses still involved (not declined) when it was changed or cancelled
    involved: dict[str, list[str]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> sub
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds it took
    lock: threading.Lock = field(default_factory=threading.Lock)


class Workload:
    def __init__(
        self, urls: dict[str, str], receiver_url: str, sink: MailSink, sizes: Sizes, seed: int
    ) -> None:
        self.sizes = sizes
        self.sink = sink
        self.receiver_url = receiver_url
        self.rng = random.Random(seed)
        self.calls = Calls()
        secretariat = auth("secretariat", sub="chaos-secretariat", email="sec@mlp.example")
        partner = auth("partner", sub="chaos-partner", email="partner@mlp.example")
        self.events = Api("events", urls["events"], secretariat, self.calls)
        self.invitations = Api("invitations", urls["invitations"], secretariat, self.calls)
        self.documents = Api("documents", urls["documents"], secretariat, self.calls)
        self.notifications = Api("notifications", urls["notifications"], partner, self.calls)
        self.public = Api("invitations", urls["invitations"], {}, self.calls)
        self.programme = Programme(run=f"{seed:x}{int(time.time()) % 100000:05d}")

    # --- the steps ------------------------------------------------------------

    def subscribe(self) -> None:
        for name, topics in SUBSCRIPTIONS.items():
            url = f"{self.receiver_url}/{name}"
            body = {"url": url, "topics": list(topics), "description": name}
            sub = self.notifications.call("POST", "/v1/subscriptions", json=body).json()
            self.programme.subscriptions[name] = sub

    def _title(self, i: int) -> str:
        return f"Chaos {self.programme.run} peer review {i:04d}"

    def create_event(self, i: int) -> None:
        title = self._title(i)
        starts = date(2027, 3, 1) + timedelta(days=i % 300)
        body = event_body(
            title=title,
            starts_on=starts.isoformat(),
            ends_on=(starts + timedelta(days=1)).isoformat(),
            capacity=self.sizes.capacity,
            registration_deadline=f"{starts - timedelta(days=7)}T17:00:00+00:00",
        )

        def landed() -> requests.Response | None:
            found = self.events.call("GET", "/v1/events", params={"q": title, "page_size": 5})
            item = next((e for e in found.json()["items"] if e["title"] == title), None)
            if item is None:
                return None
            return self.events.call("GET", f"/v1/events/{item['id']}")

        created = self.events.call("POST", "/v1/events", json=body, landed=landed)
        event_id, etag = created.json()["id"], created.headers["ETag"]
        if created.json()["status"] == "draft":
            etag = self._transition(event_id, "publish", etag, "published")
        with self.programme.lock:
            self.programme.events[event_id] = {"title": title, "etag": etag, "index": i}

    def _transition(
        self, event_id: str, action: str, etag: str, reached: str, body: Any = None
    ) -> str:
        """POST the action; a retry whose first attempt had landed finds the state reached."""

        def landed() -> requests.Response | None:
            now = self.events.call("GET", f"/v1/events/{event_id}")
            return now if now.json()["status"] == reached else None

        path = f"/v1/events/{event_id}/{action}"
        done = self.events.call("POST", path, json=body, headers={"If-Match": etag}, landed=landed)
        return done.headers["ETag"]

    def invite(self, event_id: str) -> None:
        index = self.programme.events[event_id]["index"]
        people = [
            official(j, f"e{index:04d}p{j:03d}.{self.programme.run}@gov{j % 17}.example.eu")
            for j in range(self.sizes.per_event)
        ]
        path = f"/v1/events/{event_id}/invitations"
        # Inviting the same addresses again creates nothing: safe to repeat.
        self.invitations.call("POST", path, json={"invitees": people}, wait_on=(404, 409))
        with self.programme.lock:
            self.programme.invitees[event_id] = [p["email"] for p in people]

    def _links(self, emails: list[str]) -> dict[str, str]:
        """The RSVP link of each address, from its invitation mail in the sink."""
        wanted = set(emails)
        deadline = time.monotonic() + self.sizes.patience_s
        while True:
            links = {
                m.recipient: m.rsvp_link
                for m in self.sink.snapshot()
                if m.recipient in wanted and m.template == "invitation" and m.rsvp_link
            }
            if len(links) == len(wanted) or time.monotonic() > deadline:
                return links
            time.sleep(2.0)

    def _plan(self, event_id: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The event's answers: a first round of accepts and declines (more accepts
        than places), then changes of mind (accepted -> decline, declined -> accept)."""
        n = self.sizes.answers_per_event
        people = self.programme.invitees[event_id][: max(1, n * 4 // 5)]
        first = [(email, "accept" if k % 4 else "decline") for k, email in enumerate(people)]
        accepted = [e for e, a in first if a == "accept"]
        declined = [e for e, a in first if a == "decline"]
        later = n - len(first)
        to_decline = max(1, later * 2 // 3) if later > 1 else later
        changes = [(e, "decline") for e in accepted[:to_decline]]
        changes += [(e, "accept") for e in declined[: later - to_decline]]
        return first, changes

    def _answer(self, event_id: str, answers: list[tuple[str, str]]) -> None:
        links = self._links([email for email, _ in answers])
        for email, response in answers:
            link = links.get(email)
            if link is None:
                continue  # its invitation mail never came: the checks count it lost
            self.public.call("POST", link, json={"response": response})
            with self.programme.lock:
                self.programme.answers.append((email, response, event_id))

    def answer(self, event_id: str) -> None:
        self._answer(event_id, self._plan(event_id)[0])

    def change_mind(self, event_id: str) -> None:
        self._answer(event_id, self._plan(event_id)[1])

    def upload(self, event_id: str, k: int) -> None:
        title = f"Paper {k} of {self.programme.events[event_id]['title']}"
        form = {"kind": "discussion_paper", "title": title, "language": "en"}

        def landed() -> requests.Response | None:
            params = {"event_id": event_id, "page_size": 100}
            items = self.documents.call("GET", "/v1/documents", params=params).json()["items"]
            item = next((d for d in items if d["title"] == title), None)
            if item is None:
                return None
            return self.documents.call("GET", f"/v1/documents/{item['id']}")

        content = pdf(title, ("A paper of the campaign.",))
        files = {"file": (f"paper-{k}.pdf", content, "application/pdf")}
        made = self.documents.call(
            "POST",
            f"/v1/events/{event_id}/documents",
            data=form,
            files=files,
            wait_on=(404, 409),
            landed=landed,
        )
        document_id = made.json()["id"]
        status, etag = made.json()["status"], made.headers["ETag"]
        steps = {"draft": "submit", "submitted": "approve", "approved": "publish"}
        while status in steps:
            path = f"/v1/documents/{document_id}/{steps[status]}"
            answer = self.documents.once("POST", path, headers={"If-Match": etag})
            if answer is None or answer.status_code in (409, 412) or answer.status_code >= 500:
                time.sleep(1.0)  # an outage, or a step that landed unanswered: read it again
                now = self.documents.call("GET", f"/v1/documents/{document_id}")
                status, etag = now.json()["status"], now.headers["ETag"]
                continue
            if answer.status_code != 200:
                raise WorkloadError(f"POST {path}: {answer.status_code} {answer.text[:300]}")
            status, etag = answer.json()["status"], answer.headers["ETag"]
        with self.programme.lock:
            self.programme.documents[document_id] = event_id

    def invitations_of(self, event_id: str) -> list[dict[str, Any]]:
        """The event's invitations as the secretariat lists them (at most 500)."""
        path = f"/v1/events/{event_id}/invitations"
        return self.invitations.call("GET", path, params={"page_size": 500}).json()["items"]

    def _note_involved(self, event_id: str) -> None:
        items = self.invitations_of(event_id)
        involved = [i["email"].lower() for i in items if i["status"] in INVOLVED]
        with self.programme.lock:
            self.programme.involved[event_id] = involved

    def settle_answers(self) -> None:
        """Wait until every answer's mail has arrived (its effect is visible), so a
        change or cancellation that follows finds everyone's final status."""
        answered = {email for email, _, _ in self.programme.answers}
        deadline = time.monotonic() + self.sizes.patience_s
        while time.monotonic() < deadline:
            mailed = Counter(
                m.recipient
                for m in self.sink.snapshot()
                if m.recipient in answered and m.template in ANSWER_MAILS
            )
            answers = Counter(email for email, _, _ in self.programme.answers)
            if all(mailed[e] >= n for e, n in answers.items()):
                return
            time.sleep(3.0)
        print("  workload: not every answer's mail came in time; going on", flush=True)

    def change(self, event_id: str) -> None:
        """Move the event to another city (a calendar change for everyone involved)."""
        self._note_involved(event_id)
        body = {"venue": {"city": "Lisbon", "country": "PT", "online": False}}
        etag = self.events.call("GET", f"/v1/events/{event_id}").headers["ETag"]

        def landed() -> requests.Response | None:
            now = self.events.call("GET", f"/v1/events/{event_id}")
            return now if now.json()["venue"]["city"] == "Lisbon" else None

        self.events.call(
            "PATCH", f"/v1/events/{event_id}", json=body, headers={"If-Match": etag}, landed=landed
        )
        with self.programme.lock:
            self.programme.changed.append(event_id)

    def cancel(self, event_id: str) -> None:
        self._note_involved(event_id)
        etag = self.events.call("GET", f"/v1/events/{event_id}").headers["ETag"]
        self._transition(event_id, "cancel", etag, "cancelled", {"reason": "Chaos campaign"})
        with self.programme.lock:
            self.programme.cancelled.append(event_id)

    # --- the whole --------------------------------------------------------------

    def _step(self, name: str, work: Callable[[Any], None], items: list[Any]) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(self.sizes.concurrency, thread_name_prefix=name) as pool:
            for future in [pool.submit(work, item) for item in items]:
                future.result()
        self.programme.steps[name] = round(time.monotonic() - started, 1)
        took = self.programme.steps[name]
        print(f"  workload: {name} done ({len(items)}) in {took} s", flush=True)

    def run(self) -> Programme:
        s = self.sizes
        self.subscribe()
        self._step("create and publish events", self.create_event, list(range(s.events)))
        ids = sorted(self.programme.events, key=lambda e: self.programme.events[e]["index"])
        self._step("invite", self.invite, ids)
        uploads = [(ids[k % len(ids)], k) for k in range(s.documents)]
        papers = threading.Thread(
            target=self._step,
            args=("upload and publish papers", lambda item: self.upload(*item), uploads),
        )
        papers.start()
        self._step("answer", self.answer, ids)
        # Minds change later, once the first answers were confirmed: a status
        # mail superseded before it was sent is not sent at all.
        self.settle_answers()
        self._step("change minds", self.change_mind, ids)
        papers.join()
        self.settle_answers()
        shuffled = self.rng.sample(ids, min(len(ids), s.changes + s.cancellations))
        self._step("change events", self.change, shuffled[: s.changes])
        self._step("cancel events", self.cancel, shuffled[s.changes :])
        return self.programme

"""The surveys service end to end, with events, invitations and notifications:
all four as real processes (gunicorn ``web`` and ``worker``), real Kafka and
MongoDB, and the SMTP sink. People act only through what reaches them: the
invitation mail's RSVP link, the survey mail's link, the reminder's link.

Seven accept (five from LT, two from DE); completing the event mails seven
survey links; six answer; the seventh gets exactly one reminder once its time
has come (the test moves the respondents' reminder time into the past, as a
week passing would); results show 6 of 7 with the distributions, and the
country breakdown hides DE, and LT with it (complementary suppression: with
LT shown, DE's answers would be the totals minus LT's)."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import requests
from pymongo import MongoClient

from deploy.local.ports import free_port
from devkit import mail
from devkit.auth import auth
from devkit.kafka import collect, partner_consumer
from devkit.samples import event_body
from devkit.waiting import wait_until

SEC = auth("secretariat")
SURVEY_PATH = "/v1/survey-responses/"
T = 30


def _people(tag: str) -> list[dict[str, str]]:
    return [
        {
            "email": f"{country.lower()}{n}-{tag}@gov.example.eu",
            "name": f"Official {country} {n}",
            "country": country,
            "organisation": "Ministry of Social Security and Labour",
            "role": "government_official",
            "language": language,
        }
        for n, (country, language) in enumerate(
            [("LT", "en"), ("LT", "en"), ("LT", "fr"), ("LT", "en"), ("LT", "en"),
             ("DE", "de"), ("DE", "de")]
        )
    ]  # fmt: skip


def _mine(sink, emails, path):
    return [m for m in sink.messages() if mail.recipient(m) in emails and mail.links(m, path)]


def _every_link(sink, emails, path) -> dict[str, str] | None:
    """Recipient -> newest link with ``path``, once every one of ``emails`` has one."""
    found = mail.latest_links(_mine(sink, emails, path), path)
    return found if len(found) == len(emails) else None


def _survey_db(service):
    client = MongoClient(service.env["MLP_MONGO_URI"])
    return client, client[service.env["MLP_SURVEYS_DB"]]


def _snapshot(db):
    return {
        name: sorted(db[name].find(), key=lambda d: str(d["_id"]))
        for name in ("surveys", "respondents", "responses")
    }


def test_seven_accept_six_answer_one_reminder_and_anonymous_results(
    start_service, topics, smtp_sink
):
    mail_env = {"MLP_SMTP_PORT": str(smtp_sink.port), "MLP_MAIL_POLL_SECONDS": "0.1"}
    invitations_port, surveys_port = free_port(), free_port()
    events = start_service("events", topics)
    invitations = start_service(
        "invitations",
        topics,
        port=invitations_port,
        env={"MLP_PUBLIC_BASE_URL": f"http://127.0.0.1:{invitations_port}"},
    )
    start_service("notifications", topics, env=mail_env)
    surveys = start_service(
        "surveys",
        topics,
        port=surveys_port,
        env={
            "MLP_SURVEYS_PUBLIC_URL": f"http://127.0.0.1:{surveys_port}",
            "MLP_SURVEY_JOB_INTERVAL_S": "0.5",
        },
    )
    partner = partner_consumer(topics, "survey.opened", "survey.closed", "survey.results_published")
    people = _people(uuid.uuid4().hex[:6])
    emails = [p["email"] for p in people]

    # The secretariat plans and publishes the event and invites seven officials.
    created = requests.post(
        f"{events.base_url}/v1/events", json=event_body(capacity=None), headers=SEC, timeout=T
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert requests.post(f"{events.base_url}/v1/events/{event_id}/publish", headers=SEC).ok
    invite_url = f"{invitations.base_url}/v1/events/{event_id}/invitations"
    assert wait_until(
        lambda: (
            requests.post(invite_url, json={"invitees": people}, headers=SEC, timeout=T).status_code
            == 201
        ),
        timeout_s=60,
        step=0.5,
    )

    # Each accepts through the RSVP link in their invitation mail.
    rsvp = wait_until(lambda: _every_link(smtp_sink, emails, "/v1/rsvp/"), timeout_s=90)
    assert rsvp, smtp_sink.messages()
    for email in emails:
        answer = requests.post(rsvp[email], json={"response": "accept"}, timeout=T)
        assert answer.json()["status"] == "accepted"

    # The event takes place: completing it opens the survey and mails seven links
    # (an acceptance the surveys service learns of after that gets its link late).
    done = requests.post(f"{events.base_url}/v1/events/{event_id}/complete", headers=SEC)
    assert done.status_code == 200
    links = wait_until(lambda: _every_link(smtp_sink, emails, SURVEY_PATH), timeout_s=90)
    assert links, surveys.worker.tail(40)
    survey_mails = _mine(smtp_sink, emails, SURVEY_PATH)
    assert len(survey_mails) == 7
    for message in survey_mails:
        assert "/v1/rsvp/" not in mail.text(message)
    de_mail = next(m for m in survey_mails if mail.recipient(m) == emails[5])
    assert mail.subject(de_mail).startswith("Ihre Rückmeldung") and "?lang=de" in links[emails[5]]

    # GET on a link shows the survey in the participant's language and changes nothing.
    client, db = _survey_db(surveys)
    before = _snapshot(db)
    shown = requests.get(links[emails[2]], timeout=T)  # ?lang=fr from the mail
    assert shown.status_code == 200 and shown.json()["language"] == "fr"
    assert shown.json()["questions"][0]["text"].startswith("Les activités")
    page = requests.get(links[emails[5]], headers={"Accept": "text/html"}, timeout=T)
    assert page.headers["Content-Type"].startswith("text/html") and 'lang="de"' in page.text
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert _snapshot(db) == before

    # Six answer (all LT, one DE); one of them through the HTML form.
    given = [5, 4, 4, 5, 2]  # knowledge, LT
    for email, knowledge in zip(emails[:5], given, strict=True):
        body = {
            "answers": [
                {"question_id": "knowledge", "value": knowledge},
                {"question_id": "understanding", "value": 4},
                {"question_id": "needs_matched", "value": 5 if knowledge > 3 else 3},
                {"question_id": "overall", "value": 4},
                {"question_id": "use_learning", "value": "yes" if knowledge > 3 else "partly"},
                {"question_id": "next_steps", "value": f"Pilot profiling ({knowledge})"},
            ]
        }
        answered = requests.post(links[email], json=body, timeout=T)
        assert answered.status_code == 201, answered.text
    form = {
        "q.knowledge": "3",
        "q.understanding": "5",
        "q.needs_matched": "3",
        "q.overall": "3",
        "q.use_learning": "partly",
    }
    html = requests.post(links[emails[5]], data=form, headers={"Accept": "text/html"}, timeout=T)
    assert html.status_code == 201 and "Vielen Dank" in html.text
    again = requests.post(links[emails[0]], json={"answers": []}, timeout=T)
    assert again.status_code == 409
    assert again.headers["Content-Type"] == "application/problem+json"

    # A week passes for the survey: the one who did not answer gets one reminder.
    db.respondents.update_many(
        {"event_id": event_id}, {"$set": {"remind_at": datetime.now(UTC) - timedelta(minutes=1)}}
    )
    silent = emails[6]
    reminder = wait_until(
        lambda: [
            m for m in _mine(smtp_sink, [silent], SURVEY_PATH) if "Erinnerung" in mail.subject(m)
        ],
        timeout_s=60,
    )
    assert reminder, surveys.worker.tail(40)
    wait_until(lambda: False, timeout_s=4)  # several job runs later ...
    survey_mails = _mine(smtp_sink, emails, SURVEY_PATH)
    per_person = {e: len([m for m in survey_mails if mail.recipient(m) == e]) for e in emails}
    assert per_person == {**dict.fromkeys(emails[:6], 1), silent: 2}  # ... still exactly one
    fresh = mail.links(reminder[0], SURVEY_PATH)[0]
    assert fresh != links[silent]
    assert requests.get(links[silent], timeout=T).status_code == 410  # the first link died
    assert requests.get(fresh, timeout=T).json()["can_answer"] is True

    # Results: 6 of 7, the distributions, the agree shares; DE is hidden and
    # cannot be derived.
    closed = requests.post(f"{surveys.base_url}/v1/events/{event_id}/survey/close", headers=SEC)
    assert closed.status_code == 200
    results_url = f"{surveys.base_url}/v1/events/{event_id}/survey/results"
    assert requests.get(results_url, timeout=T).status_code == 404  # not published yet
    body = requests.get(results_url, headers=SEC, timeout=T).json()
    assert (body["responses"], body["invited"]) == (6, 7)
    assert body["response_rate"] == round(6 / 7, 4)
    by_id = {q["id"]: q for q in body["questions"]}
    # knowledge 5, 4, 4, 5, 2 (LT) and 3 (DE)
    assert by_id["knowledge"]["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 2, "5": 2}
    assert by_id["knowledge"]["agree_share"] == round(4 / 6, 4)
    assert by_id["understanding"]["agree_share"] == 1.0
    assert by_id["needs_matched"]["distribution"] == {"1": 0, "2": 0, "3": 2, "4": 0, "5": 4}
    assert by_id["use_learning"]["distribution"] == {"yes": 4, "partly": 2, "no": 0}
    assert by_id["overall"]["mean"] == round((4 * 5 + 3) / 6, 2)
    assert by_id["next_steps"]["answers"] == sorted(f"Pilot profiling ({k})" for k in given)
    countries = body["breakdowns"]["country"]
    assert countries["DE"] == {"suppressed": True}
    # LT alone shown would give DE as totals minus LT: it is hidden with DE.
    assert countries["LT"] == {"suppressed": True}
    assert "DE" not in json.dumps({k: v for k, v in body.items() if k != "breakdowns"})
    roles = body["breakdowns"]["role"]
    assert roles["government_official"]["responses"] == 6  # a group of six is shown

    # Published: anyone may read them and the chart; partners hear counts only.
    published = requests.post(f"{results_url}/publish", headers=SEC, timeout=T)
    assert published.status_code == 200
    assert requests.get(results_url, timeout=T).json()["responses"] == 6
    chart = requests.get(f"{results_url}.svg", timeout=T)
    root = ET.fromstring(chart.content)
    bars = {
        g.get("id").split("-")[1]
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if (g.get("id") or "").startswith("bar-")
    }
    assert bars == {"knowledge", "understanding", "needs_matched"}
    records = collect(
        partner,
        lambda rs: any(r.topic == "survey.results_published" and r.key == event_id.encode()
                       for r in rs),
        timeout_s=60,
    )  # fmt: skip
    mine = {r.topic: json.loads(r.value) for r in records if r.key == event_id.encode()}
    assert (mine["survey.closed"]["invited"], mine["survey.closed"]["responses"]) == (7, 6)
    assert mine["survey.results_published"]["agree_shares"]["knowledge"] == round(4 / 6, 4)
    text = " ".join(r.value.decode() for r in records)
    assert SURVEY_PATH not in text and "invitation_id" not in text
    partner.close()
    client.close()

"""Reactions to ``event.*`` and ``invitation.*`` records through the real
consumer runner, the periodic jobs with a controlled clock, and the anonymity
of what the surveys database holds, read directly."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from devkit.samples import event_payload, status_payload
from services.surveys.domain import token_hash
from services.surveys.jobs import close_due, remind_due
from tests.fixtures.surveys import (
    SEC,
    answers,
    completed_event,
    links,
    participants,
    token_of,
)
from tests.helpers import outbox_payload


def _db(app):
    return app.extensions["mlp"].db


def _records(app, event_id, topic):
    """The payloads ``topic``'s consumers will see (sealed fields opened)."""
    return [outbox_payload(r) for r in _db(app).outbox.find({"key": event_id, "topic": topic})]


def _survey(client, event_id):
    return client.get(f"/v1/events/{event_id}/survey", headers=SEC).json


def _post(client, url, body):
    return client.post(f"/v1/survey-responses/{token_of(url)}", json=body)


def test_completion_opens_for_the_accepted_only_and_once(
    surveys_client, surveys_app, deliver_to_surveys
):
    event_id = str(uuid.uuid4())
    deliver_to_surveys("event.published", event_payload(event_id, version=2))
    accepted = participants(deliver_to_surveys, event_id, ["LT", "DE"])
    [declined] = participants(deliver_to_surveys, event_id, ["LV"])
    deliver_to_surveys("invitation.declined", status_payload(event_id, declined, "declined", 3))
    pending = str(uuid.uuid4())
    deliver_to_surveys("invitation.sent", status_payload(event_id, pending, "pending", 1))
    completed = event_payload(event_id, version=3, status="completed")
    ce_id = deliver_to_surveys("event.completed", completed)
    assert set(links(surveys_app, event_id)) == set(accepted)
    [opened] = _records(surveys_app, event_id, "survey.opened")
    assert (opened["invited"], opened["responses"], opened["status"]) == (2, 0, "open")
    # the same record again, and another with the same version: nothing new
    deliver_to_surveys("event.completed", completed, ce_id=ce_id)
    deliver_to_surveys("event.completed", completed)
    assert len(_records(surveys_app, event_id, "internal.survey.link_issued")) == 2
    assert len(_records(surveys_app, event_id, "survey.opened")) == 1
    # an old 'published' record replayed late does not reopen anything either
    deliver_to_surveys("event.published", event_payload(event_id, version=2))
    assert _survey(surveys_client, event_id)["status"] == "open"
    for link in _records(surveys_app, event_id, "internal.survey.link_issued"):
        assert link["survey_url"].startswith("https://surveys.example.eu/v1/survey-responses/")
        assert link["reminder"] is False


def test_acceptances_after_opening_get_a_link_and_withdrawals_lose_theirs(
    surveys_client, surveys_app, deliver_to_surveys
):
    event_id, (first, second) = completed_event(deliver_to_surveys, ["LT", "LT"])
    # an acceptance whose record comes after event.completed (no order across topics)
    [late] = participants(deliver_to_surveys, event_id, ["FI"])
    urls = links(surveys_app, event_id)
    assert set(urls) == {first, second, late}
    assert _survey(surveys_client, event_id)["invited"] == 3
    # the first answers and is then revoked: the answer stays and counts
    assert _post(surveys_client, urls[first], answers()).status_code == 201
    deliver_to_surveys("invitation.revoked", status_payload(event_id, first, "revoked", 3))
    # the second is revoked before answering: the link dies, no longer invited
    deliver_to_surveys("invitation.revoked", status_payload(event_id, second, "revoked", 3))
    assert _post(surveys_client, urls[second], answers()).status_code == 410
    survey = _survey(surveys_client, event_id)
    assert (survey["invited"], survey["responses"]) == (2, 1)
    # accepted again (a correction): a fresh link, the old one stays dead
    deliver_to_surveys("invitation.accepted", status_payload(event_id, second, "accepted", 4))
    fresh = links(surveys_app, event_id)[second]
    assert fresh != urls[second]
    assert _post(surveys_client, urls[second], answers()).status_code == 410
    assert _post(surveys_client, fresh, answers()).status_code == 201
    assert _survey(surveys_client, event_id)["invited"] == 3


def test_one_reminder_after_seven_days_with_a_fresh_link_then_closing_after_21(
    surveys_client, surveys_app, surveys_ctx, deliver_to_surveys
):
    event_id, ids = completed_event(deliver_to_surveys, ["LT", "LT", "DE"])
    first = links(surveys_app, event_id)
    assert _post(surveys_client, first[ids[0]], answers()).status_code == 201
    opened = datetime.now(UTC)
    assert remind_due(surveys_ctx, now=opened + timedelta(days=6)) == 0
    assert remind_due(surveys_ctx, now=opened + timedelta(days=7, minutes=1)) == 2
    assert remind_due(surveys_ctx, now=opened + timedelta(days=8)) == 0  # once only
    reminders = [
        r for r in _records(surveys_app, event_id, "internal.survey.link_issued") if r["reminder"]
    ]
    assert sorted(r["invitation_id"] for r in reminders) == sorted(ids[1:])
    second = links(surveys_app, event_id)
    for invitation_id in ids[1:]:
        old = _post(surveys_client, first[invitation_id], answers())
        assert old.status_code == 410 and "replaced" in old.json["detail"]
    assert _post(surveys_client, second[ids[1]], answers()).status_code == 201
    db = _db(surveys_app)
    stored = " ".join(str(doc) for doc in db.respondents.find())
    for url in [*first.values(), *second.values()]:
        assert token_of(url) not in stored  # only hashes of links are kept

    assert close_due(surveys_ctx, now=opened + timedelta(days=20)) == 0
    assert close_due(surveys_ctx, now=opened + timedelta(days=21, minutes=1)) == 1
    assert close_due(surveys_ctx, now=opened + timedelta(days=22)) == 0
    [closed] = _records(surveys_app, event_id, "survey.closed")
    assert (closed["invited"], closed["responses"]) == (3, 2)
    assert _post(surveys_client, second[ids[2]], answers()).status_code == 410
    # after closing, who answered is forgotten: only what answers a late link is kept
    for respondent in db.respondents.find({"event_id": event_id}):
        assert set(respondent) == {
            "_id", "event_id", "token_hash", "old_token_hashes", "withdrawn", "version", "closed",
        }  # fmt: skip
    assert remind_due(surveys_ctx, now=opened + timedelta(days=30)) == 0


UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _values(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
    else:
        yield node


def test_no_document_links_an_answer_to_an_invitation_a_token_or_a_time(
    surveys_client, surveys_app, deliver_to_surveys
):
    """Reads the surveys database directly after twelve submissions."""
    event_id, ids = completed_event(deliver_to_surveys, ["LT"] * 12)
    urls = links(surveys_app, event_id)
    tokens = [token_of(urls[i]) for i in ids]
    secrets_ = {*ids, *tokens, *(token_hash(t) for t in tokens)}
    submitted = []
    for n, token in enumerate(tokens):
        body = answers(next_steps=f"Answer number {n:02d}")
        assert surveys_client.post(f"/v1/survey-responses/{token}", json=body).status_code == 201
        submitted.append(f"Answer number {n:02d}")
    db = _db(surveys_app)
    responses = list(db.responses.find())  # natural (on-disk) order
    assert len(responses) == 12
    for response in responses:
        # exactly the event, country, role, language and answers, under a random id
        assert set(response) == {"_id", "event_id", "country", "role", "language", "answers"}
        assert isinstance(response["_id"], str) and UUID4.match(response["_id"])
        values = list(_values(response))
        assert not secrets_ & {str(v) for v in values}
        assert not [v for v in values if isinstance(v, datetime | ObjectId)]
    response_ids = {r["_id"] for r in responses}
    answer_texts = {r["answers"]["next_steps"] for r in responses}
    for name in db.list_collection_names():
        if name == "responses":
            continue
        for doc in db[name].find():
            seen = {str(v) for v in _values(doc)} | {str(doc.get("_id"))}
            assert not seen & response_ids, (name, doc)  # nothing points at an answer
            assert not seen & answer_texts, (name, doc)  # no answer is copied elsewhere
    # respondents: no time of answering (the one time they hold is when a reminder is due)
    for respondent in db.respondents.find({"event_id": event_id}):
        assert {k for k, v in respondent.items() if isinstance(v, datetime)} == {"remind_at"}
        assert respondent["answered"] is True
    # the order on disk is not the order of submission (12! orders; this one
    # fails by chance once in 479 million runs)
    assert [r["answers"]["next_steps"] for r in responses] != submitted
    assert sorted(r["answers"]["next_steps"] for r in responses) == submitted

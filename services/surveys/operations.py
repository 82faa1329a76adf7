"""Every write path of the surveys service: change the state and announce it,
in one MongoDB transaction with its outbox records.

Refusals are the plain errors of :mod:`shared.errors`; the HTTP edge decides
how they are answered, so handlers and jobs call these functions too.

Anonymity: a submission marks the respondent answered and stores the answers
in one transaction (nothing half-written), but the two documents share
nothing: the answers get a fresh uuid4, no invitation id, token hash or time,
and take a random place among the event's stored answers.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.client_session import ClientSession

from services.surveys import domain
from services.surveys.config import SurveysSettings
from services.surveys.store import ERASURE, SurveyStore
from shared import erasure
from shared.errors import Conflict, Gone, NotFound
from shared.payloads.invitations import InvitationPayload
from shared.payloads.people import ErasureRequestedPayload
from shared.payloads.surveys import SurveyLinkPayloadSchema, SurveyPayloadSchema
from shared.service import ServiceContext

Context = ServiceContext[SurveysSettings, SurveyStore]
"""What the surveys service's views, handlers and jobs run with."""

_survey_schema = SurveyPayloadSchema()
_link_schema = SurveyLinkPayloadSchema()
_shuffle = random.SystemRandom()  # where a new answer goes among the stored ones


def now() -> datetime:
    return datetime.now(UTC)


# --- payloads -----------------------------------------------------------------


def survey_payload(survey: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return _survey_schema.dump(
        {
            "event_id": survey["id"],
            "status": survey["status"],
            "invited": survey["invited"],
            "responses": survey["responses"],
            "published": survey["published"],
            "version": survey["version"],
            "opened_at": survey.get("opened_at"),
            "closes_at": survey.get("closes_at"),
            "closed_at": survey.get("closed_at"),
            "occurred_at": now(),
            **extra,
        }
    )


def _announce(ctx: Context, session: ClientSession, topic: str, survey: dict, **extra: Any) -> None:
    ctx.outbox.add(
        session,
        topic=topic,
        key=survey["id"],
        seq=survey["version"],
        payload=survey_payload(survey, **extra),
    )


def _announce_link(
    ctx: Context,
    session: ClientSession,
    respondent: dict[str, Any],
    token: str,
    survey: dict[str, Any],
    *,
    reminder: bool,
) -> None:
    """The link travels once, on the internal topic, to the notifications service."""
    ctx.outbox.add(
        session,
        topic="internal.survey.link_issued",
        key=respondent["event_id"],
        seq=respondent["version"],
        subject=respondent["_id"],
        payload=_link_schema.dump(
            {
                "invitation_id": respondent["_id"],
                "event_id": respondent["event_id"],
                "survey_url": domain.survey_url(ctx.settings.public_url, token),
                "reminder": reminder,
                "closes_at": survey.get("closes_at"),
                "version": respondent["version"],
                "occurred_at": now(),
            }
        ),
    )


# --- the survey ---------------------------------------------------------------


def _new_survey(event_id: str, questions: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    return {
        "id": event_id,
        "status": "draft",
        "questions": questions,
        "invited": 0,
        "responses": 0,
        "published": False,
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "opened_at": None,
        "closes_at": None,
        "closed_at": None,
        "published_at": None,
    }


def _save(ctx: Context, survey: dict, values: dict[str, Any], session: ClientSession) -> dict:
    updated = ctx.store.update_survey(survey["id"], survey["version"], values, session)
    if updated is None:
        raise Conflict("The survey changed while this request was applied; try again.")
    return updated


def set_questions(ctx: Context, event_id: str, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Set the event's own questions (up to ten, after the bank's) before its survey opens."""
    domain.check_event_questions(questions)

    def work(session: ClientSession) -> dict[str, Any]:
        event = ctx.store.get_event(event_id, session)
        if event is None:
            raise NotFound(f"There is no event {event_id} (or it is not known here yet).")
        if event.get("status") == "cancelled":
            raise Conflict("The event was cancelled; it has no survey.")
        survey = ctx.store.get_survey(event_id, session)
        if survey is None:
            survey = _new_survey(event_id, questions, now())
            ctx.store.insert_survey(survey, session)
            return survey
        if survey["status"] != "draft":
            raise Conflict(
                f"The survey is {survey['status']}; its questions are fixed once it opens.",
                current_status=survey["status"],
            )
        return _save(ctx, survey, {"questions": questions, "updated_at": now()}, session)

    return ctx.transaction(work)


def open_survey(ctx: Context, session: ClientSession, event_id: str) -> dict[str, Any]:
    """Open the completed event's survey: a one-time link for each accepted
    participant (announced for the mail), then ``survey.opened``."""
    at = now()
    domain.check_openable(ctx.store.get_event(event_id, session), event_id)
    survey = ctx.store.get_survey(event_id, session)
    if survey is None:
        survey = _new_survey(event_id, [], at)
        ctx.store.insert_survey(survey, session)
    status, topic = domain.next_status("open", survey["status"])
    closes_at = at + timedelta(days=ctx.settings.open_days)
    participants = ctx.store.accepted(event_id, session)
    values = {
        "status": status,
        "opened_at": at,
        "closes_at": closes_at,
        "invited": len(participants),
        "updated_at": at,
    }
    survey = _save(ctx, survey, values, session)
    issued = [_respondent(ctx, p, at) for p in participants]
    ctx.store.insert_respondents([row for row, _token in issued], session)
    for row, token in issued:
        _announce_link(ctx, session, row, token, survey, reminder=False)
    _announce(ctx, session, topic, survey)
    return survey


def open_by_hand(ctx: Context, event_id: str) -> dict[str, Any]:
    return ctx.transaction(lambda session: open_survey(ctx, session, event_id))


def close_survey(ctx: Context, session: ClientSession, event_id: str) -> dict[str, Any]:
    """Close the survey: links answer 410 from now on, and who answered is forgotten."""
    survey = ctx.store.get_survey(event_id, session)
    if survey is None:
        raise NotFound(f"The event {event_id} has no survey.")
    status, topic = domain.next_status("close", survey["status"])
    at = now()
    survey = _save(ctx, survey, {"status": status, "closed_at": at, "updated_at": at}, session)
    ctx.store.forget_who_answered(event_id, session)
    rate = domain.share(survey["responses"], survey["invited"])
    _announce(ctx, session, topic, survey, response_rate=rate)
    return survey


def close_by_hand(ctx: Context, event_id: str) -> dict[str, Any]:
    return ctx.transaction(lambda session: close_survey(ctx, session, event_id))


def publish_results(ctx: Context, event_id: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Make a closed survey's results public (``figures``: its results, for the
    agree shares the announcement carries)."""

    def work(session: ClientSession) -> dict[str, Any]:
        survey = ctx.store.get_survey(event_id, session)
        if survey is None:
            raise NotFound(f"The event {event_id} has no survey.")
        if survey["status"] != "closed":
            raise Conflict(
                f"The survey is {survey['status']}; results are published once it is closed.",
                current_status=survey["status"],
            )
        if survey["published"]:
            raise Conflict("The results are already published.")
        at = now()
        survey = _save(ctx, survey, {"published": True, "published_at": at}, session)
        _announce(
            ctx,
            session,
            "survey.results_published",
            survey,
            response_rate=figures["response_rate"],
            agree_shares=domain.agree_shares(figures),
        )
        return survey

    return ctx.transaction(work)


# --- respondents and their links ------------------------------------------------


def _respondent(ctx: Context, participant: dict[str, Any], at: datetime) -> tuple[dict, str]:
    """A new answered-record for a participant, and the token of their link
    (only its hash is kept)."""
    token = domain.new_token()
    row = {
        "_id": participant["id"],
        "event_id": participant["event_id"],
        "country": participant["country"],
        "role": participant["role"],
        "token_hash": domain.token_hash(token),
        "old_token_hashes": [],
        "answered": False,
        "reminded": False,
        "withdrawn": False,
        "remind_at": at + timedelta(days=ctx.settings.reminder_after_days),
        "version": 1,
    }
    return row, token


def participant_changed(
    ctx: Context, session: ClientSession, invitation: InvitationPayload
) -> None:
    """An invitation's newer status while its event's survey is open.

    Accepted and not yet given a link (its record came after the survey opened):
    it gets one. No longer accepted and not answered: the link dies and the
    person no longer counts as invited. Already answered: nothing changes, since
    the answers cannot (and must not) be found. Before opening the status only
    decides who is a participant; after closing nothing changes.
    """
    survey = ctx.store.get_survey(invitation.event_id, session)
    if survey is None or survey["status"] != "open":
        return
    respondent = ctx.store.respondent(invitation.invitation_id, session)
    if invitation.status == "accepted":
        if respondent is None:
            participant = {
                "id": invitation.invitation_id,
                "event_id": invitation.event_id,
                "country": invitation.country,
                "role": invitation.role,
            }
            row, token = _respondent(ctx, participant, now())
            ctx.store.insert_respondents([row], session)
            ctx.store.count_survey(survey["id"], {"invited": 1}, session)
            _announce_link(ctx, session, row, token, survey, reminder=False)
        elif respondent["withdrawn"]:
            _reissue(ctx, session, respondent, survey, reminder=False, revive=True)
        return
    if respondent is not None and not respondent["withdrawn"] and not respondent["answered"]:
        changed = ctx.store.update_respondent(
            respondent["_id"],
            {"answered": False, "withdrawn": False},
            {"$set": {"withdrawn": True}},
            session,
        )
        if changed:
            ctx.store.count_survey(survey["id"], {"invited": -1}, session)


def _reissue(
    ctx: Context,
    session: ClientSession,
    respondent: dict[str, Any],
    survey: dict[str, Any],
    *,
    reminder: bool,
    revive: bool = False,
) -> bool:
    """A fresh link for ``respondent``; the one it had stops working (its hash is
    kept only to answer 410). True when this call changed it."""
    token = domain.new_token()
    values: dict[str, Any] = {"token_hash": domain.token_hash(token)}
    expect: dict[str, Any] = {"version": respondent["version"], "answered": False}
    if reminder:
        values["reminded"] = True
        expect.update(reminded=False, withdrawn=False)
    if revive:
        values["withdrawn"] = False
    change = {
        "$set": values,
        "$push": {"old_token_hashes": respondent["token_hash"]},
        "$inc": {"version": 1},
    }
    if not ctx.store.update_respondent(respondent["_id"], expect, change, session):
        return False
    if revive:
        ctx.store.count_survey(survey["id"], {"invited": 1}, session)
    again = {**respondent, **values, "version": respondent["version"] + 1}
    _announce_link(ctx, session, again, token, survey, reminder=reminder)
    return True


def remind(ctx: Context, respondent_id: str, at: datetime) -> bool:
    """The one reminder to a participant who has not answered: a fresh link (the
    first cannot be sent again: only its hash was kept), announced with
    ``reminder: true``; the old link dies. True when sent by this call."""

    def work(session: ClientSession) -> bool:
        respondent = ctx.store.respondent(respondent_id, session)
        if respondent is None or respondent.get("closed"):
            return False
        survey = ctx.store.get_survey(respondent["event_id"], session)
        if survey is None or survey["status"] != "open" or survey["closes_at"] <= at:
            return False
        return _reissue(ctx, session, respondent, survey, reminder=True)

    return ctx.transaction(work)


# --- answering ------------------------------------------------------------------


def usable(respondent: dict[str, Any] | None, survey: dict[str, Any] | None) -> None:
    """Refuse a link that is unknown (404), replaced, withdrawn or of a closed
    survey (410); answered links are refused by :func:`submit` (409)."""
    if respondent is None or survey is None:
        raise NotFound("This survey link is not known.")
    if survey["status"] != "open":
        raise Gone("This survey has closed; thank you for your interest.")
    if respondent.get("replaced"):
        raise Gone("This link was replaced by the one in your latest survey e-mail; use that one.")
    if respondent.get("withdrawn"):
        raise Gone("This survey link no longer works: the invitation was withdrawn.")


def link(ctx: Context, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The respondent and survey a link names, if it can be shown (see :func:`usable`)."""
    respondent = ctx.store.respondent_by_token(domain.token_hash(token))
    survey = ctx.store.get_survey(respondent["event_id"]) if respondent else None
    usable(respondent, survey)
    assert respondent is not None and survey is not None
    return respondent, survey


def submit(ctx: Context, token: str, answers: list[dict[str, Any]], language: str) -> dict:
    """Record one participant's answers, once: validated in full first (422,
    nothing stored), then marked answered and stored apart in one transaction.
    A second submission is 409, after closing 410."""
    digest = domain.token_hash(token)
    respondent, survey = link(ctx, token)
    if respondent["answered"]:
        raise Conflict("These answers were already submitted; a survey is answered once.")
    values = domain.validate_answers(domain.survey_questions(survey["questions"]), answers)
    response_id = str(uuid.uuid4())

    def work(session: ClientSession) -> dict[str, Any]:
        held = ctx.store.respondent_by_token(digest, session)
        current = ctx.store.get_survey(held["event_id"], session) if held else None
        usable(held, current)
        assert held is not None and current is not None
        marked = ctx.store.update_respondent(
            held["_id"],
            {"token_hash": digest, "answered": False, "withdrawn": False},
            {"$set": {"answered": True}},
            session,
        )
        if not marked:
            raise Conflict("These answers were already submitted; a survey is answered once.")
        content = {
            "country": held["country"],
            "role": held["role"],
            "language": language,
            "answers": values,
        }
        swap = domain.swap_position(current["responses"], _shuffle)
        ctx.store.add_response(response_id, current["id"], content, swap, session)
        ctx.store.count_survey(current["id"], {"responses": 1}, session)
        return current

    return ctx.transaction(work)


# --- the right to be forgotten ------------------------------------------------------


def erase_person(ctx: Context, session: ClientSession, request: ErasureRequestedPayload) -> None:
    """Erase what this service holds about the person, and answer the ledger
    (``internal.person.erasure_completed``), in the handler's transaction."""
    erasure.answer_request(ctx, session, ERASURE, request)

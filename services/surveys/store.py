"""MongoDB access of the surveys service.

Collections:

- ``events``: the read model of programme events from ``event.*`` (status,
  title, programme, format, dates, host country).
- ``participants``: the read model of invitations from ``invitation.*``
  (event, country, role, newest status); never an address or a name.
- ``surveys``: one per event (``_id`` the event id): status, the event's own
  questions, dates, ``invited`` and ``responses`` counts, ``published``.
- ``respondents``: the answered-record, one per participant given a link
  (``_id`` the invitation id): the token's SHA-256 (and those of links it
  replaced), ``answered``, ``reminded``, ``withdrawn``. No time of answering.
  When the survey closes, all but the token hashes is dropped.
- ``responses``: the answers, one document per submission: a random uuid4
  ``_id``, the event, the respondent's country and role, the language, the
  answers. Nothing else: no invitation id, no token hash, no time; and their
  order on disk is shuffled at every insertion (``domain.swap_position``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database

from shared.erasure import Erasure, Step
from shared.payloads import plain
from shared.payloads.events import EventPayload
from shared.payloads.invitations import InvitationPayload
from shared.readmodel import apply_if_newer

Session = ClientSession | None

EVENT_FIELDS = ("status", "title", "programme", "format", "host_country", "starts_on", "ends_on")
ANSWER_FIELDS = ("country", "role", "language", "answers")  # what a response holds, with its event


def from_db(doc: dict[str, Any]) -> dict[str, Any]:
    item = {k: v for k, v in doc.items() if k != "_id"}
    item["id"] = doc["_id"]
    return item


# What an erasure erases here (shared.erasure): the link between an
# invitation and its survey credential; answers are anonymous by construction
# (no invitation id) and the counts and aggregates stay as they are.
ERASURE = Erasure(
    steps=(
        Step(
            "respondents",
            "_id",
            "invitation",
            unique=("token_hash",),
            drop=("old_token_hashes",),
        ),
    ),
    retained=(
        "responses: anonymous answers (no invitation id, no time), the aggregates",
        "participants (invitation id, country, role, status): the invited counts",
        "respondents.answered: that a link was used, so counts stay exact",
    ),
)


class SurveyStore:
    def __init__(self, db: Database) -> None:
        self.events = db["events"]
        self.participants = db["participants"]
        self.surveys = db["surveys"]
        self.respondents = db["respondents"]
        self.responses = db["responses"]

    def ensure_indexes(self) -> None:
        self.events.create_index([("programme", ASCENDING), ("starts_on", ASCENDING)])
        self.participants.create_index([("event_id", ASCENDING), ("status", ASCENDING)])
        self.surveys.create_index([("status", ASCENDING), ("closes_at", ASCENDING)])
        self.surveys.create_index([("published", ASCENDING)])
        r = self.respondents
        r.create_index("token_hash", unique=True, name="token_hash")
        r.create_index("old_token_hashes", name="old_token_hashes")
        r.create_index([("event_id", ASCENDING), ("answered", ASCENDING)])
        r.create_index([("remind_at", ASCENDING), ("reminded", ASCENDING)])
        self.responses.create_index([("event_id", ASCENDING), ("_id", ASCENDING)])

    # --- events read model (from event.*) -----------------------------------

    def apply_event(self, event: EventPayload, session: ClientSession) -> bool:
        """Keep the newest version of an event; False when the record was stale."""
        fields = {name: plain(getattr(event, name)) for name in EVENT_FIELDS}
        return apply_if_newer(self.events, event.event_id, event.version, fields, session)

    def get_event(self, event_id: str, session: Session = None) -> dict[str, Any] | None:
        doc = self.events.find_one({"_id": event_id}, session=session)
        return from_db(doc) if doc else None

    def events_by_id(self, event_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {d["_id"]: from_db(d) for d in self.events.find({"_id": {"$in": event_ids}})}

    # --- participants read model (from invitation.*) ------------------------

    def apply_participant(self, invitation: InvitationPayload, session: ClientSession) -> bool:
        """Keep the newest status, country and role of an invitation; False when stale."""
        fields = {
            "event_id": invitation.event_id,
            "country": invitation.country,
            "role": invitation.role,
            "status": invitation.status,
        }
        return apply_if_newer(
            self.participants, invitation.invitation_id, invitation.version, fields, session
        )

    def accepted(self, event_id: str, session: ClientSession) -> list[dict[str, Any]]:
        query = {"event_id": event_id, "status": "accepted"}
        return [from_db(d) for d in self.participants.find(query, session=session).sort("_id", 1)]

    # --- surveys -------------------------------------------------------------

    def get_survey(self, event_id: str, session: Session = None) -> dict[str, Any] | None:
        doc = self.surveys.find_one({"_id": event_id}, session=session)
        return from_db(doc) if doc else None

    def insert_survey(self, survey: dict[str, Any], session: ClientSession) -> None:
        self.surveys.insert_one(
            {"_id": survey["id"], **{k: v for k, v in survey.items() if k != "id"}},
            session=session,
        )

    def update_survey(
        self, event_id: str, version: int, values: dict[str, Any], session: ClientSession
    ) -> dict[str, Any] | None:
        """Apply ``values`` if the survey is still at ``version``; bump the version."""
        doc = self.surveys.find_one_and_update(
            {"_id": event_id, "version": version},
            {"$set": values, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return from_db(doc) if doc else None

    def count_survey(self, event_id: str, inc: dict[str, int], session: ClientSession) -> None:
        """Move the ``invited``/``responses`` counters (not a new version: no announcement)."""
        self.surveys.update_one({"_id": event_id}, {"$inc": inc}, session=session)

    def surveys_to_close(self, now: datetime) -> list[str]:
        query = {"status": "open", "closes_at": {"$lte": now}}
        return [d["_id"] for d in self.surveys.find(query, {"_id": 1})]

    def published_surveys(self) -> list[dict[str, Any]]:
        return [from_db(d) for d in self.surveys.find({"published": True}).sort("_id", 1)]

    # --- respondents: the answered-record --------------------------------------

    def insert_respondents(self, rows: list[dict[str, Any]], session: ClientSession) -> None:
        if rows:
            self.respondents.insert_many(rows, session=session)

    def respondent(self, invitation_id: str, session: Session = None) -> dict[str, Any] | None:
        return self.respondents.find_one({"_id": invitation_id}, session=session)

    def respondent_by_token(self, digest: str, session: Session = None) -> dict[str, Any] | None:
        """The respondent a link's hash names: its current link, or one it replaced
        (``replaced: True`` then)."""
        doc = self.respondents.find_one({"token_hash": digest}, session=session)
        if doc is not None:
            return doc
        doc = self.respondents.find_one({"old_token_hashes": digest}, session=session)
        return {**doc, "replaced": True} if doc is not None else None

    def update_respondent(
        self,
        invitation_id: str,
        expect: dict[str, Any],
        change: dict[str, Any],
        session: ClientSession,
    ) -> bool:
        """Apply ``change`` if the respondent still matches ``expect``; True when it did."""
        found = self.respondents.update_one(
            {"_id": invitation_id, **expect}, change, session=session
        )
        return found.matched_count == 1

    def due_reminders(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        query = {
            "remind_at": {"$lte": now},
            "reminded": False,
            "answered": False,
            "withdrawn": False,
        }
        return list(self.respondents.find(query).sort("_id", 1).limit(limit))

    def forget_who_answered(self, event_id: str, session: ClientSession) -> None:
        """At closing: keep of each respondent only what answers a late link (410)."""
        self.respondents.update_many(
            {"event_id": event_id},
            {
                "$unset": {
                    "answered": "",
                    "reminded": "",
                    "remind_at": "",
                    "country": "",
                    "role": "",
                },
                "$set": {"closed": True},
            },
            session=session,
        )

    # --- responses: the answers --------------------------------------------------

    def add_response(
        self,
        response_id: str,
        event_id: str,
        content: dict[str, Any],
        swap_with: int | None,
        session: ClientSession,
    ) -> None:
        """Store one submission; with ``swap_with`` (an index in id order among
        the event's stored responses) that response's contents move into the new
        document and the new contents take its place (see ``domain.swap_position``)."""
        stored = {name: content[name] for name in ANSWER_FIELDS}
        if swap_with is not None:
            other = next(
                iter(
                    self.responses.find({"event_id": event_id}, session=session)
                    .sort("_id", ASCENDING)
                    .skip(swap_with)
                    .limit(1)
                ),
                None,
            )
            if other is not None:
                self.responses.update_one({"_id": other["_id"]}, {"$set": stored}, session=session)
                stored = {name: other[name] for name in ANSWER_FIELDS}
        self.responses.insert_one(
            {"_id": response_id, "event_id": event_id, **stored}, session=session
        )

    def responses_of(self, event_ids: list[str]) -> list[dict[str, Any]]:
        cursor = self.responses.find({"event_id": {"$in": event_ids}}).sort(
            [("event_id", ASCENDING), ("_id", ASCENDING)]
        )
        return list(cursor)

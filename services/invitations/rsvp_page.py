"""The RSVP page a link holder's browser gets: the invitation and its event in
the invitee's language (English, French, German; English otherwise, or the
language the reader picks), on the shared layout of the pages people open from
a mail (``shared.pages``), with dates, the deadline in the event's time zone and
country names localised (``shared.l10n``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response

from shared.pages import Pages, negotiate
from shared.problems import Problem

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your invitation",
        "dear": "Dear",
        "invited": "You are invited to",
        "dates": "Dates",
        "venue": "Venue",
        "host": "Host country",
        "guests": "Peer countries",
        "deadline": "Please answer by",
        "status": "Your answer",
        "answer": "Will you take part?",
        "accept": "Accept",
        "decline": "Decline",
        "change": "You may change your answer until the deadline.",
        "closed": "Answers are closed for this invitation.",
        "closed_on": "Answers closed on {deadline}.",
        "pending": "not answered yet",
        "accepted": "accepted",
        "declined": "declined",
        "waitlisted": "on the waiting list",
        "revoked": "revoked",
        "expired": "expired",
        "thanks": "Thank you, your answer is recorded",
        "thanks_accepted": "Your place is confirmed. A confirmation is on its way by e-mail.",
        "thanks_waitlisted": "The event is full: you are on the waiting list, and we will "
        "write to you as soon as a place is free.",
        "thanks_declined": "We are sorry you cannot come. You can still accept until the deadline.",
    },
    "fr": {
        "title": "Votre invitation",
        "dear": "Madame, Monsieur",
        "invited": "Vous êtes invité(e) à",
        "dates": "Dates",
        "venue": "Lieu",
        "host": "Pays hôte",
        "guests": "Pays pairs",
        "deadline": "Merci de répondre avant le",
        "status": "Votre réponse",
        "answer": "Participerez-vous ?",
        "accept": "Accepter",
        "decline": "Refuser",
        "change": "Vous pouvez modifier votre réponse jusqu'à la date limite.",
        "closed": "Les réponses sont closes pour cette invitation.",
        "closed_on": "Les réponses sont closes depuis le {deadline}.",
        "pending": "pas encore de réponse",
        "accepted": "acceptée",
        "declined": "déclinée",
        "waitlisted": "sur la liste d'attente",
        "revoked": "révoquée",
        "expired": "expirée",
        "thanks": "Merci, votre réponse est enregistrée",
        "thanks_accepted": "Votre place est confirmée. Une confirmation vous parvient par "
        "courriel.",
        "thanks_waitlisted": "L'événement est complet : vous êtes sur la liste d'attente et "
        "nous vous écrirons dès qu'une place se libère.",
        "thanks_declined": "Nous regrettons que vous ne puissiez pas venir. Vous pouvez "
        "encore accepter jusqu'à la date limite.",
    },
    "de": {
        "title": "Ihre Einladung",
        "dear": "Sehr geehrte(r)",
        "invited": "Sie sind eingeladen zu",
        "dates": "Termin",
        "venue": "Ort",
        "host": "Gastgeberland",
        "guests": "Teilnehmende Länder",
        "deadline": "Bitte antworten Sie bis",
        "status": "Ihre Antwort",
        "answer": "Nehmen Sie teil?",
        "accept": "Zusagen",
        "decline": "Absagen",
        "change": "Sie können Ihre Antwort bis zur Frist ändern.",
        "closed": "Für diese Einladung sind keine Antworten mehr möglich.",
        "closed_on": "Antworten waren bis {deadline} möglich.",
        "pending": "noch keine Antwort",
        "accepted": "zugesagt",
        "declined": "abgesagt",
        "waitlisted": "auf der Warteliste",
        "revoked": "zurückgezogen",
        "expired": "abgelaufen",
        "thanks": "Vielen Dank, Ihre Antwort ist gespeichert",
        "thanks_accepted": "Ihr Platz ist bestätigt. Eine Bestätigung ist per E-Mail unterwegs.",
        "thanks_waitlisted": "Die Veranstaltung ist ausgebucht: Sie stehen auf der Warteliste, "
        "und wir schreiben Ihnen, sobald ein Platz frei wird.",
        "thanks_declined": "Schade, dass Sie nicht kommen können. Bis zur Frist können Sie "
        "noch zusagen.",
    },
}

pages = Pages(Path(__file__).parent / "templates", TEXTS)


def _language(view: dict[str, Any] | None) -> str:
    return negotiate((view or {}).get("language"))


def page(view: dict[str, Any], *, answered: bool = False) -> Response:
    """The invitation; after an answer, with a notice saying what it did."""
    return pages.response(
        "rsvp.html", _language(view), view=view, answered=answered, problem_text=""
    )


def problem(refusal: Problem, view: dict[str, Any] | None) -> Response:
    """A refusal: the invitation with the reason when it is known, else the shared
    page that says the link cannot be used."""
    if view is None:
        return pages.problem(refusal, _language(None))
    return pages.problem(refusal, _language(view), "rsvp.html", view=view, answered=False)

"""The small server-rendered RSVP page (Jinja2), in the invitee's language
where a translation exists (English, French, German), English otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your invitation",
        "dear": "Dear",
        "invited": "You are invited to",
        "dates": "Dates",
        "venue": "Venue",
        "online": "online",
        "deadline": "Please answer by",
        "status": "Your answer",
        "accept": "Accept",
        "decline": "Decline",
        "closed": "Answers are closed for this invitation.",
        "pending": "not answered yet",
        "accepted": "accepted",
        "declined": "declined",
        "waitlisted": "on the waiting list",
        "revoked": "revoked",
        "expired": "expired",
        "error": "This link cannot be used",
    },
    "fr": {
        "title": "Votre invitation",
        "dear": "Madame, Monsieur",
        "invited": "Vous êtes invité(e) à",
        "dates": "Dates",
        "venue": "Lieu",
        "online": "en ligne",
        "deadline": "Merci de répondre avant le",
        "status": "Votre réponse",
        "accept": "Accepter",
        "decline": "Refuser",
        "closed": "Les réponses sont closes pour cette invitation.",
        "pending": "pas encore de réponse",
        "accepted": "acceptée",
        "declined": "déclinée",
        "waitlisted": "sur la liste d'attente",
        "revoked": "révoquée",
        "expired": "expirée",
        "error": "Ce lien ne peut pas être utilisé",
    },
    "de": {
        "title": "Ihre Einladung",
        "dear": "Sehr geehrte(r)",
        "invited": "Sie sind eingeladen zu",
        "dates": "Termin",
        "venue": "Ort",
        "online": "online",
        "deadline": "Bitte antworten Sie bis",
        "status": "Ihre Antwort",
        "accept": "Zusagen",
        "decline": "Absagen",
        "closed": "Für diese Einladung sind keine Antworten mehr möglich.",
        "pending": "noch keine Antwort",
        "accepted": "zugesagt",
        "declined": "abgesagt",
        "waitlisted": "auf der Warteliste",
        "revoked": "zurückgezogen",
        "expired": "abgelaufen",
        "error": "Dieser Link kann nicht verwendet werden",
    },
}


def render(view: dict[str, Any] | None, *, message: str = "", error: bool = False) -> str:
    language = (view or {}).get("language") or "en"
    if language not in TEXTS:
        language = "en"
    return _env.get_template("rsvp.html").render(
        view=view, t=TEXTS[language], lang=language, message=message, error=error
    )

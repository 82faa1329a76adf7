"""The small server-rendered pages of a registration's links (Jinja2): the
double opt-in confirmation and the cancellation, in the registrant's language
where a translation exists (English, French, German), English otherwise.
Rendered the way the RSVP page is (:mod:`services.invitations.rsvp_page`)."""

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
        "confirm_title": "Confirm your registration",
        "cancel_title": "Your registration",
        "dear": "Dear",
        "registered": "You registered for",
        "dates": "Dates",
        "venue": "Venue",
        "online": "online",
        "deadline": "Registration closes",
        "status": "Your registration",
        "confirm": "Confirm my registration",
        "cancel": "Cancel my registration",
        "confirm_hint": "Nothing is reserved until you confirm.",
        "cancel_hint": "Cancelling gives your place to the next person on the waiting list.",
        "closed": "This registration cannot be changed any more.",
        "unconfirmed": "not confirmed yet",
        "awaiting_approval": "confirmed, awaiting the secretariat's approval",
        "accepted": "confirmed: you have a seat",
        "waitlisted": "confirmed: you are on the waiting list",
        "cancelled": "cancelled",
        "declined": "cancelled",
        "rejected": "not accepted",
        "expired": "expired",
        "revoked": "withdrawn",
        "error": "This link cannot be used",
    },
    "fr": {
        "confirm_title": "Confirmez votre inscription",
        "cancel_title": "Votre inscription",
        "dear": "Madame, Monsieur",
        "registered": "Vous vous êtes inscrit(e) à",
        "dates": "Dates",
        "venue": "Lieu",
        "online": "en ligne",
        "deadline": "Clôture des inscriptions",
        "status": "Votre inscription",
        "confirm": "Confirmer mon inscription",
        "cancel": "Annuler mon inscription",
        "confirm_hint": "Rien n'est réservé tant que vous n'avez pas confirmé.",
        "cancel_hint": "En annulant, vous laissez votre place à la personne suivante "
        "sur la liste d'attente.",
        "closed": "Cette inscription ne peut plus être modifiée.",
        "unconfirmed": "pas encore confirmée",
        "awaiting_approval": "confirmée, en attente de l'accord du secrétariat",
        "accepted": "confirmée : vous avez une place",
        "waitlisted": "confirmée : vous êtes sur la liste d'attente",
        "cancelled": "annulée",
        "declined": "annulée",
        "rejected": "non retenue",
        "expired": "expirée",
        "revoked": "retirée",
        "error": "Ce lien ne peut pas être utilisé",
    },
    "de": {
        "confirm_title": "Bestätigen Sie Ihre Anmeldung",
        "cancel_title": "Ihre Anmeldung",
        "dear": "Sehr geehrte(r)",
        "registered": "Sie haben sich angemeldet für",
        "dates": "Termin",
        "venue": "Ort",
        "online": "online",
        "deadline": "Anmeldeschluss",
        "status": "Ihre Anmeldung",
        "confirm": "Anmeldung bestätigen",
        "cancel": "Anmeldung stornieren",
        "confirm_hint": "Erst mit Ihrer Bestätigung ist etwas reserviert.",
        "cancel_hint": "Wenn Sie stornieren, geht Ihr Platz an die nächste Person "
        "auf der Warteliste.",
        "closed": "Diese Anmeldung kann nicht mehr geändert werden.",
        "unconfirmed": "noch nicht bestätigt",
        "awaiting_approval": "bestätigt, wartet auf die Zustimmung des Sekretariats",
        "accepted": "bestätigt: Sie haben einen Platz",
        "waitlisted": "bestätigt: Sie stehen auf der Warteliste",
        "cancelled": "storniert",
        "declined": "storniert",
        "rejected": "nicht angenommen",
        "expired": "abgelaufen",
        "revoked": "zurückgezogen",
        "error": "Dieser Link kann nicht verwendet werden",
    },
}


def render(
    kind: str,
    view: dict[str, Any] | None,
    *,
    message: str = "",
    error: bool = False,
    language: str | None = None,
) -> str:
    """The ``confirm`` or ``cancel`` page of ``view`` (None: only the error)."""
    lang = (view or {}).get("language") or language or "en"
    if lang not in TEXTS:
        lang = "en"
    return _env.get_template("registration.html").render(
        kind=kind, view=view, t=TEXTS[lang], lang=lang, message=message, error=error
    )

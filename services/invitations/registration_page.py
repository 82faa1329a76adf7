"""The pages of a registration's links: the double opt-in confirmation and the
cancellation, in the registrant's language (English, French, German; English
otherwise, or the language the reader picks), on the shared layout of the
pages people open from a mail (``shared.pages``) with the event's days, the
deadline in its time zone and countries by name (``shared.l10n``), as the RSVP
page (:mod:`services.invitations.rsvp_page`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response

from shared.pages import Pages, negotiate
from shared.problems import Problem

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "confirm_title": "Confirm your registration",
        "cancel_title": "Your registration",
        "dear": "Dear",
        "registered": "You registered for",
        "dates": "Dates",
        "venue": "Venue",
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
        "host": "Host country",
        "done_confirm": "Thank you, your registration is confirmed",
        "done_cancel": "Your registration is cancelled",
    },
    "fr": {
        "confirm_title": "Confirmez votre inscription",
        "cancel_title": "Votre inscription",
        "dear": "Madame, Monsieur",
        "registered": "Vous vous êtes inscrit(e) à",
        "dates": "Dates",
        "venue": "Lieu",
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
        "host": "Pays hôte",
        "done_confirm": "Merci, votre inscription est confirmée",
        "done_cancel": "Votre inscription est annulée",
    },
    "de": {
        "confirm_title": "Bestätigen Sie Ihre Anmeldung",
        "cancel_title": "Ihre Anmeldung",
        "dear": "Sehr geehrte(r)",
        "registered": "Sie haben sich angemeldet für",
        "dates": "Termin",
        "venue": "Ort",
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
        "host": "Gastgeberland",
        "done_confirm": "Vielen Dank, Ihre Anmeldung ist bestätigt",
        "done_cancel": "Ihre Anmeldung ist storniert",
    },
}


pages = Pages(Path(__file__).parent / "templates", TEXTS)


def _language(view: dict[str, Any] | None) -> str:
    return negotiate((view or {}).get("language"))


def page(kind: str, view: dict[str, Any], *, done: bool = False) -> Response:
    """The ``confirm`` or ``cancel`` page of ``view``; after the link was used,
    with a notice saying what it did."""
    return pages.response(
        "registration.html", _language(view), kind=kind, view=view, done=done, problem_text=""
    )


def problem(kind: str, refusal: Problem, view: dict[str, Any] | None) -> Response:
    """A refusal: the registration with the reason when it is known, else the
    shared page that says the link cannot be used."""
    if view is None:
        return pages.problem(refusal, _language(None))
    return pages.problem(
        refusal, _language(view), "registration.html", kind=kind, view=view, done=False
    )

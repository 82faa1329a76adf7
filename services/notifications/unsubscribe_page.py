"""The page an unsubscribe link opens in a browser: what the link stops and
what always reaches the reader, a button to opt out (a GET changes nothing:
mail scanners prefetch links) and, once done, since when. In the language of
the mail the link came in (``?lang=``), else the browser's, on the shared
layout of the pages people open from a mail (``shared.pages``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Response

from shared.pages import Pages, negotiate
from shared.problems import Problem

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Reminders and paper notices",
        "intro": "This link stops the reminders and the notices of new papers that we send "
        "to your e-mail address.",
        "always": "Invitations, confirmations, changes of date or venue and cancellations "
        "always reach you: they are about places you hold.",
        "stop": "Stop reminders and paper notices",
        "done": "Done: you will no longer receive reminders and paper notices.",
        "since": "You opted out on {date}.",
    },
    "fr": {
        "title": "Rappels et avis de documents",
        "intro": "Ce lien arrête les rappels et les avis de nouveaux documents que nous "
        "envoyons à votre adresse électronique.",
        "always": "Les invitations, confirmations, changements de date ou de lieu et "
        "annulations vous parviennent toujours : ils concernent des places que vous occupez.",
        "stop": "Ne plus recevoir les rappels et avis de documents",
        "done": "C'est fait : vous ne recevrez plus de rappels ni d'avis de documents.",
        "since": "Vous vous êtes désinscrit(e) le {date}.",
    },
    "de": {
        "title": "Erinnerungen und Dokumenthinweise",
        "intro": "Dieser Link beendet die Erinnerungen und Hinweise auf neue Dokumente, die "
        "wir an Ihre E-Mail-Adresse senden.",
        "always": "Einladungen, Bestätigungen, Änderungen von Termin oder Ort und Absagen "
        "erreichen Sie immer: Sie betreffen Plätze, die Sie innehaben.",
        "stop": "Keine Erinnerungen und Dokumenthinweise mehr erhalten",
        "done": "Erledigt: Sie erhalten keine Erinnerungen und Dokumenthinweise mehr.",
        "since": "Sie haben sich am {date} abgemeldet.",
    },
}

pages = Pages(Path(__file__).parent / "templates", TEXTS)


def page(since: datetime | None, *, just_done: bool = False) -> Response:
    """The link's page: the opt-out button, or since when it is done."""
    return pages.response("unsubscribe.html", negotiate(), since=since, just_done=just_done)


def problem(refusal: Problem) -> Response:
    return pages.problem(refusal, negotiate())

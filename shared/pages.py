"""The one look of every page a person opens from a mail (RSVP, registration,
nomination and unsubscribe pages): server-rendered HTML that needs no
JavaScript, on the layout ``shared/templates/page.html``: a header, a main
landmark a skip link leads to, headings, labelled fields (``forms.html``), a
visible focus ring, AA contrast and one column that fits a phone.

A service keeps its pages' templates (``{% extends "page.html" %}``) and texts
in its own ``templates/`` folder and renders them with one :class:`Pages`::

    pages = Pages(Path(__file__).parent / "templates", TEXTS)
    return pages.response("rsvp.html", negotiate(invitee_language), view=view)

Each page gets ``t`` (its texts in the reader's language), ``fmt`` (a
:class:`shared.l10n.Formatter`: dates, times and country names in that
language), ``layout`` (the layout's own texts) and ``lang``. Answers carry
``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store`` (the URL is a
personal link) and a Content-Security-Policy that allows the one stylesheet
and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Response, request
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from shared.l10n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, Formatter, supported
from shared.problems import Problem

TEMPLATES = Path(__file__).parent / "templates"
CSS = (TEMPLATES / "page.css").read_text(encoding="utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

Texts = Mapping[str, Mapping[str, str]]

LAYOUT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "site": "Mutual Learning Programme",
        "skip": "Skip to content",
        "languages": "Language",
        "footer": "You opened this page from a personal link the programme secretariat "
        "sent you by e-mail. Please do not share it.",
        "problem_title": "This link cannot be used",
        "problem_help": "If you think this is a mistake, please reply to the e-mail that "
        "brought you here.",
        "problem_400": "The request could not be understood.",
        "problem_404": "This link is not known. Please check that you opened the whole "
        "link from the e-mail.",
        "problem_409": "This can no longer be changed.",
        "problem_410": "This link is no longer valid: what it was for was withdrawn or cancelled.",
        "problem_422": "Some of what was sent is not valid.",
        "problem_429": "Too many requests came from your network. Please try again in a minute.",
        "problem_other": "Something went wrong on our side. Please try again later.",
    },
    "fr": {
        "site": "Programme d'apprentissage mutuel",
        "skip": "Aller au contenu",
        "languages": "Langue",
        "footer": "Vous avez ouvert cette page depuis un lien personnel que le secrétariat "
        "du programme vous a envoyé par courriel. Merci de ne pas le partager.",
        "problem_title": "Ce lien ne peut pas être utilisé",
        "problem_help": "Si vous pensez qu'il s'agit d'une erreur, merci de répondre au "
        "courriel qui vous a mené ici.",
        "problem_400": "La demande n'a pas pu être comprise.",
        "problem_404": "Ce lien est inconnu. Merci de vérifier que vous avez ouvert le lien "
        "complet du courriel.",
        "problem_409": "Ceci ne peut plus être modifié.",
        "problem_410": "Ce lien n'est plus valable : ce à quoi il servait a été retiré ou annulé.",
        "problem_422": "Une partie de ce qui a été envoyé n'est pas valable.",
        "problem_429": "Trop de demandes sont venues de votre réseau. Merci de réessayer "
        "dans une minute.",
        "problem_other": "Un problème est survenu de notre côté. Merci de réessayer plus tard.",
    },
    "de": {
        "site": "Programm für gegenseitiges Lernen",
        "skip": "Zum Inhalt springen",
        "languages": "Sprache",
        "footer": "Sie haben diese Seite über einen persönlichen Link geöffnet, den Ihnen "
        "das Programmsekretariat per E-Mail geschickt hat. Bitte geben Sie ihn nicht weiter.",
        "problem_title": "Dieser Link kann nicht verwendet werden",
        "problem_help": "Wenn Sie dies für einen Fehler halten, antworten Sie bitte auf die "
        "E-Mail, die Sie hierher geführt hat.",
        "problem_400": "Die Anfrage konnte nicht verstanden werden.",
        "problem_404": "Dieser Link ist nicht bekannt. Bitte prüfen Sie, ob Sie den "
        "vollständigen Link aus der E-Mail geöffnet haben.",
        "problem_409": "Dies kann nicht mehr geändert werden.",
        "problem_410": "Dieser Link ist nicht mehr gültig: Wofür er gedacht war, wurde "
        "zurückgezogen oder abgesagt.",
        "problem_422": "Ein Teil der gesendeten Angaben ist nicht gültig.",
        "problem_429": "Aus Ihrem Netzwerk kamen zu viele Anfragen. Bitte versuchen Sie es "
        "in einer Minute erneut.",
        "problem_other": "Bei uns ist ein Fehler aufgetreten. Bitte versuchen Sie es später "
        "erneut.",
    },
}


def check_texts(texts: Texts, where: str) -> None:
    """Every language has exactly English's keys (a missing text is a bug, found
    when the module is imported rather than when a French reader meets it)."""
    english = set(texts[DEFAULT_LANGUAGE])
    for language in LANGUAGES:
        keys = set(texts.get(language, {}))
        if keys != english:
            missing, extra = sorted(english - keys), sorted(keys - english)
            raise ValueError(f"{where}: {language} texts differ (missing {missing}, extra {extra})")


check_texts(LAYOUT_TEXTS, "shared.pages.LAYOUT_TEXTS")


def negotiate(*preferred: str | None) -> str:
    """The reader's language: ``?lang=`` (their own choice, from the language
    links), else the first of ``preferred`` we speak (e.g. the invitee's
    language, which their mail was in), else the browser's Accept-Language,
    else English."""
    for candidate in (request.args.get("lang"), *preferred):
        language = supported(candidate)
        if language:
            return language
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def wants_html() -> bool:
    """The client prefers ``text/html`` to JSON (a browser, not an API client)."""
    accept = request.accept_mimetypes
    best = accept.best_match(["application/json", "text/html"])
    return best == "text/html" and accept["text/html"] > accept["application/json"]


def html_response(
    html: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """An HTML answer with the headers every page of a personal link carries."""
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class Pages:
    """The pages of one service: its templates folder (searched first) beside the
    shared layout, and its texts per language."""

    def __init__(self, folder: Path, texts: Texts) -> None:
        check_texts(texts, str(folder))
        self.texts = texts
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(folder), FileSystemLoader(TEMPLATES)]),
            # a field a read model lacks shows as nothing: a reader never gets a 500
            autoescape=select_autoescape(["html"]),
        )

    def render(self, template: str, language: str | None, **context: Any) -> str:
        """``template`` in ``language`` (English when we do not speak it)."""
        lang = supported(language) or DEFAULT_LANGUAGE
        return self.env.get_template(template).render(
            lang=lang,
            t=self.texts[lang],
            layout=LAYOUT_TEXTS[lang],
            fmt=Formatter(lang),
            languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            css=Markup(CSS),  # noqa: S704 - our own stylesheet, not input
            **context,
        )

    def response(
        self,
        template: str,
        language: str | None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> Response:
        return html_response(self.render(template, language, **context), status, headers)

    def problem(
        self, problem: Problem, language: str | None, template: str = "problem.html", **context: Any
    ) -> Response:
        """A refusal as a page (with the problem's status and headers, e.g.
        ``Retry-After``), saying in the reader's language what happened; the
        service's page may show more (``template``, given ``problem_text``)."""
        lang = supported(language) or DEFAULT_LANGUAGE
        layout = LAYOUT_TEXTS[lang]
        text = layout.get(f"problem_{problem.status}") or layout["problem_other"]
        return self.response(
            template,
            lang,
            status=problem.status,
            headers=problem.headers,
            problem_text=text,
            **context,
        )

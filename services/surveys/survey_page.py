"""The survey page a participant opens from the mail: the questions in their
language (English, French, German; English for any other, or the language the
reader picks), as a plain HTML form that needs no script and works with a
screen reader (a fieldset and legend per question, labelled inputs, an error
summary linking to the questions), on the shared layout of the pages people
open from a mail (``shared.pages``), the closing day localised
(``shared.l10n``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Response

from shared.pages import Pages
from shared.problems import Problem

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your feedback",
        "intro": "Please tell us what the event gave you. It takes about five minutes.",
        "anonymous": "Your answers are anonymous: they are stored apart from your invitation, "
        "without your name, your link or the time, and results show only groups of several "
        "people.",
        "required": "required",
        "optional": "optional",
        "submit": "Send my answers",
        "thanks": "Thank you: your answers were recorded.",
        "closes": "The survey closes on",
        "error": "Your answers could not be sent",
        "fix": "Please check these questions:",
    },
    "fr": {
        "title": "Votre avis",
        "intro": "Dites-nous ce que l'événement vous a apporté. Cela prend environ cinq minutes.",
        "anonymous": "Vos réponses sont anonymes : elles sont conservées à part de votre "
        "invitation, sans votre nom, votre lien ni l'heure, et les résultats ne montrent que "
        "des groupes de plusieurs personnes.",
        "required": "obligatoire",
        "optional": "facultatif",
        "submit": "Envoyer mes réponses",
        "thanks": "Merci : vos réponses ont été enregistrées.",
        "closes": "L'enquête se termine le",
        "error": "Vos réponses n'ont pas pu être envoyées",
        "fix": "Veuillez vérifier ces questions :",
    },
    "de": {
        "title": "Ihre Rückmeldung",
        "intro": "Bitte sagen Sie uns, was Ihnen die Veranstaltung gebracht hat. Es dauert "
        "etwa fünf Minuten.",
        "anonymous": "Ihre Antworten sind anonym: Sie werden getrennt von Ihrer Einladung "
        "gespeichert, ohne Ihren Namen, Ihren Link oder die Uhrzeit, und die Ergebnisse zeigen "
        "nur Gruppen mehrerer Personen.",
        "required": "Pflichtfrage",
        "optional": "freiwillig",
        "submit": "Antworten senden",
        "thanks": "Vielen Dank: Ihre Antworten wurden gespeichert.",
        "closes": "Die Umfrage endet am",
        "error": "Ihre Antworten konnten nicht gesendet werden",
        "fix": "Bitte prüfen Sie diese Fragen:",
    },
}


def form_answers(questions: list[dict[str, Any]], form: Any) -> list[dict[str, Any]]:
    """The posted form (fields ``q.<question id>``) as ``[{"question_id", "value"}]``:
    scale points as numbers, several boxes of a multiple choice as a list; empty
    fields are unanswered. Fields that name no question are passed on, so that
    they are refused like an unknown question id in JSON."""
    answers: list[dict[str, Any]] = []
    kinds = {q["id"]: q["type"] for q in questions}
    for name in form:
        if not name.startswith("q."):
            continue
        qid = name[2:]
        values = [v for v in form.getlist(name) if v.strip() != ""]
        if not values:
            continue
        kind = kinds.get(qid)
        value: Any = values[0]
        if kind == "multi_choice":
            value = values
        elif kind in ("agreement", "rating") and value.strip().isdigit():
            value = int(value)
        answers.append({"question_id": qid, "value": value})
    return answers


pages = Pages(Path(__file__).parent / "templates", TEXTS)


def page(
    view: Mapping[str, Any],
    *,
    status: int = 200,
    errors: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Response:
    """The survey (or its thanks once answered); after a refused submission with
    the answers given kept and an error summary linking to each question."""
    return pages.response(
        "survey.html",
        view["language"],
        status=status,
        view=view,
        errors=errors or {},
        values=values or {},
    )


def problem(
    refusal: Problem, view: Mapping[str, Any] | None, values: Mapping[str, Any], language: str
) -> Response:
    """A refusal: the survey with the reason when the link is good (an invalid
    answer), else the shared page that says the link cannot be used."""
    if view is None:
        return pages.problem(refusal, language)
    return pages.problem(
        refusal,
        view["language"],
        "survey.html",
        view=view,
        detail=refusal.detail,
        errors=refusal.extensions.get("errors") or {},
        values=values,
    )

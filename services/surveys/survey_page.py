"""The small server-rendered survey page (Jinja2) a participant opens from the
mail: the questions in their language (English, French, German; English for
any other), as a plain HTML form that needs no script and works with a screen
reader (a fieldset and legend per question, labelled inputs, an error summary
linking to the questions)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.surveys.domain import language_of

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

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
        "gone": "This link cannot be used",
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
        "gone": "Ce lien ne peut pas être utilisé",
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
        "gone": "Dieser Link kann nicht verwendet werden",
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


def render(
    view: Mapping[str, Any] | None,
    *,
    language: str,
    message: str = "",
    error: bool = False,
    errors: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
) -> str:
    lang = language_of(language)
    return _env.get_template("survey.html").render(
        view=view,
        t=TEXTS[lang],
        lang=lang,
        message=message,
        error=error,
        errors=errors or {},
        values=values or {},
    )

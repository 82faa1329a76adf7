"""HTTP routes of the surveys service (thin: parsing, validation and
authorisation here, write paths in ``operations``, the page in
``survey_page``, the chart in ``charts``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, jsonify, request
from marshmallow import ValidationError

from services.surveys import charts, domain, operations, survey_page
from services.surveys.operations import Context
from services.surveys.schemas import (
    EventQuestionsSchema,
    LanguageArgs,
    LinkViewSchema,
    ProgrammeQuerySchema,
    QuestionListSchema,
    ResultsSchema,
    SubmissionSchema,
    SurveySchema,
)
from shared.auth import current_principal, require_roles
from shared.errors import Conflict, DomainError, Invalid
from shared.http import etag
from shared.problems import Problem, problem_from_domain_error
from shared.web import ApiBlueprint, service_context

blp = ApiBlueprint(
    "surveys", __name__, url_prefix="/v1", description="Participant surveys and their results"
)

# The results as CSV (Accept: text/csv), beside the JSON of the response schema.
_CSV = {"type": "string", "description": "One row per question and answer"}

CSV_COLUMNS = ("section", "group", "question_id", "question", "option", "count", "share", "text")
_survey = SurveySchema()
_view = LinkViewSchema()
_results = ResultsSchema()
_submission = SubmissionSchema()


def ctx() -> Context:
    return service_context()


def _language(requested: str | None = None) -> str:
    """``lang`` (query or form), else the browser's Accept-Language, else English."""
    requested = requested or request.args.get("lang") or request.form.get("lang")
    if not requested:
        requested = request.accept_languages.best_match(domain.LANGUAGES)
    return domain.language_of(requested)


def _prefers(mimetype: str) -> bool:
    """Whether the client asks for ``mimetype`` rather than JSON."""
    accept = request.accept_mimetypes
    return (
        accept.best_match(["application/json", mimetype]) == mimetype
        and accept[mimetype] > accept["application/json"]
    )


# --- the question bank ------------------------------------------------------------


@blp.route("/survey-questions", methods=["GET"])
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, QuestionListSchema)
def list_questions(args: dict[str, Any]) -> dict[str, Any]:
    """The standard questions every event's survey starts from, in ``lang``."""
    language = _language(args.get("lang"))
    return {"language": language, "items": [domain.present(q, language) for q in domain.BANK]}


# --- an event's survey (secretariat) --------------------------------------------------


def _survey_response(survey: dict[str, Any], status: int = 200) -> Response:
    language = _language()
    questions = domain.survey_questions(survey["questions"])
    body = {
        **survey,
        "event_id": survey["id"],
        "questions": [domain.present(q, language) for q in questions],
    }
    response = jsonify(_survey.dump(body))
    response.status_code = status
    response.headers["ETag"] = etag(survey["version"])
    return response


@blp.route("/events/<event_id>/survey", methods=["GET"])
@require_roles("secretariat")
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, SurveySchema)
def get_survey(args: dict[str, Any], event_id: str) -> Response:
    """The event's survey: status, dates, counts and questions (secretariat)."""
    survey = ctx().store.get_survey(event_id)
    if survey is None:
        raise Problem(404, f"The event {event_id} has no survey.")
    return _survey_response(survey)


@blp.route("/events/<event_id>/survey/questions", methods=["PUT"])
@require_roles("secretariat")
@blp.arguments(EventQuestionsSchema)
@blp.response(200, SurveySchema)
def set_questions(args: dict[str, Any], event_id: str) -> Response:
    """Add up to ten event questions after the bank's, before the survey opens
    (secretariat); the list replaces the previous one."""
    return _survey_response(operations.set_questions(ctx(), event_id, args["questions"]))


@blp.route("/events/<event_id>/survey/open", methods=["POST"])
@require_roles("secretariat")
@blp.response(200, SurveySchema)
def open_survey(event_id: str) -> Response:
    """Open the survey of a completed event by hand (secretariat); it opens by
    itself when the event is completed."""
    return _survey_response(operations.open_by_hand(ctx(), event_id))


@blp.route("/events/<event_id>/survey/close", methods=["POST"])
@require_roles("secretariat")
@blp.response(200, SurveySchema)
def close_survey(event_id: str) -> Response:
    """Close the survey now (secretariat); it closes by itself after the open days."""
    return _survey_response(operations.close_by_hand(ctx(), event_id))


# --- results ------------------------------------------------------------------------


def _readable(event_id: str) -> dict[str, Any]:
    """The survey if the caller may read its results: the secretariat always, anyone
    once published; otherwise 404 (whether there is one stays private)."""
    survey = ctx().store.get_survey(event_id)
    readable = survey is not None and survey["status"] != "draft"
    if readable and not (survey["published"] or current_principal().is_secretariat):
        readable = False
    if not readable:
        raise Problem(404, f"There are no survey results of event {event_id}.")
    assert survey is not None
    if survey["status"] == "open":
        # Results that change with each answer would give that answer away as the
        # difference between two readings; GET .../survey has the counts meanwhile.
        raise Conflict(
            "The survey is open: its results are shown once it closes.",
            slug="survey-open",
            current_status="open",
        )
    return survey


def _event_results(survey: dict[str, Any], language: str) -> dict[str, Any]:
    store = ctx().store
    event = store.get_event(survey["id"]) or {}
    figures = domain.results(
        domain.survey_questions(survey["questions"]),
        store.responses_of([survey["id"]]),
        survey["invited"],
        ctx().settings.min_group,
        language,
    )
    return {
        "event_id": survey["id"],
        "title": event.get("title", ""),
        "status": survey["status"],
        "published": survey["published"],
        "language": language,
        "min_group": ctx().settings.min_group,
        **figures,
    }


def _spreadsheet_safe(text: str) -> str:
    """A free text as a CSV cell that a spreadsheet does not run as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(body: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["summary", "", "", "responses", "", body["responses"], "", ""],
        ["summary", "", "", "invited", "", body["invited"], "", ""],
        ["summary", "", "", "response_rate", "", "", body["response_rate"], ""],
    ]
    texts = {q["id"]: q["text"] for q in body["questions"]}

    def figures(section: str, group: str, qid: str, figs: dict[str, Any]) -> None:
        answered = figs["answered"]
        for option, count in (figs.get("distribution") or {}).items():
            rows.append(
                [section, group, qid, texts[qid], option, count, domain.share(count, answered), ""]
            )
        if "agree_share" in figs:
            rows.append([section, group, qid, texts[qid], "agree", "", figs["agree_share"], ""])

    for question in body["questions"]:
        if question["type"] == "text":
            for text in question["answers"]:
                rows.append(["text", "", question["id"], question["text"], "", "", "", text])
        else:
            figures("overall", "", question["id"], question)
    for by, groups in body["breakdowns"].items():
        for group, shown in groups.items():
            if shown.get("suppressed"):
                rows.append([by, group, "", "", "suppressed", "", "", ""])
                continue
            rows.append([by, group, "", "responses", "", shown["responses"], "", ""])
            for qid, figs in shown["questions"].items():
                figures(by, group, qid, figs)
    return [[_spreadsheet_safe(c) if isinstance(c, str) else c for c in row] for row in rows]


def _answer(body: dict[str, Any], filename: str) -> Response:
    if not _prefers("text/csv"):
        return jsonify(_results.dump(body))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_rows(body))
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _svg(body: dict[str, Any], title: str, filename: str) -> Response:
    language = body["language"]
    statements = [q for q in body["questions"] if q["type"] == "agreement"]
    svg = charts.agreement_svg(
        statements,
        title=title,
        subtitle=charts.counts_line(body["responses"], body["invited"], language),
        language=language,
    )
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}.svg"'
    return response


@blp.route("/events/<event_id>/survey/results", methods=["GET"])
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, ResultsSchema)
@blp.alt_response(200, schema=_CSV, content_type="text/csv", success=True)
def event_results(args: dict[str, Any], event_id: str) -> Response:
    """The event's results, JSON or CSV (``Accept: text/csv``): the secretariat
    once the survey closed, anyone once published; while open 409 survey-open
    (results that moved with each answer would give it away)."""
    body = _event_results(_readable(event_id), _language(args.get("lang")))
    return _answer(body, f"survey-{event_id}")


@blp.route("/events/<event_id>/survey/results.svg", methods=["GET"])
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, {"type": "string"}, content_type="image/svg+xml")
def event_results_chart(args: dict[str, Any], event_id: str) -> Response:
    """The agreement statements as diverging stacked bars (SVG), for a report."""
    body = _event_results(_readable(event_id), _language(args.get("lang")))
    return _svg(body, body["title"] or event_id, f"survey-{event_id}")


@blp.route("/events/<event_id>/survey/results/publish", methods=["POST"])
@require_roles("secretariat")
@blp.response(200, SurveySchema)
def publish_results(event_id: str) -> Response:
    """Make a closed survey's results public (secretariat); announced on
    ``survey.results_published`` with the counts and agree shares."""
    survey = _readable(event_id)
    figures = _event_results(survey, domain.DEFAULT_LANGUAGE)
    return _survey_response(operations.publish_results(ctx(), event_id, figures))


def _programme_results(args: dict[str, Any]) -> dict[str, Any]:
    store = ctx().store
    language = _language(args.get("lang"))
    filters = {name: args[name] for name in domain.FILTERS if name in args}
    published = store.published_surveys()
    events = store.events_by_id([s["id"] for s in published])
    chosen = [s for s in published if domain.matches(events.get(s["id"]), filters)]
    by_event: dict[str, list[dict[str, Any]]] = {s["id"]: [] for s in chosen}
    for response in store.responses_of(list(by_event)):
        by_event[response["event_id"]].append(response)
    figures = domain.programme_results(
        list(domain.BANK),
        by_event,
        sum(s["invited"] for s in chosen),
        ctx().settings.min_group,
        language,
    )
    listed = [
        {
            "event_id": s["id"],
            "title": events[s["id"]].get("title"),
            "programme": events[s["id"]].get("programme"),
            "format": events[s["id"]].get("format"),
            "host_country": events[s["id"]].get("host_country"),
            "year": domain.event_year(events[s["id"]]),
            "invited": s["invited"],
            "responses": s["responses"],
        }
        for s in chosen
    ]
    return {
        "filters": filters,
        "language": language,
        "min_group": ctx().settings.min_group,
        "events": listed,
        **figures,
    }


@blp.route("/survey-results", methods=["GET"])
@blp.arguments(ProgrammeQuerySchema, location="query")
@blp.response(200, ResultsSchema)
@blp.alt_response(200, schema=_CSV, content_type="text/csv", success=True)
def programme_results(args: dict[str, Any]) -> Response:
    """The programme's figures over every published survey, filtered by
    ``programme``, ``format``, ``year`` and ``host_country``: the standard
    questions pooled over all their responses. JSON or CSV."""
    return _answer(_programme_results(args), "survey-results")


@blp.route("/survey-results.svg", methods=["GET"])
@blp.arguments(ProgrammeQuerySchema, location="query")
@blp.response(200, {"type": "string"}, content_type="image/svg+xml")
def programme_results_chart(args: dict[str, Any]) -> Response:
    """The programme's agreement statements as diverging stacked bars (SVG)."""
    body = _programme_results(args)
    scope = ", ".join(str(v) for v in body["filters"].values())
    return _svg(body, f"MLP participant survey{f' · {scope}' if scope else ''}", "survey-results")


# --- the participant's link -----------------------------------------------------------


@blp.after_request
def _link_headers(response: Response) -> Response:
    if request.path.startswith("/v1/survey-responses/"):
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response


def _link_view(respondent: dict[str, Any], survey: dict[str, Any], lang: str) -> dict:
    event = ctx().store.get_event(survey["id"]) or {}
    answered = bool(respondent.get("answered"))
    return {
        "event": {**event, "id": survey["id"]},
        "status": survey["status"],
        "language": lang,
        "closes_at": survey.get("closes_at"),
        "answered": answered,
        "can_answer": survey["status"] == "open" and not answered,
        "questions": [
            domain.present(q, lang) for q in domain.survey_questions(survey["questions"])
        ],
    }


def _link_response(view: dict[str, Any], status: int = 200) -> Response:
    if _prefers("text/html"):
        html = survey_page.render(view, language=view["language"])
        return Response(html, status=status, mimetype="text/html")
    response = jsonify(_view.dump(view))
    response.status_code = status
    return response


def _html_refusal(refusal: Problem | DomainError, view: dict | None, values: dict) -> Response:
    problem = refusal if isinstance(refusal, Problem) else problem_from_domain_error(refusal)
    html = survey_page.render(
        view,
        language=_language(),
        message=problem.detail,
        error=True,
        errors=problem.extensions.get("errors") if view else None,
        values=values,
    )
    return Response(html, status=problem.status, mimetype="text/html")


@blp.route("/survey-responses/<token>", methods=["GET"])
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, LinkViewSchema)
def show_link(args: dict[str, Any], token: str) -> Response:
    """The survey in the participant's language (``lang``, else Accept-Language);
    never changes anything (mail scanners prefetch links). HTML when the client
    prefers text/html. Unknown 404; replaced, withdrawn or closed 410."""
    try:
        respondent, survey = operations.link(ctx(), token)
    except DomainError as refusal:
        if _prefers("text/html"):
            return _html_refusal(refusal, None, {})
        raise
    return _link_response(_link_view(respondent, survey, _language(args.get("lang"))))


def _posted_answers(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return survey_page.form_answers(questions, request.form)
    body = request.get_json(silent=True)
    if body is None:
        raise Problem(400, "The request body is not valid JSON.")
    try:
        return _submission.load(body)["answers"]
    except ValidationError as exc:
        raise Problem(422, "The request body is not valid.", errors=exc.messages) from exc


@blp.route("/survey-responses/<token>", methods=["POST"])
@blp.response(201, LinkViewSchema)
@blp.doc(
    requestBody={
        "content": {
            "application/json": {"schema": SubmissionSchema},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        }
    }
)
def submit(token: str) -> Response:
    """Submit the answers once (``{"answers": [{"question_id", "value"}]}``, or the
    HTML form): 201; a second submission 409, after closing 410, unknown 404,
    an invalid answer 422 with nothing stored."""
    view = None
    values: dict[str, Any] = {}
    language = _language()
    try:
        respondent, survey = operations.link(ctx(), token)
        view = _link_view(respondent, survey, language)
        answers = _posted_answers(domain.survey_questions(survey["questions"]))
        values = {a["question_id"]: a["value"] for a in answers}
        operations.submit(ctx(), token, answers, language)
        view = {**view, "answered": True, "can_answer": False}
    except (Problem, DomainError) as refusal:
        if _prefers("text/html"):
            shown = view if isinstance(refusal, Invalid | Problem) else None
            return _html_refusal(refusal, shown, values)
        raise
    return _link_response(view, 201)

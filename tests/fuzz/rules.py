"""What the fuzzer cannot know from the documents: the services' rules that no
JSON Schema states (one field against another, the state a request meets, a
file's bytes, a webhook host's addresses), each stated in words in its
operation's description.

- :func:`rules`: a failure such a rule explains is dropped, and only that one:
  a schema-valid request refused for anything else is the document disagreeing
  with the service, and still fails the run.
- :func:`adaptations`: valid examples made to keep a rule the test environment
  can satisfy, so that what follows (a paper to review, a subscription to delete)
  is exercised too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from marshmallow import Schema, ValidationError
from schemathesis import Case, Response
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.generation.meta import ComponentInfo
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.schemas import BaseSchema
from schemathesis.transport.serialization import Binary

# Does this answer to this case come from the operation's rules alone?
Rule = Callable[[Case, Response], bool]
REFUSED = RejectedPositiveData.code  # ST202: a schema-valid request refused
TAKEN = AcceptedNegativeData.code  # ST201: a schema-violating request accepted


def _body(response: Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem(status: int, slug: str) -> Rule:
    """The refusal is the problem ``slug``: a rule with a type of its own."""
    return lambda _case, response: (
        response.status_code == status and _body(response).get("type") == f"/problems/{slug}"
    )


def _any(*rules: Rule) -> Rule:
    return lambda case, response: any(rule(case, response) for rule in rules)


def _fields_load(schema: Schema) -> Rule:
    """A 422 for a body whose every field ``schema`` (the operation's body schema
    less its cross-field rules) loads: only those rules refused it."""

    def rule(case: Case, response: Response) -> bool:
        if response.status_code != 422 or not isinstance(case.body, dict):
            return False
        try:
            schema.load(case.body)
        except ValidationError:
            return False
        return True

    return rule


def _partial_reports(case: Case, response: Response) -> bool:
    """With ``?partial=true`` the rows the schema calls invalid are reported in
    ``rejected`` rather than refused: what ``partial`` says."""
    query = case.query if isinstance(case.query, dict) else {}
    partial = query.get("partial") in (True, "true")
    return partial and response.status_code in (200, 201) and bool(_body(response).get("rejected"))


def rules(service: str) -> dict[str, dict[str, Rule]]:
    """``service``'s rules: operation -> failure code -> :data:`Rule`."""
    if service == "events":
        from shared.payloads.events import EventFieldsSchema

        # the host not a guest, the end not before the start, registration closing
        # before the start (of the event as it would be after a PATCH)
        return {
            "POST /v1/events": {REFUSED: _fields_load(EventFieldsSchema())},
            "PATCH /v1/events/{event_id}": {REFUSED: _fields_load(EventFieldsSchema(partial=True))},
        }
    if service == "invitations":
        return {
            "POST /v1/events/{event_id}/invitations": {
                # a CSV body or upload whose text is not a CSV of invitees
                REFUSED: _problem(422, "malformed-csv"),
                TAKEN: _partial_reports,
            }
        }
    if service == "documents":
        # a file whose bytes are none of the accepted types, whatever it claims
        paper = {REFUSED: _problem(415, "unsupported-media-type")}
        return {
            "POST /v1/events/{event_id}/documents": paper,
            "POST /v1/documents/{document_id}/versions": paper,
        }
    if service == "catalogue":
        from shared.payloads.catalogue import PracticeFieldsSchema

        # an event or paper id the catalogue has not heard of on its topics; the
        # end not before the start, an ended practice's end year, a list value
        # given twice in another case (of the practice as it would be)
        unknown = _problem(422, "unknown-reference")
        return {
            "POST /v1/practices": {REFUSED: _any(unknown, _fields_load(PracticeFieldsSchema()))},
            "PATCH /v1/practices/{practice_id}": {
                REFUSED: _any(unknown, _fields_load(PracticeFieldsSchema(partial=True)))
            },
            "POST /v1/practices/{practice_id}/transfers": {REFUSED: unknown},
        }
    if service == "surveys":
        from marshmallow import fields, validate

        from services.surveys.domain import MAX_EVENT_QUESTIONS
        from services.surveys.schemas import EventQuestionSchema

        class QuestionFields(EventQuestionSchema):
            def _options_of_choices(self, *_: Any, **__: Any) -> None:
                """Not a hook here: the one cross-field rule is left out."""

        questions = Schema.from_dict(
            {
                "questions": fields.List(
                    fields.Nested(QuestionFields),
                    required=True,
                    validate=validate.Length(max=MAX_EVENT_QUESTIONS),
                )
            }
        )
        # a choice question without its options
        return {"PUT /v1/events/{event_id}/survey/questions": {REFUSED: _fields_load(questions())}}
    if service == "notifications":
        # a webhook URL with credentials in it, or a host without public addresses
        return {"POST /v1/subscriptions": {REFUSED: _problem(422, "unsafe-target")}}
    return {}


def _as_loopback(url: Any) -> Any:
    """``url`` with its host replaced by loopback, when it has one."""
    try:
        parts = urlsplit(url)
        if not parts.hostname or parts.username is not None or parts.password is not None:
            return url
        port = f":{parts.port}" if parts.port is not None else ""
    except (TypeError, ValueError):
        return url
    return urlunsplit(parts._replace(netloc=f"127.0.0.1{port}"))


def adaptations(service: str) -> dict[str, dict[str, Callable[[Any], Any]]]:
    """``service``'s adaptations: operation -> body field -> what a valid value becomes."""
    if service == "documents":
        from tests.fixtures.documents import PDF_BYTES

        # a paper's bytes are sniffed: random ones are refused (415)
        paper = {"file": lambda _bytes: Binary(PDF_BYTES)}
        return {
            "POST /v1/events/{event_id}/documents": paper,
            "POST /v1/documents/{document_id}/versions": paper,
        }
    if service == "notifications":
        # a webhook host must resolve to public addresses; the tests' resolve to
        # nothing, and the test environment allows loopback
        return {"POST /v1/subscriptions": {"url": _as_loopback}}
    return {}


def _valid_at(case: Case, location: ParameterLocation) -> bool:
    """Whether ``case`` was generated valid at ``location``: a negative case may be
    valid everywhere but in one component (the coverage phase's are), and a hook
    that replaced that component would make it valid (and its acceptance a
    false ST201)."""
    meta = case.meta
    if meta is None:
        return False
    component = meta.components.get(location)
    if component is not None:
        return not component.mode.is_negative
    return meta.generation.mode.is_positive


def _still_valid(case: Case, location: ParameterLocation) -> None:
    """Keep ``case`` valid at ``location`` after an adaptation replaced a valid
    value there by another: schemathesis judges a replaced body holding a file
    invalid, as it cannot validate bytes (and would count its acceptance as
    ST201)."""
    meta = case.meta  # revalidates the replaced component now
    assert meta is not None
    meta.components[location] = ComponentInfo(mode=GenerationMode.POSITIVE)
    if all(component.mode.is_positive for component in meta.components.values()):
        meta.generation.mode = GenerationMode.POSITIVE


def install(schema: BaseSchema, service: str, seeded: dict[str, str]) -> None:
    """Give ``schema`` the hooks that apply :func:`rules` and :func:`adaptations`;
    a valid path parameter named in ``seeded`` names the seeded resource (an
    event the service knows from its topics)."""
    known = rules(service)
    adapted = adaptations(service)

    def filter_failure(_ctx: Any, failure: Failure, case: Case, response: Response) -> bool:
        rule = known.get(case.operation.label, {}).get(failure.code)
        return not (rule is not None and rule(case, response))

    def map_case(_ctx: Any, case: Case) -> Case:
        fields = adapted.get(case.operation.label)
        if _valid_at(case, ParameterLocation.PATH) and isinstance(case.path_parameters, dict):
            for name in seeded.keys() & case.path_parameters.keys():
                case.path_parameters[name] = seeded[name]
        if fields and _valid_at(case, ParameterLocation.BODY) and isinstance(case.body, dict):
            case.body = {
                name: fields[name](value) if name in fields else value
                for name, value in case.body.items()
            }
            _still_valid(case, ParameterLocation.BODY)
        return case

    schema.hook("filter_failure")(filter_failure)
    schema.hook("map_case")(map_case)
